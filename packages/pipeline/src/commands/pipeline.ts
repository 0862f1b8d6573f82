import { parseArgs } from 'node:util';
import { UsageError } from '@facecoreset/common';
import type { Command } from '../command';
import { runFinish } from '../stages/finish';

export const pipelineCommand: Command = {
  name: 'pipeline finish',
  summary: 'close the pipeline run and print the final table (the last step of nx run pipeline:full)',
  usage: 'Usage: fcn pipeline finish [--experiment <name>]\n\nLinks stage runs to the pipeline run in MLflow, closes it, and prints the TAR@FAR table.',
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { experiment: { type: 'string' } } });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (values.experiment) process.env.FCN_EXPERIMENT = values.experiment;
    await runFinish();
    return 0;
  },
};
