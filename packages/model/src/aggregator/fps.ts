/**
 * Quality-aware farthest-point sampling in its zero-noise (eval) limit, in plain float64 JS.
 *
 * Step 0 picks the largest norm; each later step picks the largest running-minimum quality
 * distance q(c, i) = n_i^γ·(1 − cos(x_i, c))/2 to the rows picked so far, x_i = n_i·f_i. Ties go to
 * the lowest index. The picked rows are exact float32 copies of x (as the official one-hot
 * product gives). O(K·T·D).
 */
import { NORMALIZE_EPS } from './config';

export interface FpsResult {
  /** [K'] selected indices in selection order */
  indices: Int32Array;
  /** [K', D] the selected rows of x = n·f (float32, exact products) */
  rows: Float32Array;
  /** [K', T] the logits each step maximised (norms, then running-min distances), if asked */
  logits?: Float32Array;
}

function argMax(v: ArrayLike<number>, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** Dense products FPS needs over the rows f_t of one set; plain JS loops by default. */
export interface FpsKernels {
  /** ‖f_t‖² for every t -> [T] */
  rowNormsSq(): ArrayLike<number>;
  /** f_t·c for every t, c [D] -> [T] */
  rowDots(c: Float32Array): ArrayLike<number>;
}

/** The JS kernels (float64 accumulation). */
export function jsFpsKernels(features: Float32Array, dim: number): FpsKernels {
  const T = features.length / dim;
  return {
    rowNormsSq() {
      const out = new Float64Array(T);
      for (let t = 0; t < T; t++) {
        let s = 0;
        const o = t * dim;
        for (let j = 0; j < dim; j++) s += features[o + j] * features[o + j];
        out[t] = s;
      }
      return out;
    },
    rowDots(c: Float32Array) {
      const out = new Float64Array(T);
      for (let t = 0; t < T; t++) {
        const o = t * dim;
        let a0 = 0;
        let a1 = 0;
        let j = 0;
        for (; j + 1 < dim; j += 2) {
          a0 += features[o + j] * c[j];
          a1 += features[o + j + 1] * c[j + 1];
        }
        if (j < dim) a0 += features[o + j] * c[j];
        out[t] = a0 + a1;
      }
      return out;
    },
  };
}

/**
 * @param features [T, D] unit rows
 * @param norms [T]
 * @param k coreset size K (K' = min(K, T) rows are picked)
 * @param gamma γ (γ_base included)
 */
export function farthestPointSample(
  features: Float32Array,
  norms: Float32Array,
  dim: number,
  k: number,
  gamma: number,
  withLogits = false,
  kernels: FpsKernels = jsFpsKernels(features, dim),
): FpsResult {
  const T = norms.length;
  const D = dim;
  const K = Math.min(k, T);
  const indices = new Int32Array(K);
  const rows = new Float32Array(K * D);
  const logits = withLogits ? new Float32Array(K * T) : undefined;
  const takeRow = (step: number, i: number) => {
    indices[step] = i;
    const n = norms[i];
    for (let j = 0; j < D; j++) rows[step * D + j] = n * features[i * D + j]; // float32 rounding = torch's n·f
  };
  takeRow(0, argMax(norms, T));
  if (logits) logits.set(norms, 0);
  if (K === 1) return { indices, rows, logits };

  // ‖x_i‖ = n_i‖f_i‖ and n_i^γ, once.
  const fNormSq = kernels.rowNormsSq();
  const xNorm = new Float64Array(T);
  const quality = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    xNorm[t] = Math.max(norms[t] * Math.sqrt(fNormSq[t]), NORMALIZE_EPS);
    quality[t] = Math.pow(norms[t], gamma);
  }
  const dist = new Float64Array(T).fill(Infinity);
  for (let step = 1; step < K; step++) {
    // Fold in the distance to the row picked last.
    const prev = rows.subarray((step - 1) * D, step * D);
    let cn = 0;
    for (let j = 0; j < D; j++) cn += prev[j] * prev[j];
    const cScale = 1 / Math.max(Math.sqrt(cn), NORMALIZE_EPS);
    const dots = kernels.rowDots(prev);
    for (let t = 0; t < T; t++) {
      const cos = (norms[t] * dots[t] * cScale) / xNorm[t];
      const d = (quality[t] * (1 - cos)) / 2;
      if (d < dist[t]) dist[t] = d;
    }
    if (logits) logits.set(dist, step * T);
    takeRow(step, argMax(dist, T));
  }
  return { indices, rows, logits };
}
