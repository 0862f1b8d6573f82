/** extract-train-shard-<i>, extract-train (merge) and extract-ijb: backbone features (packages/extract). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Progress } from '@facecoreset/common';
import { mergeFeatureShards, runExtraction, type RunReporter } from '@facecoreset/extract';
import type { StageContext, StageFn } from './context';
import { BACKBONE_CHECKPOINT } from './backbone';
import { TRAIN_TABLE_DIR } from './ingest';
import { linkTree, workDir } from './workdir';

export const FEATURES_DIR = 'features';

function reporter(ctx: StageContext): RunReporter {
  return {
    log: ctx.log,
    progress: (label, total) => {
      const p = new Progress({ label, total, unit: 'images' });
      return { tick: (n) => p.tick(n), finish: () => p.finish() };
    },
  };
}

async function extractInto(ctx: StageContext, args: { images: string; views: string; shard?: { index: number; count: number }; workKey: string }) {
  const e = ctx.config.extract;
  // Part files accumulate in a work folder so a killed run resumes; the output links to them.
  const work = workDir(ctx.experiment, ctx.stage, args.workKey);
  const result = await runExtraction({
    images: args.images,
    checkpoint: path.join(ctx.upstream('backbone'), BACKBONE_CHECKPOINT),
    out: work,
    views: args.views,
    shard: args.shard,
    batchSize: e.batchSize,
    seed: e.seed,
    backend: process.env.FCN_BACKEND || undefined,
    reporter: reporter(ctx),
  });
  linkTree(work, path.join(ctx.outDir, FEATURES_DIR));
  fs.rmSync(work, { recursive: true, force: true });
  if (result.seconds > 0) ctx.track.metrics({ images_per_second: result.images / result.seconds });
  ctx.track.metrics({ images: result.images, parts_kept: result.keptParts, parts_computed: result.computedParts });
  return result;
}

function upstreamKey(ctx: StageContext): string {
  // The work folder must change when the backbone or the input table changes.
  const m = (s: string) => JSON.parse(fs.readFileSync(path.join(ctx.upstream(s), 'manifest.json'), 'utf8')).finishedAt as string;
  return `${m('ingest-train')}-${m('backbone')}`.replace(/[^0-9A-Za-z]/g, '');
}

export const extractTrainShardStage: StageFn = async (ctx) => {
  const index = Number(/(\d+)$/.exec(ctx.stage)![1]);
  const count = ctx.config.extract.shards;
  const r = await extractInto(ctx, {
    images: path.join(ctx.upstream('ingest-train'), TRAIN_TABLE_DIR),
    views: ctx.config.extract.trainViews,
    shard: { index, count },
    workKey: upstreamKey(ctx),
  });
  return { summary: { shard: `${index}/${count}`, images: r.images, keptParts: r.keptParts, computedParts: r.computedParts } };
};

export const extractTrainMergeStage: StageFn = async (ctx) => {
  const shards = Array.from({ length: ctx.config.extract.shards }, (_, i) => path.join(ctx.upstream(`extract-train-shard-${i}`), FEATURES_DIR));
  const merged = await mergeFeatureShards(path.join(ctx.outDir, FEATURES_DIR), shards);
  ctx.track.metrics({ feature_records: merged.records });
  return { summary: { shards: shards.length, records: merged.records, images: merged.images, linked: merged.linked, copied: merged.copied } };
};

export const extractIjbStage: StageFn = async (ctx) => {
  const ijb = ctx.config.data.ijb;
  const counts: Record<string, unknown> = {};
  for (const dataset of ijb.datasets) {
    if (ijb.featuresPickle?.[dataset]) {
      ctx.log(`${dataset}: official pre-extracted features (ingested from the pickle); nothing to extract`);
      counts[dataset] = 'pickle';
      continue;
    }
    const work = workDir(ctx.experiment, ctx.stage, `${dataset}-${upstreamKey(ctx)}`);
    const r = await runExtraction({
      images: path.join(ctx.upstream('ingest-ijb'), dataset),
      checkpoint: path.join(ctx.upstream('backbone'), BACKBONE_CHECKPOINT),
      out: work,
      views: ctx.config.extract.ijbViews,
      batchSize: ctx.config.extract.batchSize,
      seed: ctx.config.extract.seed,
      backend: process.env.FCN_BACKEND || undefined,
      reporter: reporter(ctx),
    });
    linkTree(work, path.join(ctx.outDir, dataset, FEATURES_DIR));
    fs.rmSync(work, { recursive: true, force: true });
    counts[dataset] = { images: r.images };
  }
  return { summary: { counts } };
};
