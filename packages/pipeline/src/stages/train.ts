/** train: FaceCoresetNet on the extracted training features (packages/train). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runAggregatorTraining } from '@facecoreset/train';
import type { StageFn } from './context';
import { FEATURES_DIR } from './extract';
import { TRAIN_TABLE_DIR } from './ingest';
import { linkTree, workDir } from './workdir';

export const AGGREGATOR_CHECKPOINT = 'aggregator.safetensors';

export const trainStage: StageFn = async (ctx) => {
  const upstream = JSON.parse(fs.readFileSync(path.join(ctx.upstream('extract-train'), 'manifest.json'), 'utf8')).finishedAt as string;
  // Checkpoints accumulate in a work folder keyed by the features it trains on: a killed run resumes.
  const work = workDir(ctx.experiment, ctx.stage, upstream.replace(/[^0-9]/g, ''));
  const summary = await runAggregatorTraining({
    features: path.join(ctx.upstream('extract-train'), FEATURES_DIR),
    images: path.join(ctx.upstream('ingest-train'), TRAIN_TABLE_DIR),
    config: ctx.config.train,
    out: work,
    resume: true,
    backend: process.env.FCN_BACKEND || undefined,
    log: ctx.log,
    onMetrics: (step, metrics) => ctx.track.metrics(metrics, step),
  });
  // The model alone (best held-out validation checkpoint, else the latest), in the model package's format.
  linkTree(path.join(work, AGGREGATOR_CHECKPOINT), path.join(ctx.outDir, AGGREGATOR_CHECKPOINT));
  linkTree(work, path.join(ctx.outDir, 'training'));
  fs.rmSync(work, { recursive: true, force: true });
  ctx.track.params({ train: summary.config });
  if (summary.best) ctx.track.metrics({ best_validation: summary.best.value });
  if (summary.baselines) ctx.track.metrics({ val_baseline_mean: summary.baselines.mean, val_baseline_norm_weighted: summary.baselines.normWeighted });
  ctx.track.artifact('training/metrics.jsonl');
  return { summary: { steps: summary.position.step, epochs: summary.position.epoch, best: summary.best, baselines: summary.baselines, classes: summary.classes } };
};
