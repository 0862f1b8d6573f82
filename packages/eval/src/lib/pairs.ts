/**
 * 1:1 pair scores: cosine of the two templates' unit descriptors (float64 dot products).
 *
 * Unknown template ids are an error naming the pair file and line (the official code silently
 * scores them against the smallest template id).
 */
import { InputError } from '@facecoreset/common';
import { createRowDotKernel } from './dot-kernel';
import type { TemplateIndex } from './templates';

/** Verification pairs as read from `*_template_pair_label.txt` (the data package's IjbPairList fits). */
export interface TemplatePairs {
  /** The pair file, for error messages. */
  file?: string;
  /** First template id per pair. [P] */
  t1: Int32Array;
  /** Second template id per pair. [P] */
  t2: Int32Array;
  /** 1 = same subject (genuine), 0 = different (impostor). [P] */
  labels: Int8Array | Uint8Array;
  /** 1-based line number of each pair in its file (default: index + 1). [P] */
  lines?: Int32Array;
}

/** Template positions (indices into the ascending template list) of every pair. */
export interface ResolvedPairs {
  a: Int32Array;
  b: Int32Array;
}

/** Maps template ids to their positions in `index.templateIds`; unknown ids give -1. */
export function templatePositionLookup(index: TemplateIndex): (id: number) => number {
  const ids = index.templateIds;
  const maxId = ids.length > 0 ? ids[ids.length - 1] : -1;
  const minId = ids.length > 0 ? ids[0] : 0;
  if (minId >= 0 && maxId < 64 * 1024 * 1024) {
    const dense = new Int32Array(maxId + 1).fill(-1);
    for (let t = 0; t < ids.length; t++) dense[ids[t]] = t;
    return (id) => (id >= 0 && id <= maxId ? dense[id] : -1);
  }
  const map = new Map<number, number>();
  for (let t = 0; t < ids.length; t++) map.set(ids[t], t);
  return (id) => map.get(id) ?? -1;
}

/**
 * Resolves pair template ids to positions. Throws InputError naming `pairs.file:line N` for the
 * first pair whose template is not in the face list (`faceListFile`).
 */
export function resolvePairs(pairs: TemplatePairs, index: TemplateIndex, faceListFile?: string): ResolvedPairs {
  const n = pairs.t1.length;
  if (pairs.t2.length !== n || pairs.labels.length !== n) {
    throw new Error(`resolvePairs: t1, t2 and labels differ in length (${n}, ${pairs.t2.length}, ${pairs.labels.length})`);
  }
  const lookup = templatePositionLookup(index);
  const a = new Int32Array(n);
  const b = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const x = lookup(pairs.t1[i]);
    const y = lookup(pairs.t2[i]);
    if (x < 0 || y < 0) {
      const missing = x < 0 ? pairs.t1[i] : pairs.t2[i];
      const line = pairs.lines ? pairs.lines[i] : i + 1;
      throw new InputError(
        `pair names template ${missing}, which has no faces${faceListFile ? ` in ${faceListFile}` : ''}; expected a template id of the face list`,
        pairs.file,
        `line ${line}`,
      );
    }
    a[i] = x;
    b[i] = y;
  }
  return { a, b };
}

export interface ScoreOptions {
  /** Called with the number of pairs finished since the last call. */
  onProgress?: (pairsDone: number) => void;
  /** Use the plain JavaScript kernel (tests compare both). */
  forceJs?: boolean;
}

/** Templates per tile side: two tiles of 128 float64 rows of 512 are 1 MB, which stays in L2. */
const TILE = 128;
const BATCH = 1 << 18;

/**
 * Scores every pair: score[i] = descriptors[a[i]] · descriptors[b[i]] in float64.
 *
 * Pairs are visited tile by tile (both templates' positions divided by TILE, smaller first) so the
 * rows a tile touches stay in cache; IJB-C's pairs otherwise read 8 KB from memory per pair.
 * @param descriptors [NT, D] unit template descriptors
 * @returns scores in pair order [P]
 */
export function scorePairs(descriptors: Float64Array, dim: number, pairs: ResolvedPairs, options: ScoreOptions = {}): Float64Array {
  const n = pairs.a.length;
  const scores = new Float64Array(n);
  if (n === 0) return scores;
  const templates = descriptors.length / dim;
  const kernel = createRowDotKernel(descriptors, dim, { forceJs: options.forceJs });
  const order = tileOrder(pairs, templates);
  const a = new Int32Array(Math.min(BATCH, n));
  const b = new Int32Array(Math.min(BATCH, n));
  const out = new Float64Array(Math.min(BATCH, n));
  for (let start = 0; start < n; start += BATCH) {
    const m = Math.min(BATCH, n - start);
    for (let k = 0; k < m; k++) {
      const p = order[start + k];
      a[k] = pairs.a[p];
      b[k] = pairs.b[p];
    }
    kernel.score(a.subarray(0, m), b.subarray(0, m), out.subarray(0, m));
    for (let k = 0; k < m; k++) scores[order[start + k]] = out[k];
    options.onProgress?.(m);
  }
  return scores;
}

/** A permutation of pair indices grouped by tile (counting sort on the tile key). */
export function tileOrder(pairs: ResolvedPairs, templates: number): Int32Array {
  const n = pairs.a.length;
  const tile = Math.max(TILE, Math.ceil(templates / 4096)); // at most 4096² tile keys
  const side = Math.ceil(templates / tile);
  const tiles = side * side;
  const keys = new Int32Array(n);
  const counts = new Int32Array(tiles + 1);
  for (let i = 0; i < n; i++) {
    const x = pairs.a[i];
    const y = pairs.b[i];
    const lo = x < y ? x : y;
    const hi = x < y ? y : x;
    const key = ((lo / tile) | 0) * side + ((hi / tile) | 0);
    keys[i] = key;
    counts[key + 1]++;
  }
  for (let t = 0; t < tiles; t++) counts[t + 1] += counts[t];
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[counts[keys[i]]++] = i;
  return order;
}
