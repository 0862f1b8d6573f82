/**
 * Stage name -> implementation, loaded on first use: a stage process pulls in only the packages
 * it runs (a cached pipeline run starts `prepare` and `finish` only, and they must start fast).
 */
import type { StageFn } from './context';

/* eslint-disable @typescript-eslint/no-require-imports */
const loaders: Record<string, () => StageFn> = {
  'ingest-train': () => require('./ingest').ingestTrainStage,
  'ingest-ijb': () => require('./ingest').ingestIjbStage,
  backbone: () => require('./backbone').backboneStage,
  'extract-train-shard': () => require('./extract').extractTrainShardStage,
  'extract-train': () => require('./extract').extractTrainMergeStage,
  'extract-ijb': () => require('./extract').extractIjbStage,
  train: () => require('./train').trainStage,
  eval: () => require('./eval').evalStage,
  report: () => require('./report').reportStage,
};
/* eslint-enable @typescript-eslint/no-require-imports */

export function stageFunction(name: string): StageFn | undefined {
  return loaders[name]?.();
}
