/**
 * `generateSynthDataset`: the whole demo dataset in one folder, written under a temporary name and
 * renamed into place when complete:
 *   <out>/train/train.rec, train.idx, property        insightface-style RecordIO training set
 *   <out>/ijb/<IJBB|IJBC>/meta/…, loose_crop/…         IJB-style benchmark (identities disjoint)
 *   <out>/ground_truth/train_images.csv, ijb_images.csv, ijb_templates.csv
 *   <out>/synth.json                                   options, counts and summaries
 * Deterministic: the same options give byte-identical files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Progress, UsageError, writeDirAtomic, type ProgressOptions } from '@facecoreset/common';
import { formatIjbImageTruth, formatIjbTemplateTruth, formatTrainTruth } from './ground-truth';
import { planIjb, type TemplateKind } from './ijb-plan';
import { writeIjb, type SynthIjbDataset } from './ijb-write';
import { writeTrainSet, trainIdentitySizes } from './train-set';
import { createDrawPool, defaultWorkerCount } from './draw-pool';

export interface SynthOptions {
  seed: number;
  /** Training identities. */
  identities: number;
  /** Mean images per training identity (each identity gets 75%..125% of it). */
  imagesPerIdentity: number;
  /** IJB subjects (disjoint from the training identities). */
  ijbSubjects: number;
  /** Templates per IJB subject (one of them is its 1:N gallery template). */
  templatesPerSubject: number;
  /** Frames of the longest video clip. */
  maxVideoFrames: number;
  /** Upper limit on impostor verification pairs. */
  impostorPairs: number;
  dataset: SynthIjbDataset;
}

/** Sized so that the whole demo pipeline (backbone on CPU included) fits in about ten minutes. */
export const DEFAULT_SYNTH_OPTIONS: Readonly<SynthOptions> = {
  seed: 1,
  identities: 150,
  imagesPerIdentity: 32,
  ijbSubjects: 44,
  templatesPerSubject: 5,
  maxVideoFrames: 140,
  impostorPairs: 30000,
  dataset: 'IJBB',
};

const LIMITS: Record<Exclude<keyof SynthOptions, 'dataset' | 'seed'>, [number, number]> = {
  identities: [1, 1_000_000],
  imagesPerIdentity: [2, 10_000],
  ijbSubjects: [2, 1_000_000],
  templatesPerSubject: [3, 1000],
  maxVideoFrames: [16, 100_000],
  impostorPairs: [1, 100_000_000],
};

/**
 * Fills defaults and checks every value; unknown keys are an error (a misspelt option must not be
 * silently ignored). Accepts the loose records of experiment configs.
 */
