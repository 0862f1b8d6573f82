/**
 * `fcn train backbone` with files: reads the images table (encoded bytes, labels, image ids) and
 * optionally the ground-truth qualities, resumes from the latest checkpoint in the run folder, and
 * leaves checkpoints, metrics.jsonl, config.json, summary.json and backbone.safetensors (the
 * IResNet under `model.*` with its architecture in the metadata, readable by `fcn extract`).
 */
import * as fs from 'node:fs';
import { InputError } from '@facecoreset/common';
import { imagesTable, iterateTableParts } from '@facecoreset/data';
import { initBackend } from '@facecoreset/model';
import { parseBackboneTrainConfig, readBackboneTrainConfig, type BackboneTrainConfig } from './backbone-config';
import { tableParent } from './io/read-tables';
import { trainBackbone, type TrainBackboneSummary, type TrainingImages } from './lib/backbone/train-backbone';
import { gitSha, RunFolder } from './run-folder';

export const BACKBONE_MODEL_FILE = 'backbone.safetensors';

export interface RunBackboneTrainingOptions {
  /** Images table (its folder or the folder holding `images/`). */
  images: string;
  configFile?: string;
  /** The config as a value (e.g. an experiment config's `backbone.options`); wins over configFile. */
  config?: unknown;
  out: string;
  resume?: boolean;
  backend?: string;
  maxSteps?: number;
  /** CSV with `image_id` and `quality` columns (e.g. the demo data's ground_truth/train_images.csv). */
  qualityFile?: string;
  onMetrics?: (step: number, metrics: Record<string, number>) => void;
  log?: (line: string) => void;
  progress?: NodeJS.WritableStream | null;
}

export interface RunBackboneTrainingResult {
  summary: TrainBackboneSummary;
  /** backbone.safetensors (best held-out validation, else the latest checkpoint). */
  exportPath: string;
}

/** Every row of an images table: encoded bytes, labels and image ids, in table order. */
export function readTrainingImages(imagesDir: string): TrainingImages {
  const dir = tableParent(imagesDir, imagesTable.name);
  const encoded: Uint8Array[] = [];
  const labels: number[] = [];
  const ids: number[] = [];
  for (const { table } of iterateTableParts(dir, imagesTable)) {
    const image = table.getChild('image')!;
    const label = table.getChild('label')!;
    const id = table.getChild('image_id')!;
    for (let i = 0; i < table.numRows; i++) {
      encoded.push(image.get(i) as Uint8Array);
      labels.push(label.get(i) as number);
      ids.push(Number(id.get(i)));
    }
  }
  return { encoded, labels: Int32Array.from(labels), imageIds: Float64Array.from(ids) };
}

/** image_id -> quality from a CSV with a header naming `image_id` and `quality`. */
export function readQualities(file: string): Map<number, number> {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').split(',');
  const idCol = header.indexOf('image_id');
  const qCol = header.indexOf('quality');
  if (idCol < 0 || qCol < 0) throw new InputError(`expected a header with image_id and quality columns, found '${lines[0] ?? ''}'`, file, 'line 1');
  const out = new Map<number, number>();
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].split(',');
    const id = Number(f[idCol]);
    const q = Number(f[qCol]);
    if (!Number.isFinite(id) || !Number.isFinite(q)) throw new InputError(`expected numbers in image_id and quality, found '${f[idCol]}', '${f[qCol]}'`, file, `line ${i + 1}`);
    out.set(id, q);
  }
  return out;
}

export async function runBackboneTraining(opts: RunBackboneTrainingOptions): Promise<RunBackboneTrainingResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  await initBackend({ backend: opts.backend, log });
  const config: BackboneTrainConfig | undefined =
    opts.config !== undefined ? parseBackboneTrainConfig(opts.config, 'backbone config') : opts.configFile ? readBackboneTrainConfig(opts.configFile) : undefined;
  const run = new RunFolder({ out: opts.out, resume: opts.resume, label: 'train backbone', itemUnit: 'images/s', log, progress: opts.progress, onMetrics: opts.onMetrics });
  const images = readTrainingImages(opts.images);
  const qualityByImageId = opts.qualityFile ? readQualities(opts.qualityFile) : undefined;
  log(`read ${images.labels.length} images${qualityByImageId ? ` and ${qualityByImageId.size} qualities` : ''}`);
  run.open();
  try {
    const summary = await trainBackbone({
      images,
      config,
      resumeFrom: run.resumeFrom,
      qualityByImageId,
      source: opts.images,
      gitSha: gitSha(),
      maxSteps: opts.maxSteps,
      log,
      onMetrics: run.metrics,
      onStart: (info) => run.start(info.config, info.totalSteps - info.position.step),
      onStep: (m) => run.step(m.items),
      onEpoch: run.epoch,
      saveCheckpoint: run.save,
    });
    const exportPath = run.finish(BACKBONE_MODEL_FILE, {
      finished: summary.finished,
      step: summary.position.step,
      epoch: summary.position.epoch,
      best: summary.best,
      random_weights_baseline: summary.randomBaseline ?? null,
      random_weights_validation: summary.randomValidation ?? null,
      last_validation: summary.lastValidation ?? null,
      architecture: summary.architecture,
      classes: summary.classes,
      train_images: summary.trainImages,
      validation_images: summary.validationImages,
    });
    if (!exportPath) throw new Error('no checkpoint was written');
    return { summary, exportPath };
  } finally {
    run.close();
  }
}
