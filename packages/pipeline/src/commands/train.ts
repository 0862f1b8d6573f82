/** `fcn train aggregator`: the train package's CLI as an fcn sub-command. */
import { TRAIN_AGGREGATOR_USAGE, trainAggregatorCli } from '@facecoreset/train';
import type { Command } from '../command';

export function trainCommands(): Command[] {
  return [
    {
      name: 'train aggregator',
      summary: 'train FaceCoresetNet on a features table (checkpoints, --resume, held-out validation)',
      usage: TRAIN_AGGREGATOR_USAGE,
      run: (argv) => trainAggregatorCli(argv),
    },
  ];
}