export function resolveSynthOptions(given: Readonly<Record<string, unknown>> = {}): SynthOptions {
  const known = new Set(Object.keys(DEFAULT_SYNTH_OPTIONS));
  const unknown = Object.keys(given).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new UsageError(`unknown synth option(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  const out: SynthOptions = { ...DEFAULT_SYNTH_OPTIONS };
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (key === 'dataset') {
      if (value !== 'IJBB' && value !== 'IJBC') throw new UsageError(`synth option dataset: expected IJBB or IJBC, got ${JSON.stringify(value)}`);
      out.dataset = value;
      continue;
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new UsageError(`synth option ${key}: expected an integer, got ${JSON.stringify(value)}`);
    if (key === 'seed') {
      if (value < 0 || value > 0xffffffff) throw new UsageError(`synth option seed: expected 0..4294967295, got ${value}`);
      out.seed = value;
      continue;
    }
    const [lo, hi] = LIMITS[key as keyof typeof LIMITS];
    if (value < lo || value > hi) throw new UsageError(`synth option ${key}: expected ${lo}..${hi}, got ${value}`);
    out[key as keyof typeof LIMITS] = value;
  }
  return out;
}

export interface SynthManifest {
  generator: 'facecoreset synth';
  formatVersion: 1;
  options: SynthOptions;
  train: { dir: string; identities: number; images: number; imagesPerIdentity: { min: number; max: number }; meanQuality: number; shareQualityBelowHalf: number };
  ijb: {
    root: string;
    dataset: SynthIjbDataset;
    subjects: number;
    templates: number;
    images: number;
    media: number;
    stills: number;
    frames: number;
    templateSize: { min: number; median: number; max: number };
    templateKinds: Record<TemplateKind, number>;
    pairs: { genuine: number; impostor: number };
    meanQuality: { stills: number; frames: number };
  };
  groundTruth: { trainImages: string; ijbImages: string; ijbTemplates: string };
}

export const SYNTH_MANIFEST = 'synth.json';

/** Runs with fewer pictures than this draw in the calling thread unless `workers` says otherwise. */
const INLINE_BELOW_IMAGES = 500;

export interface SynthRunOptions {
  /** Progress line stream; `false` for none. */
  progress?: ProgressOptions['stream'] | false;
  /**
   * Worker threads that draw (default: one per core, none for small runs; ≤ 1 draws in the calling
   * thread). The output does not depend on it.
   */
  workers?: number;
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length;
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/** Refuses to replace a non-empty folder that is not a previous synth output. */
function checkTarget(out: string): void {
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) throw new UsageError(`--out ${out} exists and is not a folder`);
  const entries = fs.readdirSync(out);
  if (entries.length > 0 && !entries.includes(SYNTH_MANIFEST)) {
    throw new UsageError(`--out ${out} is a non-empty folder without ${SYNTH_MANIFEST}; refusing to replace it (pick a new or empty folder)`);
  }
}

export async function generateSynthDataset(out: string, given: Readonly<Record<string, unknown>> = {}, run: SynthRunOptions = {}): Promise<SynthManifest> {
  const opts = resolveSynthOptions(given);
  checkTarget(out);
  const plan = planIjb({ seed: opts.seed, subjects: opts.ijbSubjects, templatesPerSubject: opts.templatesPerSubject, maxVideoFrames: opts.maxVideoFrames, impostorPairs: opts.impostorPairs });
  const trainImages = trainIdentitySizes(opts.seed, opts.identities, opts.imagesPerIdentity).reduce((s, n) => s + n, 0);
  const ijbImages = plan.templates.reduce((s, t) => s + t.items.length, 0);
  const progress = new Progress({ label: 'synth', total: trainImages + ijbImages, unit: 'images', secondary: { unit: 'MB/s', scale: 1e-6 }, silent: run.progress === false, stream: run.progress || undefined });
  const tick = (bytes: number) => progress.tick(1, bytes);

  // Starting a worker (tsx compiles the sources again) costs about a second: small runs draw inline.
  const pool = createDrawPool(run.workers ?? (trainImages + ijbImages < INLINE_BELOW_IMAGES ? 0 : defaultWorkerCount()));
  const manifest = await writeDirAtomic(out, async (tmp) => {
    const train = await writeTrainSet(path.join(tmp, 'train'), { seed: opts.seed, identities: opts.identities, imagesPerIdentity: opts.imagesPerIdentity }, pool, tick);
    const ijb = await writeIjb(path.join(tmp, 'ijb'), opts.dataset, opts.seed, plan, pool, tick);
    const gt = path.join(tmp, 'ground_truth');
    fs.mkdirSync(gt, { recursive: true });
    fs.writeFileSync(path.join(gt, 'train_images.csv'), formatTrainTruth(train));
    fs.writeFileSync(path.join(gt, 'ijb_images.csv'), formatIjbImageTruth(ijb.images));
    fs.writeFileSync(path.join(gt, 'ijb_templates.csv'), formatIjbTemplateTruth(ijb.templates));

    const perIdentity = new Map<number, number>();
    for (const t of train) perIdentity.set(t.label, (perIdentity.get(t.label) ?? 0) + 1);
    const sizes = ijb.templates.map((t) => t.size).sort((a, b) => a - b);
    const kinds: Record<TemplateKind, number> = { gallery: 0, stills: 0, mixed: 0, 'video-dominated': 0 };
    for (const t of ijb.templates) kinds[t.kind]++;
    const genuine = plan.pairs.filter((p) => p[2] === 1).length;
    const m: SynthManifest = {
      generator: 'facecoreset synth',
      formatVersion: 1,
      options: opts,
      train: {
        dir: 'train',
        identities: perIdentity.size,
        images: train.length,
        imagesPerIdentity: { min: Math.min(...perIdentity.values()), max: Math.max(...perIdentity.values()) },
        meanQuality: round6(mean(train.map((t) => t.quality))),
        shareQualityBelowHalf: round6(train.filter((t) => t.quality < 0.5).length / train.length),
      },
      ijb: {
        root: 'ijb',
        dataset: opts.dataset,
        subjects: plan.subjectIds.length,
        templates: ijb.templates.length,
        images: ijb.images.length,
        media: new Set(ijb.images.map((i) => i.mediaId)).size,
        stills: ijb.images.filter((i) => i.mediaKind === 'still').length,
        frames: ijb.images.filter((i) => i.mediaKind === 'frame').length,
        templateSize: { min: sizes[0], median: sizes[Math.floor(sizes.length / 2)], max: sizes[sizes.length - 1] },
        templateKinds: kinds,
        pairs: { genuine, impostor: plan.pairs.length - genuine },
        meanQuality: {
          stills: round6(mean(ijb.images.filter((i) => i.mediaKind === 'still').map((i) => i.quality))),
          frames: round6(mean(ijb.images.filter((i) => i.mediaKind === 'frame').map((i) => i.quality))),
        },
      },
      groundTruth: { trainImages: 'ground_truth/train_images.csv', ijbImages: 'ground_truth/ijb_images.csv', ijbTemplates: 'ground_truth/ijb_templates.csv' },
    };
    fs.writeFileSync(path.join(tmp, SYNTH_MANIFEST), JSON.stringify(m, null, 2) + '\n');
    return m;
  }).finally(() => pool.close());
  progress.finish();
  return manifest;
}
