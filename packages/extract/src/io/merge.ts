/**
 * Shards become one features table by listing part files: the merged folder's `features/` holds
 * every shard's parts (hard links, so no data is copied; a copy only across filesystems), checked
 * to cover every chunk of the input exactly once, and `manifest.json` is written last.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, writeFileAtomic, writeJsonAtomic } from '@facecoreset/common';
import { buildManifest, featuresTable, type DataManifest } from '@facecoreset/data';
import { chunkPartName, missingChunks, planChunks, type Chunk } from '../lib/plan';
import { FEATURES_DIR, listPartNames, parquetRowCount } from './features-parts';
import { adoptRunPlan, readRunPlan, requireSamePlan, RUN_PLAN_FILE, type RunPlan } from './run-plan';

export const MANIFEST_FILE = 'manifest.json';

export interface FeaturesTableSummary {
  /** Feature records (input rows x views). */
  records: number;
  images: number;
  parts: number;
  bytes: number;
}

function describeMissing(missing: readonly Chunk[]): string {
  const shown = missing.slice(0, 3).map((c) => `rows ${c.start}-${c.end - 1} (${chunkPartName(c)})`);
  return `${missing.length} part(s) missing: ${shown.join(', ')}${missing.length > 3 ? ', ...' : ''}`;
}

/**
 * Checks `dir/features/` holds one complete part per chunk (row counts from the footers) and
 * writes `dir/manifest.json`.
 * @throws InputError naming the missing rows or the part with a wrong row count.
 */
export async function finishFeaturesTable(dir: string, plan: RunPlan): Promise<{ manifest: DataManifest; summary: FeaturesTableSummary }> {
  const featuresDir = path.join(dir, FEATURES_DIR);
  const chunks = planChunks(plan.input.rows, plan.partRows);
  const names = listPartNames(featuresDir);
  const missing = missingChunks(chunks, names, featuresDir);
  if (missing.length > 0) throw new InputError(`features table is incomplete: ${describeMissing(missing)}; run the missing shards (fcn extract --shard i/n) first`, featuresDir);
  let bytes = 0;
  for (const chunk of chunks) {
    const file = path.join(featuresDir, chunkPartName(chunk));
    const expected = (chunk.end - chunk.start) * plan.views.length;
    const rows = await parquetRowCount(file);
    if (rows !== expected) throw new InputError(`part holds ${rows} records, expected ${expected} (rows ${chunk.start}-${chunk.end - 1} x ${plan.views.length} views); delete it to recompute it`, file);
    bytes += fs.statSync(file).size;
  }
  const records = plan.input.rows * plan.views.length;
  const summary: FeaturesTableSummary = { records, images: plan.input.rows, parts: chunks.length, bytes };
  const manifest = buildManifest({
    kind: 'features',
    source: plan.input.source,
    tables: { [FEATURES_DIR]: { name: featuresTable(plan.dim).name, rows: records, parts: chunks.length, bytes } },
    counts: { records, images: plan.input.rows, views: plan.views.length, dim: plan.dim },
    skipped: [],
    options: { input: plan.input.kind, checkpoint: plan.checkpoint, views: plan.viewsSpec, seed: plan.seed, augment: plan.augment, partRows: plan.partRows },
  });
  writeJsonAtomic(path.join(dir, MANIFEST_FILE), manifest);
  return { manifest, summary };
}

/** Links `src` as `dst` (no copy); copies atomically when a link is impossible (another filesystem). */
function linkOrCopy(src: string, dst: string): 'linked' | 'copied' {
  try {
    fs.linkSync(src, dst);
    return 'linked';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw e;
    writeFileAtomic(dst, fs.readFileSync(src));
    return 'copied';
  }
}

export interface MergeResult extends FeaturesTableSummary {
  linked: number;
  copied: number;
  manifest: DataManifest;
}

/**
 * Merges shard output folders into `out` (which may be one of them): every shard must come from
 * the same plan (input, checkpoint, views, seed, rows per part); parts already in `out` must be
 * the same files.
 * @throws InputError naming the folder whose plan differs, a conflicting part, or the missing rows.
 */
export async function mergeFeatureShards(out: string, shardDirs: readonly string[]): Promise<MergeResult> {
  if (shardDirs.length === 0) throw new InputError('no shard folders to merge', out);
  const plans = shardDirs.map((d) => ({ dir: d, plan: readRunPlan(d) }));
  const first = plans[0];
  for (const p of plans.slice(1)) requireSamePlan(p.plan, first.plan, path.join(p.dir, RUN_PLAN_FILE), `it cannot be merged with ${first.dir}`);
  fs.mkdirSync(path.join(out, FEATURES_DIR), { recursive: true });
  adoptRunPlan(out, first.plan);
  let linked = 0;
  let copied = 0;
  const outFeatures = path.resolve(out, FEATURES_DIR);
  for (const { dir } of plans) {
    const srcDir = path.resolve(dir, FEATURES_DIR);
    if (srcDir === outFeatures) continue;
    for (const name of listPartNames(srcDir)) {
      const src = path.join(srcDir, name);
      const dst = path.join(outFeatures, name);
      if (fs.existsSync(dst)) {
        const a = fs.statSync(src);
        const b = fs.statSync(dst);
        if (a.ino === b.ino && a.dev === b.dev) continue;
        if (a.size !== b.size || !fs.readFileSync(src).equals(fs.readFileSync(dst))) {
          throw new InputError(`part ${name} differs from the one already in ${outFeatures}; the shards overlap with different results`, src);
        }
        continue;
      }
      if (linkOrCopy(src, dst) === 'linked') linked++;
      else copied++;
    }
  }
  const { manifest, summary } = await finishFeaturesTable(out, first.plan);
  return { ...summary, linked, copied, manifest };
}
