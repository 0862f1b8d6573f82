/**
 * Feature rows held in memory for training: the row/view/norm columns as flat arrays and the
 * embeddings in chunks (one per Parquet part), so a table of several GB never needs one
 * contiguous buffer.
 */

export interface FeatureStore {
  /** D */
  dim: number;
  /** N feature rows */
  count: number;
  /** Image row of each feature row [N] */
  row: Float64Array;
  /** View id of each feature row [N] */
  view: Int8Array;
  /** Backbone norm of each feature row [N] */
  norm: Float32Array;
  /** Unit embeddings, chunk c holding rows chunkStart[c] .. chunkStart[c+1]-1 [rows, D] */
  chunks: Float32Array[];
  chunkStart: number[];
  /** Chunk of each feature row [N] */
  chunkOf: Int32Array;
}

/** Assembles a store from per-part columns (parts in table order). */
export function featureStoreFromParts(dim: number, parts: { row: ArrayLike<number>; view: ArrayLike<number>; norm: ArrayLike<number>; embedding: Float32Array }[]): FeatureStore {
  const count = parts.reduce((s, p) => s + p.row.length, 0);
  const row = new Float64Array(count);
  const view = new Int8Array(count);
  const norm = new Float32Array(count);
  const chunkOf = new Int32Array(count);
  const chunkStart: number[] = [0];
  let at = 0;
  parts.forEach((p, c) => {
    const n = p.row.length;
    if (p.embedding.length !== n * dim) throw new Error(`featureStoreFromParts: part ${c} has ${p.embedding.length} embedding values for ${n} rows of width ${dim}`);
    row.set(Array.from(p.row), at);
    view.set(Array.from(p.view), at);
    norm.set(Array.from(p.norm), at);
    chunkOf.fill(c, at, at + n);
    at += n;
    chunkStart.push(at);
  });
  return { dim, count, row, view, norm, chunks: parts.map((p) => p.embedding), chunkStart, chunkOf };
}

/** A store over one contiguous embedding array [N, D]. */
export function featureStoreFromArrays(dim: number, row: ArrayLike<number>, view: ArrayLike<number>, norm: ArrayLike<number>, embedding: Float32Array): FeatureStore {
  return featureStoreFromParts(dim, [{ row, view, norm, embedding }]);
}

/** The embedding of feature row i (a view, no copy) [D]. */
export function embeddingOf(store: FeatureStore, i: number): Float32Array {
  const c = store.chunkOf[i];
  const local = i - store.chunkStart[c];
  return store.chunks[c].subarray(local * store.dim, (local + 1) * store.dim);
}

/**
 * Gathers feature rows into model inputs.
 * @param rows feature row indices [M]
 * @returns features [M, D] and norms [M]
 */
export function gatherFeatures(store: FeatureStore, rows: ArrayLike<number>): { features: Float32Array; norms: Float32Array } {
  const D = store.dim;
  const features = new Float32Array(rows.length * D);
  const norms = new Float32Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    features.set(embeddingOf(store, rows[k]), k * D);
    norms[k] = store.norm[rows[k]];
  }
  return { features, norms };
}
