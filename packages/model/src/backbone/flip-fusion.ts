/**
 * Flip test: fuse the features of an image and of its mirror image, as the official IJB script's
 * `fuse_features_with_norm` does (its default there is 'pre_norm_vector_add').
 */

export const FLIP_FUSION_METHODS = ['pre_norm_vector_add', 'norm_weighted_avg', 'average'] as const;
export type FlipFusionMethod = (typeof FLIP_FUSION_METHODS)[number];

export interface EmbeddingBatch {
  /** Unit embeddings [B, D], row-major. */
  embedding: Float32Array;
  /** Norms [B]. */
  norm: Float32Array;
}

/**
 * - pre_norm_vector_add: v = e·n + e_f·n_f; embedding v/‖v‖, norm ‖v‖;
 * - norm_weighted_avg: v = (e·n + e_f·n_f)/(n + n_f); embedding v/‖v‖, norm (n + n_f)/2;
 * - average: v = e + e_f; embedding v/‖v‖, norm (n + n_f)/2.
 * Computed in float64, returned as float32.
 */
export function fuseFlipFeatures(original: EmbeddingBatch, flipped: EmbeddingBatch, method: FlipFusionMethod): EmbeddingBatch {
  const B = original.norm.length;
  if (flipped.norm.length !== B || original.embedding.length !== flipped.embedding.length || original.embedding.length % Math.max(B, 1) !== 0) {
    throw new Error(
      `fuseFlipFeatures: original [${B}] x ${original.embedding.length} and flipped [${flipped.norm.length}] x ${flipped.embedding.length} values do not pair up`,
    );
  }
  if (!(FLIP_FUSION_METHODS as readonly string[]).includes(method)) {
    throw new Error(`fuseFlipFeatures: unknown method '${method}' (expected ${FLIP_FUSION_METHODS.join(', ')})`);
  }
  const D = B === 0 ? 0 : original.embedding.length / B;
  const embedding = new Float32Array(B * D);
  const norm = new Float32Array(B);
  const v = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    const n1 = original.norm[b];
    const n2 = flipped.norm[b];
    const [w1, w2] = method === 'pre_norm_vector_add' ? [n1, n2] : method === 'norm_weighted_avg' ? [n1 / (n1 + n2), n2 / (n1 + n2)] : [1, 1];
    let sq = 0;
    for (let d = 0; d < D; d++) {
      v[d] = original.embedding[b * D + d] * w1 + flipped.embedding[b * D + d] * w2;
      sq += v[d] * v[d];
    }
    const len = Math.sqrt(sq);
    for (let d = 0; d < D; d++) embedding[b * D + d] = v[d] / len;
    norm[b] = method === 'pre_norm_vector_add' ? len : (n1 + n2) / 2;
  }
  return { embedding, norm };
}
