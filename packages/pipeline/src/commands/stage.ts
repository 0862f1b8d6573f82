import { parseArgs } from 'node:util';
import { UsageError } from '@facecoreset/common';
import type { Command } from '../command';
import { runStage } from '../stages/run';
import { runPrepare } from '../stages/prepare';

export const stageCommand: Command = {
  name: 'stage',
  summary: 'run one pipeline stage (what the Nx targets call)',
  usage: [
    'Usage: fcn stage <name> [--experiment <name>]',
    '',
    'Runs one stage of the experiment selected by FCN_EXPERIMENT (default demo) and writes',
    'artifacts/<experiment>/<stage>. Normally started by Nx: nx run pipeline:<stage>.',
    'Stages: prepare, ingest-train, ingest-ijb, backbone, extract-train-shard-<i>, extract-train,',
    'extract-ijb, train, eval, report.',
  ].join('\n'),
  async run(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { experiment: { type: 'string' } } });
    if (positionals.length !== 1) throw new UsageError('expected exactly one stage name (fcn stage --help)');
    if (values.experiment) process.env.FCN_EXPERIMENT = values.experiment;
    if (positionals[0] === 'prepare') await runPrepare();
    else await runStage(positionals[0]);
    return 0;
  },
};
