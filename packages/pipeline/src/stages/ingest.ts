/** ingest-train and ingest-ijb: raw formats -> Parquet tables (packages/data). */
import * as path from 'node:path';
import { Progress } from '@facecoreset/common';
import { ingestIjb, ingestImageFolder, ingestRecordIO, type ProgressFactory } from '@facecoreset/data';
import { resolveWorkspacePath } from '../config';
import type { StageFn } from './context';

export const stageProgress: ProgressFactory = (label, total) => {
  const p = new Progress({ label, total, unit: 'records', secondary: { unit: 'MB/s', scale: 1e-6 } });
  return { tick: (records, bytes) => p.tick(records, bytes), finish: () => p.finish() };
};

/** The training images table lives in `<ingest-train>/images` (and identities beside it). */
export const TRAIN_TABLE_DIR = 'table';

export const ingestTrainStage: StageFn = async (ctx) => {
  const { format, path: input } = ctx.config.data.train;
  const out = path.join(ctx.outDir, TRAIN_TABLE_DIR);
  const opts = { input: resolveWorkspacePath(input), out, progress: stageProgress };
  const manifest = format === 'recordio' ? await ingestRecordIO(opts) : await ingestImageFolder(opts);
  ctx.track.params({ 'data.train.format': format, 'data.train.path': input });
  ctx.track.metrics({ images: Number(manifest.counts?.images ?? 0), identities: Number(manifest.counts?.identities ?? 0) });
  return { summary: { table: TRAIN_TABLE_DIR, counts: manifest.counts, sourceFingerprint: manifest.source } };
};

export const ingestIjbStage: StageFn = async (ctx) => {
  const ijb = ctx.config.data.ijb;
  const counts: Record<string, unknown> = {};
  for (const dataset of ijb.datasets) {
    const pickle = ijb.featuresPickle?.[dataset];
    const manifest = await ingestIjb({
      root: resolveWorkspacePath(ijb.root),
      dataset,
      featuresPickle: pickle ? resolveWorkspacePath(pickle) : undefined,
      align: ijb.align && !pickle,
      out: path.join(ctx.outDir, dataset),
      progress: stageProgress,
    });
    counts[dataset] = manifest.counts;
    for (const [k, v] of Object.entries(manifest.counts ?? {})) if (typeof v === 'number') ctx.track.metrics({ [`${dataset}.${k}`]: v });
  }
  ctx.track.params({ 'data.ijb.root': ijb.root, 'data.ijb.datasets': ijb.datasets.join(',') });
  return { summary: { datasets: ijb.datasets, counts } };
};
