/**
 * Template descriptors: every template's face rows through an aggregator, one unit float64 vector
 * per template, in ascending template id.
 *
 * Protocols, named as the results name them:
 * - `set` — the official FaceCoresetNet path (`validate_model_ijb` → `verification`): the template's
 *   rows in file order form one set; no media averaging, no flip, faceness unused. Template vector
 *   = aggregate · norm in float32, stored as float64, then L2-normalised in float64.
 * - `media` — insightface/AdaFace style: the rows of each media (ascending media id) are aggregated
 *   into one media vector (for the mean baselines: a single row as is, several rows averaged in
 *   float32), media vectors summed in float32, then L2-normalised in float64. Optional faceness
 *   weighting (weighted means only) and flip fusion (done on the rows beforehand, see features.ts).
 */
import { InputError } from '@facecoreset/common';
import { assertSetBatch, type Aggregator, type AggregateBatch, type SetBatch } from './aggregator';

/** Rows of the face list grouped by template. */
export interface TemplateIndex {
  /** Template ids, ascending. [NT] */
  templateIds: Int32Array;
  /** Rows of template t are rows[offsets[t] .. offsets[t+1]). [NT + 1] */
  offsets: Int32Array;
  /** Face-list row numbers grouped by template, file order within a template. [N] */
  rows: Int32Array;
}

/** Groups face-list rows by template id (ascending ids; rows keep file order). */
export function buildTemplateIndex(templateOfRow: ArrayLike<number>): TemplateIndex {
  const n = templateOfRow.length;
  const sortedIds = Int32Array.from(templateOfRow).sort();
  let unique = 0;
  for (let i = 0; i < n; i++) if (i === 0 || sortedIds[i] !== sortedIds[i - 1]) sortedIds[unique++] = sortedIds[i];
  const ids = sortedIds.slice(0, unique);
  const position = new Map<number, number>();
  for (let t = 0; t < unique; t++) position.set(ids[t], t);
  const offsets = new Int32Array(unique + 1);
  const templateOf = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const t = position.get(templateOfRow[i]) as number;
    templateOf[i] = t;
    offsets[t + 1]++;
  }
  for (let t = 0; t < unique; t++) offsets[t + 1] += offsets[t];
  const fill = offsets.slice(0, unique);
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[fill[templateOf[i]]++] = i;
  return { templateIds: ids, offsets, rows };
}

/** Face rows in memory: unit features and their norms, row i = line i of the face list. */
export interface FaceFeatures {
  /** Unit features. [N, D] */
  features: Float32Array;
  /** Backbone norms. [N] */
  norms: Float32Array;
  /** Detector faceness scores, when the input has them. [N] */
  faceness?: Float32Array;
  count: number;
  dim: number;
}

export type ProtocolOptions =
  | { protocol: 'set' }
  | {
      protocol: 'media';
      /** Media id per face row. [N] */
      medias: ArrayLike<number>;
      /** Multiply each row by its faceness score before averaging (weighted-mean aggregators only). */
      facenessWeighting?: boolean;
    };

export interface TemplateDescriptors {
  /** Unit template descriptors in ascending template id, float64. [NT, D] */
  features: Float64Array;
  /** Norm of each template vector before normalisation. [NT] */
  norms: Float64Array;
  /** Face-list rows of each template's coreset: rows[offsets[t] .. offsets[t+1]). Empty without a coreset. */
  coresets: { offsets: Int32Array; rows: Int32Array };
  dim: number;
}

export interface DescriptorOptions {
  /** Called with the number of templates finished since the last call. */
  onProgress?: (templatesDone: number) => void;
  /** Upper bound on B·T per aggregator call (default: the aggregator's own, else 16384 rows). */
  maxBatchRows?: number;
}

/** One aggregation job: a set of face rows belonging to template `template`. */
interface SetJob {
  template: number;
  rows: Int32Array;
}

/**
 * Computes the unit descriptor of every template of `index`.
 * Throws InputError for an empty template or a face row with NaN/Inf values.
 */
