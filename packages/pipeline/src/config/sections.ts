/**
 * The sections that stage packages validate with their own schemas (train, backbone.options,
 * data.synth.options), checked up front so that a typo fails before any stage runs, with one
 * message that lists every problem.
 */
import { InputError } from '@facecoreset/common';
import { resolveSynthOptions } from '@facecoreset/data';
import { parseAggregatorTrainConfig, parseBackboneTrainConfig } from '@facecoreset/train';
import type { ExperimentConfig } from './schema';

export function validateStageSections(config: ExperimentConfig, file: string): void {
  const problems: string[] = [];
  const check = (section: string, f: () => unknown) => {
    try {
      f();
    } catch (e) {
      const msg = e instanceof InputError ? e.message.replace(/^[^:]*: ?/, '') : (e as Error).message;
      problems.push(`${section}: ${msg}`);
    }
  };
  check('train', () => parseAggregatorTrainConfig(config.train));
  if (config.backbone.mode === 'train') {
    const options = config.backbone.options;
    check('backbone.options', () => parseBackboneTrainConfig(options));
  }
  if (config.data.synth) {
    const synth = config.data.synth;
    check('data.synth.options', () => resolveSynthOptions({ ...synth.options, seed: synth.seed }));
  }
  if (problems.length) throw new InputError(`invalid experiment config: ${problems.join('; ')}`, file);
}
