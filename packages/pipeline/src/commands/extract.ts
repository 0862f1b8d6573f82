/** `fcn extract` and `fcn extract merge`: the extract package's CLI as fcn sub-commands. */
import { EXTRACT_USAGE, MERGE_USAGE, extractMain, extractMergeMain } from '@facecoreset/extract';
import type { Command } from '../command';

export function extractCommands(): Command[] {
  return [
    { name: 'extract', summary: 'backbone features of an images/aligned table -> features Parquet (views, shards, resumable)', usage: EXTRACT_USAGE, run: (argv) => extractMain(argv) },
    { name: 'extract merge', summary: 'join shard folders of fcn extract into one features table', usage: MERGE_USAGE, run: (argv) => extractMergeMain(argv) },
  ];
}