export async function computeTemplateDescriptors(faces: FaceFeatures, index: TemplateIndex, aggregator: Aggregator, protocol: ProtocolOptions, options: DescriptorOptions = {}): Promise<TemplateDescriptors> {
  const dim = faces.dim;
  const nt = index.templateIds.length;
  const sums = new Float32Array(nt * dim); // float32 template vectors (sum of media vectors)
  const coresetLists: number[][] = Array.from({ length: nt }, () => []);
  const jobs: SetJob[] = [];
  for (let t = 0; t < nt; t++) {
    const rows = index.rows.subarray(index.offsets[t], index.offsets[t + 1]);
    if (rows.length === 0) throw new InputError(`template ${index.templateIds[t]} has no face rows; expected at least one`);
    if (protocol.protocol === 'set') jobs.push({ template: t, rows });
    else for (const media of splitByMedia(rows, protocol.medias)) jobs.push({ template: t, rows: media });
  }
  let scales: Float32Array | null = null;
  if (protocol.protocol === 'media' && protocol.facenessWeighting) {
    if (!faces.faceness) throw new InputError('faceness weighting asked for, but the features have no faceness scores');
    if (!aggregator.rowScale) throw new InputError(`faceness weighting applies to weighted-mean aggregators (mean, norm-weighted), not '${aggregator.name}'`);
    scales = faces.faceness;
  }
  // Each job's float32 vector, summed per template in job order (media ascending) afterwards:
  // jobs run grouped by size, and float32 sums depend on the order.
  const jobVectors = new Float32Array(jobs.length * dim);
  const jobNumber = new Map<SetJob, number>(jobs.map((job, j) => [job, j]));
  const templateDone = new Int32Array(nt);
  const jobsPerTemplate = new Int32Array(nt);
  for (const job of jobs) jobsPerTemplate[job.template]++;
  const maxRows = options.maxBatchRows ?? aggregator.maxBatchRows ?? 16384;
  const jobCoresets: (number[] | undefined)[] = new Array(jobs.length);
  const store = (chunk: SetJob[], batch: SetBatch, result: AggregateBatch): void => {
    checkResult(result, batch, aggregator.name);
    const k = result.coresetSize ?? 0;
    for (let s = 0; s < chunk.length; s++) {
      const job = chunk[s];
      const j = jobNumber.get(job) as number;
      const dst = j * dim;
      if (result.vector) jobVectors.set(result.vector.subarray(s * dim, (s + 1) * dim), dst);
      else {
        const nrm = result.norm[s];
        for (let d = 0; d < dim; d++) jobVectors[dst + d] = Math.fround(result.aggregate[s * dim + d] * nrm);
      }
      if (result.coresetIndices) jobCoresets[j] = Array.from(result.coresetIndices.subarray(s * k, (s + 1) * k), (c) => job.rows[c]);
      if (++templateDone[job.template] === jobsPerTemplate[job.template]) options.onProgress?.(1);
    }
  };
  // Up to `concurrency` calls in flight: an aggregator backed by worker threads resolves them in
  // parallel; a synchronous one simply runs them one after the other.
  const concurrency = Math.max(1, aggregator.concurrency ?? 1);
  const inFlight = new Set<Promise<void>>();
  for (const group of groupBySize(jobs)) {
    const size = group[0].rows.length;
    const perCall = Math.max(1, Math.floor(maxRows / size));
    for (let start = 0; start < group.length; start += perCall) {
      const chunk = group.slice(start, start + perCall);
      const batch = gatherBatch(faces, chunk, size, dim, scales);
      const pending = Promise.resolve(aggregator.aggregate(batch)).then((result) => store(chunk, batch, result));
      inFlight.add(pending);
      void pending.finally(() => inFlight.delete(pending)).catch(() => undefined);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
      // Let the event loop deliver results from worker threads before the next local batch.
      if (concurrency > 1) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await Promise.all(inFlight);
  jobs.forEach((job, j) => {
    for (let d = 0; d < dim; d++) sums[job.template * dim + d] += jobVectors[j * dim + d];
    const chosen = jobCoresets[j];
    if (chosen) coresetLists[job.template].push(...chosen);
  });
  return finishDescriptors(sums, nt, dim, coresetLists);
}

/** The rows of each media id (ascending id), file order within a media. */
function splitByMedia(rows: Int32Array, medias: ArrayLike<number>): Int32Array[] {
  const byMedia = new Map<number, number[]>();
  for (const r of rows) {
    const m = medias[r];
    const list = byMedia.get(m);
    if (list) list.push(r);
    else byMedia.set(m, [r]);
  }
  return [...byMedia.keys()].sort((x, y) => x - y).map((m) => Int32Array.from(byMedia.get(m) as number[]));
}

/** Jobs grouped by set size, sizes ascending, jobs in template order within a size. */
function groupBySize(jobs: SetJob[]): SetJob[][] {
  const bySize = new Map<number, SetJob[]>();
  for (const job of jobs) {
    const list = bySize.get(job.rows.length);
    if (list) list.push(job);
    else bySize.set(job.rows.length, [job]);
  }
  return [...bySize.keys()].sort((x, y) => x - y).map((s) => bySize.get(s) as SetJob[]);
}

function gatherBatch(faces: FaceFeatures, chunk: SetJob[], size: number, dim: number, scales: Float32Array | null): SetBatch {
  const features = new Float32Array(chunk.length * size * dim);
  const norms = new Float32Array(chunk.length * size);
  let o = 0;
  for (let s = 0; s < chunk.length; s++) {
    for (const r of chunk[s].rows) {
      const src = faces.features.subarray(r * dim, (r + 1) * dim);
      if (scales) {
        // Faceness weighting folds into the row: the weighted-mean aggregator sees scale · feature.
        const w = scales[r];
        for (let d = 0; d < dim; d++) features[o * dim + d] = Math.fround(src[d] * w);
      } else features.set(src, o * dim);
      const n = faces.norms[r];
      norms[o] = n;
      o++;
    }
  }
  return { features, norms, batch: chunk.length, size, dim };
}

function checkResult(result: AggregateBatch, batch: SetBatch, name: string): void {
  assertSetBatch(batch, name);
  const { batch: b, dim: d } = batch;
  if (result.aggregate.length !== b * d) throw new Error(`aggregator '${name}' returned ${result.aggregate.length} aggregate values, expected [${b}, ${d}]`);
  if (result.norm.length !== b) throw new Error(`aggregator '${name}' returned ${result.norm.length} norms, expected [${b}]`);
  if (result.vector && result.vector.length !== b * d) throw new Error(`aggregator '${name}' returned ${result.vector.length} vector values, expected [${b}, ${d}]`);
  const k = result.coresetSize ?? 0;
  if (result.coresetIndices && result.coresetIndices.length !== b * k) throw new Error(`aggregator '${name}' returned ${result.coresetIndices.length} coreset indices, expected [${b}, ${k}]`);
}

/** float32 template vectors -> float64, L2-normalised (a zero vector stays zero, as scikit-learn's normalize). */
function finishDescriptors(sums: Float32Array, nt: number, dim: number, coresetLists: number[][]): TemplateDescriptors {
  const features = new Float64Array(nt * dim);
  const norms = new Float64Array(nt);
  for (let t = 0; t < nt; t++) {
    let sq = 0;
    for (let d = 0; d < dim; d++) sq += sums[t * dim + d] * sums[t * dim + d];
    const nrm = Math.sqrt(sq);
    norms[t] = nrm;
    const inv = nrm > 0 ? nrm : 1;
    for (let d = 0; d < dim; d++) features[t * dim + d] = sums[t * dim + d] / inv;
  }
  const offsets = new Int32Array(nt + 1);
  for (let t = 0; t < nt; t++) offsets[t + 1] = offsets[t] + coresetLists[t].length;
  const rows = new Int32Array(offsets[nt]);
  for (let t = 0; t < nt; t++) rows.set(coresetLists[t], offsets[t]);
  return { features, norms, coresets: { offsets, rows }, dim };
}
