/**
 * The validation metric: 1:1 verification on held-out identities.
 *
 * Each held-out identity's images are shuffled (seeded) and dealt round-robin into
 * `templatesPerIdentity` disjoint groups; each group gives one template built like a training set
 * (clips of views, T ~ U{1..maxTemplateSize}). Templates are fixed for the whole run. All template
 * pairs are scored by the cosine of their aggregates; the metric is the strict TAR at the target
 * FAR (the largest TAR whose FAR does not exceed the target).
 */
import { Rng } from '@facecoreset/common';
import { buildSet } from './sampler';
import { imagesOfIdentity, SetIndex } from './set-index';

export interface ValidationTemplates {
  /** Identity slot of each template. [M] */
  identity: Int32Array;
  /** Feature rows of template m: featureRows[offsets[m] .. offsets[m+1]). */
  offsets: Int32Array;
  featureRows: Int32Array;
}

export interface ValidationTemplateOptions {
  seed: number;
  templatesPerIdentity: number;
  maxTemplateSize: number;
  maxClipSize: number;
}

export function buildValidationTemplates(index: SetIndex, heldOutSlots: ArrayLike<number>, opts: ValidationTemplateOptions): ValidationTemplates {
  const identity: number[] = [];
  const offsets: number[] = [0];
  const rows: Int32Array[] = [];
  for (let k = 0; k < heldOutSlots.length; k++) {
    const slot = heldOutSlots[k];
    const rng = Rng.stream(opts.seed, 'validation', slot);
    const images = rng.shuffle(Array.from(imagesOfIdentity(index, slot)));
    if (images.length < opts.templatesPerIdentity) throw new Error(`validation identity slot ${slot} has ${images.length} images, fewer than ${opts.templatesPerIdentity} templates`);
    for (let t = 0; t < opts.templatesPerIdentity; t++) {
      const group = images.filter((_, i) => i % opts.templatesPerIdentity === t);
      const size = rng.int(1, opts.maxTemplateSize);
      const set = buildSet(index, group, size, opts.maxClipSize, rng);
      identity.push(slot);
      rows.push(set.featureRows);
      offsets.push(offsets[offsets.length - 1] + size);
    }
  }
  const featureRows = new Int32Array(offsets[offsets.length - 1]);
  rows.forEach((r, m) => featureRows.set(r, offsets[m]));
  return { identity: Int32Array.from(identity), offsets: Int32Array.from(offsets), featureRows };
}

export interface TarAtFar {
  /** True accept rate at the threshold. */
  tar: number;
  /** False accept rate actually reached (≤ the target). */
  far: number;
  /** Pairs scoring strictly above it are accepted. */
  threshold: number;
}

/**
 * Strict TAR at FAR: accept scores strictly above the (⌊far·I⌋+1)-th largest impostor score, so at
 * most ⌊far·I⌋ impostors pass (ties at the threshold are rejected).
 */
export function strictTarAtFar(genuine: ArrayLike<number>, impostor: ArrayLike<number>, targetFar: number): TarAtFar {
  if (genuine.length === 0 || impostor.length === 0) throw new Error(`strictTarAtFar: need genuine and impostor scores (got ${genuine.length} and ${impostor.length})`);
  const sorted = Float64Array.from(impostor).sort().reverse();
  const allowed = Math.floor(targetFar * sorted.length);
  const threshold = allowed >= sorted.length ? -Infinity : sorted[allowed];
  let falseAccepts = 0;
  for (let i = 0; i < sorted.length && sorted[i] > threshold; i++) falseAccepts++;
  let trueAccepts = 0;
  for (let i = 0; i < genuine.length; i++) if (genuine[i] > threshold) trueAccepts++;
  return { tar: trueAccepts / genuine.length, far: falseAccepts / sorted.length, threshold };
}

export interface VerificationResult extends TarAtFar {
  genuinePairs: number;
  impostorPairs: number;
}

/**
 * Scores every template pair by cosine similarity and returns the strict TAR at the target FAR.
 * @param vectors template vectors [M, D] (any norm; they are normalised here)
 * @param identity identity of each template [M]
 */
export function verifyTemplates(vectors: Float32Array, dim: number, identity: ArrayLike<number>, targetFar: number): VerificationResult {
  const { genuine, impostor } = pairScores(vectors, dim, identity);
  const result = strictTarAtFar(genuine, impostor, targetFar);
  return { ...result, genuinePairs: genuine.length, impostorPairs: impostor.length };
}

/** Cosine scores of every pair of vectors, split by whether the two share an identity. */
export interface PairScores {
  genuine: Float64Array;
  impostor: Float64Array;
}

/**
 * Scores every pair by cosine similarity.
 * @param vectors [M, D] (any norm; they are normalised here)
 * @param identity identity of each vector [M]
 */
export function pairScores(vectors: Float32Array, dim: number, identity: ArrayLike<number>): PairScores {
  const m = identity.length;
  if (vectors.length !== m * dim) throw new Error(`pairScores: expected ${m}×${dim} values, got ${vectors.length}`);
  const unit = new Float64Array(m * dim);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += vectors[i * dim + d] ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let d = 0; d < dim; d++) unit[i * dim + d] = vectors[i * dim + d] * inv;
  }
  const genuine: number[] = [];
  const impostor = new Float64Array((m * (m - 1)) / 2);
  let ni = 0;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += unit[i * dim + d] * unit[j * dim + d];
      if (identity[i] === identity[j]) genuine.push(s);
      else impostor[ni++] = s;
    }
  }
  return { genuine: Float64Array.from(genuine), impostor: impostor.slice(0, ni) };
}

