/** Inputs and outputs of the set aggregators (FaceCoresetNet and the baselines). */

/** One set (template): T unit features with their backbone norms. */
export interface TemplateSet {
  /** [T, D] unit feature rows, C order */
  features: Float32Array;
  /** [T] backbone norms (feature quality) */
  norms: Float32Array;
}

/**
 * Aggregates of a batch of B sets. Sets may have different sizes; a set of T < K items has a
 * coreset of K' = T rows: its rows beyond K' are zero and its indices −1.
 */
export interface AggregateOutput {
  /** B */
  batch: number;
  /** D */
  dim: number;
  /** K (the configured coreset size; 0 for the baselines) */
  coresetSize: number;
  /** [B, D] unit aggregates */
  aggregate: Float32Array;
  /** [B] aggregate norms (template feature = aggregate · norm) */
  norm: Float32Array;
  /** [B, K, D] selected rows (norm-multiplied features) in selection order */
  coreset: Float32Array;
  /** [B, K] selected item indices in selection order, −1 beyond a set's K' */
  indices: Int32Array;
  /** [B] K' = min(K, T) per set */
  coresetSizes: Int32Array;
}

/** The result of set b as plain arrays. */
export function aggregateOfSet(out: AggregateOutput, b: number): { aggregate: Float32Array; norm: number; coreset: Float32Array; indices: number[] } {
  const { dim: D, coresetSize: K } = out;
  const k = out.coresetSizes[b];
  return {
    aggregate: out.aggregate.slice(b * D, (b + 1) * D),
    norm: out.norm[b],
    coreset: out.coreset.slice(b * K * D, (b * K + k) * D),
    indices: Array.from(out.indices.subarray(b * K, b * K + k)),
  };
}

/** Allocates an output record for B sets. */
export function emptyAggregateOutput(batch: number, dim: number, coresetSize: number): AggregateOutput {
  return {
    batch,
    dim,
    coresetSize,
    aggregate: new Float32Array(batch * dim),
    norm: new Float32Array(batch),
    coreset: new Float32Array(batch * coresetSize * dim),
    indices: new Int32Array(batch * coresetSize).fill(-1),
    coresetSizes: new Int32Array(batch),
  };
}

/** Checks one set's arrays against D; returns T. `where` names the set in errors. */
export function checkSet(set: TemplateSet, dim: number, where: string): number {
  const T = set.norms.length;
  if (T < 1) throw new Error(`${where}: empty set (T = 0); a set needs at least one item`);
  if (set.features.length !== T * dim) throw new Error(`${where}: features hold ${set.features.length} values, expected T·D = ${T}·${dim} = ${T * dim} for ${T} norms`);
  for (let t = 0; t < T; t++) {
    const n = set.norms[t];
    if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${where}: norm ${t} is ${n}; norms must be positive and finite`);
  }
  return T;
}

/**
 * Views a batch of equal-size sets [B, T, D] / [B, T] as TemplateSets (no copies).
 * @param features [B, T, D]
 * @param norms [B, T]
 */
export function setsFromBatch(features: Float32Array, norms: Float32Array, batch: number, size: number, dim: number): TemplateSet[] {
  if (features.length !== batch * size * dim) throw new Error(`setsFromBatch: features hold ${features.length} values, expected B·T·D = ${batch}·${size}·${dim}`);
  if (norms.length !== batch * size) throw new Error(`setsFromBatch: norms hold ${norms.length} values, expected B·T = ${batch}·${size}`);
  return Array.from({ length: batch }, (_, b) => ({
    features: features.subarray(b * size * dim, (b + 1) * size * dim),
    norms: norms.subarray(b * size, (b + 1) * size),
  }));
}
