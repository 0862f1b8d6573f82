/**
 * The aggregator contract evaluation needs: a batch of equal-size sets of unit features and norms
 * in, one unit vector, its norm and (optionally) the coreset per set out. Evaluation depends only
 * on this shape, so FaceCoresetNet (model package), the baselines and any user aggregator plug in
 * the same way.
 */

/** B sets of T rows each (row-major). */
export interface SetBatch {
  /** Unit feature rows. [B, T, D] */
  features: Float32Array;
  /** Backbone feature norms. [B, T] */
  norms: Float32Array;
  batch: number;
  size: number;
  dim: number;
}

export interface AggregateBatch {
  /** Unit aggregate per set. [B, D] */
  aggregate: Float32Array;
  /** Norm of the aggregate before normalisation. [B] */
  norm: Float32Array;
  /**
   * The un-normalised template vector when the aggregator computes it directly (the mean
   * baselines: the float32 mean itself). Otherwise evaluation uses aggregate · norm. [B, D]
   */
  vector?: Float32Array;
  /** Indices (0..T-1) of the rows each set's coreset was built from. [B, K] */
  coresetIndices?: Int32Array;
  /** K, the coreset size used for this batch (min(coreset size, T)); 0 without a coreset. */
  coresetSize?: number;
}

export interface Aggregator {
  /** Method name used in tables and file names: 'mean', 'norm-weighted', 'facecoresetnet', ... */
  readonly name: string;
  /**
   * For weighted means only: each row enters as scale · feature (scale 1 for 'unit', the norm for
   * 'norm'). Lets the media protocol apply faceness weights row by row. Undefined otherwise.
   */
  readonly rowScale?: 'unit' | 'norm';
  /** Largest B·T the aggregator wants per call (memory); evaluation batches sets up to this. */
  readonly maxBatchRows?: number;
  /** How many aggregate() calls evaluation may keep in flight (parallel aggregators); default 1. */
  readonly concurrency?: number;
  aggregate(batch: SetBatch): AggregateBatch | Promise<AggregateBatch>;
}

/** Checks a batch's array sizes against its declared shape. */
export function assertSetBatch(batch: SetBatch, who: string): void {
  const { batch: b, size: t, dim: d } = batch;
  if (batch.features.length !== b * t * d) throw new Error(`${who}: features has ${batch.features.length} values, expected [${b}, ${t}, ${d}]`);
  if (batch.norms.length !== b * t) throw new Error(`${who}: norms has ${batch.norms.length} values, expected [${b}, ${t}]`);
}

/**
 * The float32 mean of scale · feature over a set's rows, accumulated row by row in file order as
 * NumPy's `np.mean(x, axis=0)` does for a float32 [T, D] array (sequential float32 sums, then a
 * float32 division by T).
 */
export function float32RowMean(features: Float32Array, scales: Float32Array | null, rowStart: number, rows: number, dim: number, out: Float32Array, outOffset: number): void {
  const fround = Math.fround;
  for (let d = 0; d < dim; d++) out[outOffset + d] = 0;
  for (let r = 0; r < rows; r++) {
    const base = (rowStart + r) * dim;
    if (scales) {
      const s = scales[rowStart + r];
      for (let d = 0; d < dim; d++) out[outOffset + d] += fround(s * features[base + d]);
    } else {
      for (let d = 0; d < dim; d++) out[outOffset + d] += features[base + d];
    }
  }
  for (let d = 0; d < dim; d++) out[outOffset + d] = out[outOffset + d] / rows;
}

function weightedMeanAggregator(name: string, rowScale: 'unit' | 'norm'): Aggregator {
  return {
    name,
    rowScale,
    aggregate(batch) {
      assertSetBatch(batch, name);
      const { batch: b, size: t, dim: d } = batch;
      const vector = new Float32Array(b * d);
      const aggregate = new Float32Array(b * d);
      const norm = new Float32Array(b);
      for (let s = 0; s < b; s++) {
        float32RowMean(batch.features, rowScale === 'norm' ? batch.norms : null, s * t, t, d, vector, s * d);
        let sq = 0;
        for (let k = 0; k < d; k++) sq += vector[s * d + k] * vector[s * d + k];
        const nrm = Math.sqrt(sq);
        norm[s] = nrm;
        for (let k = 0; k < d; k++) aggregate[s * d + k] = nrm > 0 ? vector[s * d + k] / nrm : 0;
      }
      return { aggregate, norm, vector, coresetSize: 0 };
    },
  };
}

/** Plain mean of the unit features (norms unused): the official `plain_mean` baseline. */
export const meanAggregator: Aggregator = weightedMeanAggregator('mean', 'unit');

/** Mean of norm · feature: the official code's only fusion without a model (`norm_weighted_mean`). */
export const normWeightedAggregator: Aggregator = weightedMeanAggregator('norm-weighted', 'norm');