/**
 * Area under the ROC curve: the probability that a genuine score beats an impostor score, ties
 * counting one half (the Mann–Whitney U statistic over genuine × impostor pairs).
 */
export function rocAuc(genuine: ArrayLike<number>, impostor: ArrayLike<number>): number {
  if (genuine.length === 0 || impostor.length === 0) throw new Error(`rocAuc: need genuine and impostor scores (got ${genuine.length} and ${impostor.length})`);
  const imp = Float64Array.from(impostor).sort();
  let wins = 0;
  for (let i = 0; i < genuine.length; i++) {
    const g = genuine[i];
    // below = #impostors < g, notAbove = #impostors <= g (binary searches).
    const below = lowerBound(imp, g);
    const notAbove = upperBound(imp, g);
    wins += below + (notAbove - below) / 2;
  }
  return wins / (genuine.length * imp.length);
}

function lowerBound(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Ranks (1-based) with ties given their average rank. */
function ranks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k]] = r;
    i = j + 1;
  }
  return out;
}

/** Spearman's rank correlation (Pearson correlation of the tie-averaged ranks); NaN when a side is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length < 2) throw new Error(`spearman: need two equally long samples of at least 2 values (got ${a.length} and ${b.length})`);
  const ra = ranks(a);
  const rb = ranks(b);
  const n = a.length;
  const mean = (n + 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) ** 2;
    sbb += (rb[i] - mean) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** A percentile bootstrap interval of a statistic. */
export interface BootstrapInterval {
  low: number;
  high: number;
  /** Coverage, e.g. 0.95. */
  level: number;
  /** Resamples the interval was taken over (those with a defined statistic). */
  resamples: number;
}

/** The p-quantile of ascending values, interpolating linearly between order statistics (index p·(n−1)). */
export function quantileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new Error('quantileOfSorted: no values');
  const at = p * (sorted.length - 1);
  const i = Math.floor(at);
  const frac = at - i;
  return i + 1 < sorted.length ? sorted[i] + frac * (sorted[i + 1] - sorted[i]) : sorted[i];
}

/** 1000 resamples up to 5000 images, then as many as 5 M image draws allow (at least 100): one resample costs a sort of every image (~1 ms per 1000). */
export function bootstrapResamplesFor(images: number): number {
  return Math.max(100, Math.min(1000, Math.floor(5e6 / Math.max(1, images))));
}

export type ClusterBootstrapOptions = { level?: number } & ({ resamples?: number; seed: number } | { picks: readonly (readonly number[])[] });

/**
 * Spearman's correlation of a and b with a percentile bootstrap interval that resamples whole
 * clusters (e.g. identities) with replacement. Images of one identity share the identity's offset,
 * so they are not independent draws: resampling single images would understate the spread of a
 * correlation measured on a few held-out identities.
 * `picks` (positions into the clusters in order of first appearance, one list per resample) replaces
 * the seeded draws, for reproducing another implementation's resamples.
 */
export function clusterBootstrapSpearman(a: ArrayLike<number>, b: ArrayLike<number>, clusters: ArrayLike<number>, opts: ClusterBootstrapOptions): BootstrapInterval {
  if (a.length !== b.length || a.length !== clusters.length) throw new Error(`clusterBootstrapSpearman: a, b and clusters must be equally long (got ${a.length}, ${b.length}, ${clusters.length})`);
  const level = opts.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new Error(`clusterBootstrapSpearman: level must be in (0, 1), got ${level}`);
  const members = new Map<number, number[]>();
  for (let i = 0; i < clusters.length; i++) {
    const list = members.get(clusters[i]);
    if (list) list.push(i);
    else members.set(clusters[i], [i]);
  }
  const groups = [...members.values()];
  let picks: readonly (readonly number[])[];
  if ('picks' in opts) {
    picks = opts.picks;
  } else {
    const rng = Rng.stream(opts.seed, 'cluster-bootstrap');
    const count = opts.resamples ?? 1000;
    picks = Array.from({ length: count }, () => Array.from(groups, () => rng.int(0, groups.length - 1)));
  }
  const stats: number[] = [];
  for (const pick of picks) {
    const rows = pick.flatMap((g) => {
      if (!Number.isInteger(g) || g < 0 || g >= groups.length) throw new Error(`clusterBootstrapSpearman: pick ${g} is not a cluster position (0..${groups.length - 1})`);
      return groups[g];
    });
    if (rows.length < 2) continue;
    const s = spearman(rows.map((i) => a[i]), rows.map((i) => b[i]));
    if (Number.isFinite(s)) stats.push(s);
  }
  if (stats.length === 0) return { low: NaN, high: NaN, level, resamples: 0 };
  stats.sort((x, y) => x - y);
  return { low: quantileOfSorted(stats, (1 - level) / 2), high: quantileOfSorted(stats, (1 + level) / 2), level, resamples: stats.length };
}
