/**
 * How well the backbone's feature norms (FaceCoresetNet's quality signal) follow the generator's
 * known image quality on the benchmark's own images, for experiments on generated demo data: the
 * benchmark's subjects are never trained on, and its mix (good stills, long runs of poor video
 * frames) is the one the aggregator has to rank.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '@facecoreset/common';
import { readIjbImageTruth, type IjbImageTruth } from '@facecoreset/data';
import { bootstrapResamplesFor, clusterBootstrapSpearman, spearman } from '@facecoreset/train';

/** The benchmark's per-image ground truth written by `fcn synth` (row = face-list line). */
export function ijbTruthFileOf(synthOut: string): string {
  return path.join(synthOut, 'ground_truth', 'ijb_images.csv');
}

export interface NormQualitySubset {
  images: number;
  spearman: number;
}

export interface BenchmarkNormQuality {
  images: number;
  subjects: number;
  /** Spearman correlation of the original view's feature norm with the image's quality. */
  spearman: number;
  /** 95% percentile bootstrap interval, resampling whole subjects. */
  ci95: [number, number];
  /** Bootstrap resamples behind ci95: 1000, fewer on large benchmarks (each costs a sort of every image). */
  resamples: number;
  stills: NormQualitySubset;
  frames: NormQualitySubset;
}

/**
 * @param norms backbone norm of every face row (original view), in face-list order
 * @param truth the benchmark's ground truth, one entry per face row
 * @param file names the ground-truth file in errors
 */
export function benchmarkNormQuality(norms: ArrayLike<number>, truth: readonly IjbImageTruth[], file: string, seed = 0): BenchmarkNormQuality {
  if (truth.length !== norms.length) {
    throw new InputError(`the ground truth lists ${truth.length} images, the benchmark's features have ${norms.length} faces (is it the truth of another generated set?)`, file);
  }
  const quality = new Float64Array(truth.length);
  const subject = new Int32Array(truth.length);
  truth.forEach((t, i) => {
    if (t.row !== i) throw new InputError(`expected row ${i}, found row ${t.row} (rows must follow the face list in order)`, file, `line ${i + 2}`);
    quality[i] = t.quality;
    subject[i] = t.subjectId;
  });
  const subset = (kind: IjbImageTruth['mediaKind']): NormQualitySubset => {
    const rows = truth.flatMap((t, i) => (t.mediaKind === kind ? [i] : []));
    return { images: rows.length, spearman: rows.length >= 2 ? spearman(rows.map((i) => norms[i]), rows.map((i) => quality[i])) : NaN };
  };
  const resamples = bootstrapResamplesFor(truth.length);
  const interval = clusterBootstrapSpearman(norms, quality, subject, { seed, resamples, level: 0.95 });
  return {
    images: truth.length,
    subjects: new Set(subject).size,
    spearman: spearman(norms, quality),
    ci95: [interval.low, interval.high],
    resamples,
    stills: subset('still'),
    frames: subset('frame'),
  };
}

/** The benchmark's ground truth when the experiment's data was generated and lists this dataset; else undefined. */
export function readBenchmarkTruth(synthOut: string | undefined, dataset: string, generatedDataset: string | undefined): { file: string; truth: IjbImageTruth[] } | undefined {
  if (!synthOut || generatedDataset !== dataset) return undefined;
  const file = ijbTruthFileOf(synthOut);
  if (!fs.existsSync(file)) return undefined;
  return { file, truth: readIjbImageTruth(file) };
}

export function describeBenchmarkNormQuality(r: BenchmarkNormQuality): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
  return (
    `backbone feature norm vs the generator's image quality on the benchmark's ${r.images} images (${r.subjects} unseen subjects): ` +
    `Spearman ${f(r.spearman)} (95% CI ${f(r.ci95[0])}–${f(r.ci95[1])}, subject bootstrap); ` +
    `stills ${f(r.stills.spearman)} (${r.stills.images}), video frames ${f(r.frames.spearman)} (${r.frames.images})`
  );
}

export const NORM_QUALITY_FILE = 'backbone-norm-quality.json';

/** The figures the eval stage wrote (eval/ for one dataset, eval/<DATASET>/ for several), dataset first. */
export function readNormQualityFiles(evalDir: string): Array<BenchmarkNormQuality & { dataset: string }> {
  if (!fs.existsSync(evalDir)) return [];
  const files = [path.join(evalDir, NORM_QUALITY_FILE), ...fs.readdirSync(evalDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(evalDir, d.name, NORM_QUALITY_FILE))];
  return files.filter((f) => fs.existsSync(f)).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
}
