/** `fcn train aggregator` and `fcn train backbone`: the train package's CLI as fcn sub-commands. */
import { TRAIN_AGGREGATOR_USAGE, TRAIN_BACKBONE_USAGE, trainAggregatorCli, trainBackboneCli } from '@facecoreset/train';
import type { Command } from '../command';

export function trainCommands(): Command[] {
  return [
    {
      name: 'train aggregator',
      summary: 'train FaceCoresetNet on a features table (checkpoints, --resume, held-out validation)',
      usage: TRAIN_AGGREGATOR_USAGE,
      run: (argv) => trainAggregatorCli(argv),
    },
    {
      name: 'train backbone',
      summary: 'train an IResNet with the AdaFace head on an images table (checkpoints, --resume)',
      usage: TRAIN_BACKBONE_USAGE,
      run: (argv) => trainBackboneCli(argv),
    },
  ];
}
