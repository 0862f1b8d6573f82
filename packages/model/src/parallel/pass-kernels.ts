/**
 * Element-wise passes over large arrays, written over index ranges so that two threads can split
 * one pass (shared-passes.ts). Each returns a partial sum (or 0) that the caller adds up.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend';

/** AdamW's coefficients for one parameter and step (see optim/adamw.ts). */
export interface AdamWCoefficients {
  scale: number;
  decay: number;
  stepSize: number;
  invBc2Sqrt: number;
  eps: number;
  b1: number;
  b2: number;
}

/**
 * AdamW on elements [start, end): p ← p·decay − stepSize·m/(√v·invBc2Sqrt + eps) with the moments
 * stored as float32 (torch's tensors) and read back rounded.
 */
export function adamwRange(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: AdamWCoefficients, start: number, end: number): number {
  const { scale, decay, stepSize, invBc2Sqrt, eps, b1, b2 } = k;
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  for (let i = start; i < end; i++) {
    const gi = Math.fround(g[i] * scale); // exact when scale = 1
    const mi = Math.fround(b1 * m[i] + c1 * gi);
    const vi = Math.fround(b2 * v[i] + c2 * gi * gi);
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) * invBc2Sqrt + eps);
  }
  return 0;
}

/**
 * Columns [c0, c1) of W [D, C]: writes them as rows of Wᵀ [C, D] into `out` and their inverse L2
 * norms into `invNorm`, in cache-friendly tiles.
 */
export function transposeColumnNormsRange(w: Float32Array, D: number, C: number, out: Float32Array, invNorm: Float64Array, c0: number, c1: number): number {
  const tile = 16;
  for (let c = c0; c < c1; c++) invNorm[c] = 0;
  for (let d0 = 0; d0 < D; d0 += tile) {
    const d1 = Math.min(d0 + tile, D);
    for (let cs = c0; cs < c1; cs += tile) {
      const ce = Math.min(cs + tile, c1);
      for (let c = cs; c < ce; c++) {
        let s = invNorm[c];
        for (let d = d0; d < d1; d++) {
          const v = w[d * C + c];
          out[c * D + d] = v;
          s += v * v;
        }
        invNorm[c] = s;
      }
    }
  }
  for (let c = c0; c < c1; c++) invNorm[c] = 1 / Math.sqrt(invNorm[c]);
  return 0;
}

/**
 * Rows [d0, d1) of the AdaFace kernel gradient, in place on eᵀg [D, C]:
 * dW_dc = (eᵀg)_dc − W_dc·proj_c/‖W_c‖² (float32). Returns Σ dW² over those rows (float64).
 */
export function kernelGradientRange(eTg: Float32Array, proj: Float32Array, w: Float32Array, invNorm: Float64Array, C: number, d0: number, d1: number): number {
  return correctKernelRows(eTg, 0, proj, w, invNorm, C, eTg, d0, d1);
}

/**
 * out rows [d0, d1) = rows of eᵀg (held in `eTg` from row `firstRow` on) − W ∘ proj/‖W‖²,
 * rounded to float32; returns Σ of their squares.
 */
function correctKernelRows(eTg: Float32Array, firstRow: number, proj: Float32Array, w: Float32Array, invNorm: Float64Array, C: number, out: Float32Array, d0: number, d1: number): number {
  const q = new Float64Array(C);
  for (let c = 0; c < C; c++) q[c] = proj[c] * invNorm[c] * invNorm[c];
  let sum = 0;
  for (let d = d0; d < d1; d++) {
    const o = d * C;
    const src = (d - firstRow) * C;
    for (let c = 0; c < C; c++) {
      const v = Math.fround(eTg[src + c] - w[o + c] * q[c]);
      out[o + c] = v;
      sum += v * v;
    }
  }
  return sum;
}

/** Columns [c0, c1) of a [rows, cols] matrix written as rows of its transpose [cols, rows]. */
export function transposeRange(a: Float32Array, rows: number, cols: number, out: Float32Array, c0: number, c1: number): number {
  const tile = 16;
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const r1 = Math.min(r0 + tile, rows);
    for (let cs = c0; cs < c1; cs += tile) {
      const ce = Math.min(cs + tile, c1);
      for (let c = cs; c < ce; c++) for (let r = r0; r < r1; r++) out[c * rows + r] = a[r * cols + c];
    }
  }
  return 0;
}

/**
 * Rows [d0, d1) of the AdaFace kernel gradient from its factors: (eᵀg)_dc − W_dc·proj_c/‖W_c‖²,
 * the product on this thread's compute backend, written into `out` [D, C]. Returns Σ of the
 * squares of those rows. (Runs on the worker, whose own wasm backend the caller has prepared.)
 * @param eT [D, B] the embeddings, transposed; g [B, C] dLoss/dcos / ‖W_c‖
 */
export function headKernelGradientRange(eT: Float32Array, g: Float32Array, proj: Float32Array, w: Float32Array, invNorm: Float64Array, B: number, C: number, out: Float32Array, d0: number, d1: number): number {
  const product = tf.tidy(() => tf.matMul(tf.tensor2d(eT.subarray(d0 * B, d1 * B), [d1 - d0, B]), tf.tensor2d(g, [B, C])));
  try {
    const backend = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array };
    const eTg = typeof backend.typedArrayFromHeap === 'function' ? backend.typedArrayFromHeap(product) : (product.dataSync() as Float32Array);
    return correctKernelRows(eTg, d0, proj, w, invNorm, C, out, d0, d1);
  } finally {
    product.dispose();
  }
}

export const PASS_KERNELS = { adamwRange, transposeColumnNormsRange, kernelGradientRange, transposeRange, headKernelGradientRange };

/** Kernels that need a compute backend on the thread that runs them. */
export const BACKEND_KERNELS: ReadonlySet<PassKernelName> = new Set(['headKernelGradientRange']);

/** Prepares the wasm backend on a worker thread (once). */
export function prepareThreadBackend(): Promise<unknown> {
  return initBackend({ backend: 'wasm', log: null });
}
export type PassKernelName = keyof typeof PASS_KERNELS;
