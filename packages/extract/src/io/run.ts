/**
 * One extraction run over an input table into `<out>/features/`: plan the chunks, keep the parts a
 * previous run completed, compute the rest of this shard's chunks (one part file each, written
 * atomically), and write `manifest.json` once the folder holds the whole table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '@facecoreset/common';
import { fingerprintFile, fingerprintSource } from '@facecoreset/data';
import { describeIResNetConfig, IResNetInference, initBackend, type IResNetArch, type IResNetWeights } from '@facecoreset/model';
import { DEFAULT_AUGMENT, type AugmentOptions } from '../lib/augment';
import { tfjsBackboneRunner, type BackboneRunner } from '../lib/backbone-runner';
import { extractFeatures } from '../lib/extract';
import { chunkPartName, formatShard, missingChunks, planChunks, shardChunks, type Shard } from '../lib/plan';
import { parseViews } from '../lib/views';
import { loadBackboneCheckpoint } from './checkpoint';
import { FEATURES_DIR, listPartNames, removeStaleTempFiles, writeFeaturesPart } from './features-parts';
import { openInputTable, InputRowReader } from './input-table';
import { finishFeaturesTable, type FeaturesTableSummary } from './merge';
import { adoptRunPlan, RUN_PLAN_FILE, RUN_PLAN_FORMAT, RUN_PLAN_VERSION, type RunPlan } from './run-plan';

/** Input rows per part file by default: about 12 MB of features per part at D = 512 and 6 views. */
export const DEFAULT_PART_ROWS = 1024;
export const DEFAULT_BATCH_SIZE = 32;

/** What a run reports as it goes (common's Progress fits `progress`). */
export interface RunReporter {
  log(line: string): void;
  progress(label: string, totalImages: number): { tick(images: number): void; finish(): void };
}

export const silentReporter: RunReporter = { log: () => undefined, progress: () => ({ tick: () => undefined, finish: () => undefined }) };

export interface ExtractRunOptions {
  /** Output folder of an ingest (holding images/ or aligned/), or the table folder itself. */
  images: string;
  /** Backbone checkpoint: AdaFace/Lightning .ckpt or our .safetensors. */
  checkpoint: string;
  out: string;
  /** e.g. "original,flip,aug:4". */
  views: string;
  shard?: Shard;
  batchSize?: number;
  seed?: number;
  /** Input rows per part file (fixes the chunking; a rerun must use the same). */
  partRows?: number;
  /** Expected architecture (checked against the checkpoint). */
  arch?: IResNetArch;
  augment?: AugmentOptions;
  /** tfjs backend (default: FCN_BACKEND, then automatic). */
  backend?: string;
  /** Builds the runner from the loaded weights (default: IResNet on tfjs). */
  makeBackbone?: (weights: IResNetWeights) => { runner: BackboneRunner; dispose(): void };
  reporter?: RunReporter;
}

export interface ExtractRunResult {
  shard: Shard;
  /** Chunks (part files) of this shard: kept from an earlier run, and computed now. */
  keptParts: number;
  computedParts: number;
  /** Images computed now and the wall time of computing them. */
  images: number;
  seconds: number;
  /** Set when the folder now holds the whole table (manifest.json written). */
  table?: FeaturesTableSummary;
}

