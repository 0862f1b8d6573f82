/** Stage name -> implementation. Shard stages share one implementation. */
import type { StageFn } from './context';
import { ingestTrainStage, ingestIjbStage } from './ingest';
import { backboneStage } from './backbone';
import { extractTrainShardStage, extractTrainMergeStage, extractIjbStage } from './extract';
import { trainStage } from './train';
import { evalStage } from './eval';
import { reportStage } from './report';

export const stageFunctions: Record<string, StageFn> = {
  'ingest-train': ingestTrainStage,
  'ingest-ijb': ingestIjbStage,
  backbone: backboneStage,
  'extract-train-shard': extractTrainShardStage,
  'extract-train': extractTrainMergeStage,
  'extract-ijb': extractIjbStage,
  train: trainStage,
  eval: evalStage,
  report: reportStage,
};
