/**
 * The train stage's command line: `fcn train aggregator` and `fcn train backbone`.
 * Functions take argv and return exit codes; the pipeline package wraps them as `fcn` commands.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '@facecoreset/common';
import { runAggregatorTraining, type RunAggregatorTrainingOptions } from './run-aggregator';
import { runBackboneTraining, type RunBackboneTrainingOptions } from './run-backbone';
import { describeSpearman } from './lib/backbone/train-backbone';

export const TRAIN_AGGREGATOR_USAGE = `Usage: fcn train aggregator --features <table> --images <table> --out <dir> [--config <json>] [--resume]
                           [--backend node-gpu|node|wasm|cpu] [--max-steps N]

Trains the FaceCoresetNet aggregator (with the AdaFace head) on pre-extracted feature views.

  --features <table>  features table (row, view, embedding, norm): its folder or the folder holding features/
  --images <table>    images table whose label column names each row's identity
  --out <dir>         run folder: checkpoints/, best.safetensors, metrics.jsonl, config.json, summary.json
  --config <json>     training settings (bare, or the "train" section of an experiment config);
                      default: the paper's (batch 20 sets, T ~ U{1..20}, lr 1e-4, 150 epochs x 10%, ...)
  --resume            continue from the latest checkpoint in --out (its settings and architecture;
                      --config may then change only epochs and checkpoint.*)
  --backend <name>    compute backend (default: FCN_BACKEND, then the best available)
  --max-steps <N>     stop after N steps in total, checkpointed (continue later with --resume)

Checkpoints are written at every epoch end and every checkpoint.every_steps steps; the last
checkpoint.keep_last are kept, plus best.safetensors by the held-out verification TAR.`;

function parseMaxSteps(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--max-steps: expected a non-negative integer, got '${text}'`);
  return n;
}

/** Parses `fcn train aggregator` arguments into run options. */
export function parseTrainAggregatorArgs(argv: string[]): RunAggregatorTrainingOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        features: { type: 'string' },
        images: { type: 'string' },
        out: { type: 'string' },
        config: { type: 'string' },
        resume: { type: 'boolean', default: false },
        backend: { type: 'string' },
        'max-steps': { type: 'string' },
      },
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${TRAIN_AGGREGATOR_USAGE}`);
  }
  for (const flag of ['features', 'images', 'out'] as const) if (!values[flag]) throw new UsageError(`missing --${flag}\n\n${TRAIN_AGGREGATOR_USAGE}`);
  return { features: values.features!, images: values.images!, out: values.out!, configFile: values.config, resume: values.resume, backend: values.backend, maxSteps: parseMaxSteps(values['max-steps']) };
}

/** `fcn train aggregator`: returns the exit code (errors propagate to the caller's top-level catch). */
export async function trainAggregatorCli(argv: string[], extra: Partial<RunAggregatorTrainingOptions> = {}): Promise<number> {
  const opts = parseTrainAggregatorArgs(argv);
  const summary = await runAggregatorTraining({ ...opts, ...extra });
  const best = summary.best ? `; best ${summary.best.metric} = ${summary.best.value.toFixed(4)} at step ${summary.best.step}` : '';
  const base = summary.baselines ? ` (mean ${summary.baselines.mean.toFixed(4)}, norm-weighted ${summary.baselines.normWeighted.toFixed(4)})` : '';
  (extra.log ?? ((l: string) => process.stderr.write(l + '\n')))(`${summary.finished ? 'finished' : 'stopped'} at step ${summary.position.step} (epoch ${summary.position.epoch})${best}${base}`);
  return 0;
}

export const TRAIN_BACKBONE_USAGE = `Usage: fcn train backbone --images <table> --out <dir> [--config <json>] [--resume] [--quality <csv>]
                         [--backend node-gpu|node|wasm|cpu] [--max-steps N]

Trains an IResNet with the AdaFace head on an images table (BGR, (x/255 - 0.5)/0.5, random flip).

  --images <table>    images table (image_id, label, identity, image, source): its folder or the folder holding images/
  --out <dir>         run folder: checkpoints/, best.safetensors, metrics.jsonl, config.json, summary.json,
                      backbone.safetensors (the network alone, for fcn extract)
  --config <json>     settings (bare, or an experiment config's backbone.options); default: AdaFace's recipe
                      with an IR-18 (SGD lr 0.1, momentum 0.9, wd 5e-4, 26 epochs, milestones 12/20/24)
  --resume            continue from the latest checkpoint in --out
  --quality <csv>     image_id,quality,... ground truth (e.g. the demo data's ground_truth/train_images.csv):
                      validation also reports the Spearman correlation of feature norms with quality
  --backend <name>    compute backend (default: FCN_BACKEND, then the best available)
  --max-steps <N>     stop after N steps in total, checkpointed (continue later with --resume)`;

/** Parses `fcn train backbone` arguments into run options. */
export function parseTrainBackboneArgs(argv: string[]): RunBackboneTrainingOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        images: { type: 'string' },
        out: { type: 'string' },
        config: { type: 'string' },
        resume: { type: 'boolean', default: false },
        quality: { type: 'string' },
        backend: { type: 'string' },
        'max-steps': { type: 'string' },
      },
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${TRAIN_BACKBONE_USAGE}`);
  }
  for (const flag of ['images', 'out'] as const) if (!values[flag]) throw new UsageError(`missing --${flag}\n\n${TRAIN_BACKBONE_USAGE}`);
  return { images: values.images!, out: values.out!, configFile: values.config, resume: values.resume, qualityFile: values.quality, backend: values.backend, maxSteps: parseMaxSteps(values['max-steps']) };
}

/** `fcn train backbone`: returns the exit code. */
export async function trainBackboneCli(argv: string[], extra: Partial<RunBackboneTrainingOptions> = {}): Promise<number> {
  const { summary, exportPath } = await runBackboneTraining({ ...parseTrainBackboneArgs(argv), ...extra });
  const v = summary.lastValidation;
  const text = v ? `; ${v.metric} ${v.tar.toFixed(4)} (random weights ${summary.randomBaseline?.toFixed(4) ?? 'n/a'})${v.extra?.norm_quality_spearman !== undefined ? `, norm-quality Spearman ${describeSpearman(v.extra)}` : ''}` : '';
  (extra.log ?? ((l: string) => process.stderr.write(l + '\n')))(`${summary.finished ? 'finished' : 'stopped'} at step ${summary.position.step}${text}; model: ${exportPath}`);
  return 0;
}
