/**
 * The "positional" encoding of FaceCoresetNet, which encodes a feature norm v (not a position):
 * channel j of E(v) is sin(2π·v / ω_j) for even j and cos(2π·v / ω_j) for odd j (interleaved),
 * with ω_j = 10000^(2⌊j/2⌋/D) computed in float32. A shared LayerNorm (`pos_trans_norm`) follows.
 *
 * The float32 rounding points follow torch (2π·v, then the division, then sin/cos), because the
 * arguments reach ~300 where one float32 rounding of the argument moves sin by ~2e-5.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NORM_ENCODING_TEMPERATURE } from './config';

const TWO_PI_F32 = Math.fround(2 * Math.PI);

const frequencyCache = new Map<number, Float32Array>();

/** ω_j for j = 0..D−1 (pairs share a value), as float32. */
export function normEncodingFrequencies(dim: number): Float32Array {
  let w = frequencyCache.get(dim);
  if (!w) {
    w = new Float32Array(dim);
    for (let j = 0; j < dim; j++) w[j] = Math.pow(NORM_ENCODING_TEMPERATURE, Math.fround((2 * Math.floor(j / 2)) / dim));
    frequencyCache.set(dim, w);
  }
  return w;
}

/**
 * Writes the raw (pre-LayerNorm) encoding of one norm into `out[offset .. offset+D)` and returns
 * its sum and sum of squares (the LayerNorm statistics, accumulated in float64).
 */
export function encodeNormRaw(v: number, freqs: Float32Array, out: Float32Array, offset: number): { sum: number; sumSq: number } {
  const p = Math.fround(v * TWO_PI_F32);
  const D = freqs.length;
  let sum = 0;
  let sumSq = 0;
  for (let j = 0; j < D; j += 2) {
    // Both channels of a pair share ω, hence the argument.
    const a = Math.fround(p / freqs[j]);
    const s = Math.fround(Math.sin(a));
    const c = Math.fround(Math.cos(a));
    out[offset + j] = s;
    out[offset + j + 1] = c;
    sum += s + c;
    sumSq += s * s + c * c;
  }
  return { sum, sumSq };
}

/**
 * Mean and 1/σ of the row x[o .. o + dim) (biased variance, as torch), in float64, into
 * moments[0] and moments[1]: the statistics of every LayerNorm here and in the training step.
 */
export function rowMoments(x: ArrayLike<number>, o: number, dim: number, eps: number, moments: Float64Array): void {
  let mean = 0;
  for (let j = 0; j < dim; j++) mean += x[o + j];
  mean /= dim;
  let v = 0;
  for (let j = 0; j < dim; j++) {
    const d = x[o + j] - mean;
    v += d * d;
  }
  moments[0] = mean;
  moments[1] = 1 / Math.sqrt(v / dim + eps);
}

/**
 * LayerNorm over the last axis of `rows` × D values (biased variance, as torch), in float64,
 * written as float32 into `out` (which may be `x`).
 */
export function layerNormRows(x: Float32Array, rows: number, dim: number, weight: Float32Array, bias: Float32Array, eps: number, out: Float32Array): void {
  const m = new Float64Array(2);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    rowMoments(x, o, dim, eps, m);
    const mean = m[0];
    const inv = m[1];
    for (let j = 0; j < dim; j++) out[o + j] = (x[o + j] - mean) * inv * weight[j] + bias[j];
  }
}

/**
 * E(v) after the LayerNorm for each of `norms` (rows of the result), e.g. for tests and for the
 * coreset's few rows. [N] -> [N, D]
 */
export function encodeNorms(norms: ArrayLike<number>, dim: number, lnWeight: Float32Array, lnBias: Float32Array, eps: number): { raw: Float32Array; encoded: Float32Array } {
  const freqs = normEncodingFrequencies(dim);
  const n = norms.length;
  const raw = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) encodeNormRaw(norms[i], freqs, raw, i * dim);
  const encoded = new Float32Array(n * dim);
  layerNormRows(raw, n, dim, lnWeight, lnBias, eps, encoded);
  return { raw, encoded };
}

/**
 * The raw encoding as a differentiable tfjs op, computed in JS (tfjs-wasm's sin/cos are scalar
 * libm calls, several times slower, and the op needs only one sin and one cos per channel pair).
 * Backward: dE_2m/dv = (2π/ω_m)·cos, dE_2m+1/dv = −(2π/ω_m)·sin.
 * @param v [...] norms -> [..., D]
 */
export function encodeNormRawTf(v: tf.Tensor, dim: number): tf.Tensor {
  const op = tf.customGrad(((x: tf.Tensor) => {
    const values = x.dataSync() as Float32Array;
    const n = values.length;
    const freqs = normEncodingFrequencies(dim);
    const raw = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) encodeNormRaw(values[i], freqs, raw, i * dim);
    return {
      value: tf.tensor(raw, [...x.shape, dim]),
      gradFunc: (dy: tf.Tensor) => {
        const g = dy.dataSync() as Float32Array;
        const dv = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const o = i * dim;
          let acc = 0;
          for (let j = 0; j < dim; j += 2) acc += (TWO_PI_F32 / freqs[j]) * (g[o + j] * raw[o + j + 1] - g[o + j + 1] * raw[o + j]);
          dv[i] = acc;
        }
        return [tf.tensor(dv, x.shape)];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
  return op(v);
}
