/**
 * Dense helpers of the hand-written training step: products on the compute backend (XNNPACK on
 * wasm) between plain arrays, and transposes in JS.
 *
 * XNNPACK packs a product's right-hand side before multiplying, so every caller keeps the big
 * operand (a weight matrix that changes every step) on the left and a small activation on the
 * right; tfjs-wasm's transposeA/transposeB paths are 5-15x slower than transposing first.
 */
import * as tf from '@tensorflow/tfjs-core';
import { rowMoments } from '../aggregator/norm-encoding';

/** c [m, n] = a [m, k] · b [k, n] */
export function matmul(a: Float32Array, m: number, k: number, b: Float32Array, n: number): Float32Array {
  if (a.length !== m * k || b.length !== k * n) throw new Error(`matmul: operands of ${a.length} and ${b.length} values for [${m}, ${k}]·[${k}, ${n}]`);
  const t = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])));
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}

/** [rows, cols] -> [cols, rows], in cache-friendly tiles. */
export function transposed(a: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const tile = 16;
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const r1 = Math.min(r0 + tile, rows);
    for (let c0 = 0; c0 < cols; c0 += tile) {
      const c1 = Math.min(c0 + tile, cols);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = a[r * cols + c];
    }
  }
  return out;
}

/**
 * y [M, out] = x [M, in] · Wᵀ + b for a torch Linear weight W [out, in]: computed as W·xᵀ so the
 * weight is the left operand.
 */
export function linearForward(x: Float32Array, m: number, w: Float32Array, out: number, bias?: ArrayLike<number>): Float32Array {
  const inner = w.length / out;
  const yT = matmul(w, out, inner, transposed(x, m, inner), m); // [out, M]
  const y = transposed(yT, out, m);
  if (bias) for (let r = 0; r < m; r++) for (let j = 0; j < out; j++) y[r * out + j] += bias[j];
  return y;
}

/**
 * Gradients of y = x·Wᵀ + b: dW [out, in] = dyᵀ·x (written into `dW`), db = Σ rows of dy (added
 * into `db` when given), and dx [M, in] = dy·W, computed as (Wᵀ·dyᵀ)ᵀ with `wT` = Wᵀ [in, out].
 */
export function linearBackward(dy: Float32Array, x: Float32Array, m: number, wT: Float32Array, out: number, dW: Float32Array, db?: Float32Array, wantDx = true): Float32Array | undefined {
  const inner = wT.length / out;
  const dyT = transposed(dy, m, out); // [out, M]
  dW.set(matmul(dyT, out, m, x, inner));
  if (db) for (let r = 0; r < m; r++) for (let j = 0; j < out; j++) db[j] += dy[r * out + j];
  if (!wantDx) return undefined;
  return transposed(matmul(wT, inner, out, dyT, m), inner, m);
}

/** LayerNorm of rows with the saved normalised values x̂ and 1/σ for the backward pass. */
export interface LayerNormSaved {
  /** [rows, D] (x − μ)/σ */
  xhat: Float64Array;
  /** [rows] 1/σ */
  rstd: Float64Array;
}

/** y = x̂·w + b over the last axis (biased variance, as torch), float64 statistics. */
export function layerNormForward(x: ArrayLike<number>, rows: number, dim: number, weight: ArrayLike<number>, bias: ArrayLike<number>, eps: number, y: Float32Array): LayerNormSaved {
  const xhat = new Float64Array(rows * dim);
  const rstd = new Float64Array(rows);
  const m = new Float64Array(2);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    rowMoments(x, o, dim, eps, m);
    const mean = m[0];
    const inv = m[1];
    rstd[r] = inv;
    for (let j = 0; j < dim; j++) {
      const h = (x[o + j] - mean) * inv;
      xhat[o + j] = h;
      y[o + j] = h * weight[j] + bias[j];
    }
  }
  return { xhat, rstd };
}

/**
 * LayerNorm backward: accumulates dw += Σ dy∘x̂ and db += Σ dy, and returns dx (unless `wantDx`
 * is false): dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂∘x̂))/σ with dx̂ = dy∘w.
 */
export function layerNormBackward(dy: ArrayLike<number>, saved: LayerNormSaved, rows: number, dim: number, weight: ArrayLike<number>, dw: Float32Array, db: Float32Array, wantDx = true): Float64Array | undefined {
  const { xhat, rstd } = saved;
  const dx = wantDx ? new Float64Array(rows * dim) : undefined;
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let m1 = 0;
    let m2 = 0;
    for (let j = 0; j < dim; j++) {
      const g = dy[o + j];
      dw[j] += g * xhat[o + j];
      db[j] += g;
      const gh = g * weight[j];
      m1 += gh;
      m2 += gh * xhat[o + j];
    }
    if (!dx) continue;
    m1 /= dim;
    m2 /= dim;
    for (let j = 0; j < dim; j++) dx[o + j] = (dy[o + j] * weight[j] - m1 - xhat[o + j] * m2) * rstd[r];
  }
  return dx;
}

/** Row statistics of a LayerNorm whose normalised values are recomputed when needed. */
export interface LayerNormStats {
  /** [rows] μ */
  mean: Float64Array;
  /** [rows] 1/σ */
  rstd: Float64Array;
}

/** y = (x − μ)/σ·w + b, added into `y` (which may hold a residual), keeping only μ and 1/σ. */
export function layerNormAddInto(x: ArrayLike<number>, rows: number, dim: number, weight: ArrayLike<number>, bias: ArrayLike<number>, eps: number, y: Float32Array): LayerNormStats {
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  const m = new Float64Array(2);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    rowMoments(x, o, dim, eps, m);
    const mu = m[0];
    const inv = m[1];
    mean[r] = mu;
    rstd[r] = inv;
    for (let j = 0; j < dim; j++) y[o + j] += (x[o + j] - mu) * inv * weight[j] + bias[j];
  }
  return { mean, rstd };
}

/** The LayerNorm's parameter gradients only: dw += Σ dy∘x̂, db += Σ dy, x̂ recomputed from the stats. */
export function layerNormParamGrads(dy: ArrayLike<number>, x: ArrayLike<number>, stats: LayerNormStats, rows: number, dim: number, dw: Float32Array, db: Float32Array): void {
  const gw = new Float64Array(dim);
  const gb = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    const mu = stats.mean[r];
    const inv = stats.rstd[r];
    for (let j = 0; j < dim; j++) {
      const g = dy[o + j];
      gw[j] += g * (x[o + j] - mu) * inv;
      gb[j] += g;
    }
  }
  for (let j = 0; j < dim; j++) {
    dw[j] += gw[j];
    db[j] += gb[j];
  }
}