/** Runs (or resumes) one shard of an extraction. */
export async function runExtraction(opts: ExtractRunOptions): Promise<ExtractRunResult> {
  const reporter = opts.reporter ?? silentReporter;
  const shard = opts.shard ?? { index: 0, count: 1 };
  const views = parseViews(opts.views);
  const input = await openInputTable(opts.images);
  if (input.totalRows === 0) throw new InputError('input table has no rows', input.tableDir);
  const weights = loadBackboneCheckpoint(opts.checkpoint, { arch: opts.arch });
  const ckpt = fingerprintFile(opts.checkpoint, path.dirname(opts.checkpoint));
  const plan: RunPlan = {
    format: RUN_PLAN_FORMAT,
    version: RUN_PLAN_VERSION,
    input: { kind: input.kind, rows: input.totalRows, source: fingerprintSource(input.tableDir, input.parts.map((p) => p.file)) },
    checkpoint: { file: path.resolve(opts.checkpoint), size: ckpt.size, sha256: ckpt.sha256, sampled: ckpt.sampled, architecture: describeIResNetConfig(weights.config), config: weights.config },
    viewsSpec: opts.views,
    views,
    seed: opts.seed ?? 0,
    augment: opts.augment ?? DEFAULT_AUGMENT,
    partRows: opts.partRows ?? DEFAULT_PART_ROWS,
    dim: weights.config.embeddingSize,
  };
  const featuresDir = path.join(opts.out, FEATURES_DIR);
  if (!fs.existsSync(path.join(opts.out, RUN_PLAN_FILE)) && listPartNames(featuresDir).length > 0) {
    throw new InputError(`holds a features table that fcn extract did not start (no ${RUN_PLAN_FILE}); choose another --out folder`, featuresDir);
  }
  fs.mkdirSync(featuresDir, { recursive: true });
  adoptRunPlan(opts.out, plan);

  const removed = removeStaleTempFiles(featuresDir);
  if (removed.length > 0) reporter.log(`removed ${removed.length} unfinished part file(s) of an interrupted run`);
  const allChunks = planChunks(plan.input.rows, plan.partRows);
  const mine = shardChunks(allChunks, shard);
  missingChunks(allChunks, listPartNames(featuresDir), featuresDir); // refuses parts that belong to no chunk
  const done = new Set(listPartNames(featuresDir));
  const todo = mine.filter((c) => !done.has(chunkPartName(c)));
  const todoImages = todo.reduce((s, c) => s + c.end - c.start, 0);
  const range = mine.length ? `rows ${mine[0].start}-${mine[mine.length - 1].end - 1}` : 'no rows';
  reporter.log(
    `extract shard ${formatShard(shard)}: ${input.kind} table of ${input.totalRows} rows, ${range} in ${mine.length} part(s); ` +
      `${mine.length - todo.length} done, ${todo.length} to do (${todoImages} images x ${views.length} views); backbone ${plan.checkpoint.architecture}`,
  );

  let seconds = 0;
  if (todo.length > 0) {
    const backbone = opts.makeBackbone ? opts.makeBackbone(weights) : await tfjsBackbone(weights, opts.backend, reporter);
    const reader = new InputRowReader(input);
    const progress = reporter.progress(`extract ${formatShard(shard)}`, todoImages);
    const t0 = performance.now();
    try {
      for (const chunk of todo) {
        const images = reader.read(chunk.start, chunk.end);
        let before = 0;
        const features = await extractFeatures(backbone.runner, images, {
          views,
          seed: plan.seed,
          batchSize: opts.batchSize ?? DEFAULT_BATCH_SIZE,
          augment: plan.augment,
          onImagesDone: (done) => {
            progress.tick(done - before);
            before = done;
          },
        });
        writeFeaturesPart(path.join(featuresDir, chunkPartName(chunk)), features);
      }
    } finally {
      seconds = (performance.now() - t0) / 1000;
      progress.finish();
      backbone.dispose();
    }
  }

  const result: ExtractRunResult = { shard, keptParts: mine.length - todo.length, computedParts: todo.length, images: todoImages, seconds };
  if (missingChunks(allChunks, listPartNames(featuresDir), featuresDir).length === 0) {
    result.table = (await finishFeaturesTable(opts.out, plan)).summary;
  }
  return result;
}

async function tfjsBackbone(weights: IResNetWeights, backend: string | undefined, reporter: RunReporter): Promise<{ runner: BackboneRunner; dispose(): void }> {
  await initBackend({ backend, log: reporter.log });
  const model = IResNetInference.fromWeights(weights);
  return { runner: tfjsBackboneRunner(model), dispose: () => model.dispose() };
}
