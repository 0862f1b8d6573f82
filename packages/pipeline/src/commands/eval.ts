import { EVAL_IJB_USAGE, evalIjbCli } from '@facecoreset/eval';
import type { Command } from '../command';

/** `fcn eval ijb`: IJB-B/C verification and identification (the eval package's CLI). */
export function evalCommands(): Command[] {
  return [
    {
      name: 'eval ijb',
      summary: 'IJB-B/C 1:1 verification (TAR@FAR, ROC) and 1:N identification; results.json, plots, report',
      usage: EVAL_IJB_USAGE,
      run: (argv) => evalIjbCli(argv),
    },
  ];
}
