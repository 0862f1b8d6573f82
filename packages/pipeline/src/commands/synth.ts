/** `fcn synth`: the data package's demo-data generator as an fcn sub-command. */
import { SYNTH_USAGE, synthMain } from '@facecoreset/data';
import type { Command } from '../command';

export const synthCommand: Command = {
  name: 'synth',
  summary: 'generate the demo data: RecordIO training set + IJB-style benchmark with quality ground truth',
  usage: SYNTH_USAGE,
  run: (argv) => synthMain(argv),
};
