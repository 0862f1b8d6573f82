/**
 * Forward and backward pieces for training convolutional nets on tfjs, written as explicit
 * functions (no autodiff tape), because the wasm backend has no Conv2DBackpropFilter kernel, its
 * Conv2DBackpropInput is ~10x slower than a forward conv, and matMul with transposeA/B is 5-15x
 * slower than transposing first. Every backward here is built from fast forward kernels:
 * - input gradient of a stride-1 conv = a forward conv of dy with the rotated filter;
 * - filter gradient = a forward conv in which the batch plays the channel role and dy the filter
 *   (one forward conv over [I, H, W, B] with filter [h, w, B, O] gives [I, kh, kw, O]);
 * - channel sums = a [1, N] x [N, C] matMul.
 * All tensors are NHWC; filters HWIO [kh, kw, I, O].
 */
import * as tf from '@tensorflow/tfjs-core';

export interface Conv2dSpec {
  stride: 1 | 2;
  /** Symmetric zero padding (PyTorch `padding`). */
  pad: number;
}

/** Forward conv (no bias) with PyTorch's symmetric padding. @param x [B, H, W, I] @param w [kh, kw, I, O] */
export function conv2dForward(x: tf.Tensor4D, w: tf.Tensor4D, spec: Conv2dSpec): tf.Tensor4D {
  return tf.conv2d(x, w, spec.stride, spec.pad === 0 ? 'valid' : spec.pad);
}

/** Sum over every axis but the last: [..., C] -> [C], as a matMul (wasm reduces leading axes slowly). */
export function channelSum(x: tf.Tensor): tf.Tensor1D {
  const c = x.shape[x.rank - 1];
  const rows = x.size / c;
  return tf.tidy(() => tf.reshape(tf.matMul(tf.ones([1, rows]), tf.reshape(x, [rows, c])), [c]));
}

/**
 * dL/dx of a conv.
 * @param dy [B, h, w, O] @param w [kh, kw, I, O] @param xShape [B, H, W, I]
 */
export function conv2dInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, xShape: [number, number, number, number], spec: Conv2dSpec): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = w.shape;
    if (spec.stride === 1 && kh - 1 - spec.pad >= 0 && kh === kw) {
      // Transposed conv with stride 1 = correlation with the filter rotated by 180° and I/O swapped.
      const rotated = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
      return tf.conv2d(dy, rotated, 1, kh - 1 - spec.pad === 0 ? 'valid' : kh - 1 - spec.pad);
    }
    return tf.conv2dTranspose(dy, w, xShape, spec.stride, spec.pad === 0 ? 'valid' : spec.pad);
  });
}

/**
 * dL/dw of a conv, as one forward conv: out[i, ky, kx, o] = Σ_{b,y,x} xpad[b, s·y + ky, s·x + kx, i]·dy[b, y, x, o]
 * is a dilated (dilation s) valid conv of xpad^T [I, Hp, Wp, B] with the filter dy^T [h, w, B, O].
 * @param x [B, H, W, I] @param dy [B, h, w, O] -> [kh, kw, I, O]
 */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, kernel: number, spec: Conv2dSpec): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, , , inC] = x.shape;
    const [, h, w, outC] = dy.shape;
    if (kernel === 1 && spec.pad === 0) {
      // 1x1: dw = x_s^T · dy with x_s the subsampled input (a 1x1 max-pool with stride s).
      const xs = spec.stride === 1 ? x : tf.maxPool(x, 1, spec.stride, 'valid');
      const xt = tf.transpose(tf.reshape(xs, [b * h * w, inC]));
      return tf.reshape(tf.matMul(xt, tf.reshape(dy, [b * h * w, outC])), [1, 1, inC, outC]);
    }
    const p = spec.pad;
    const xp = p > 0 ? tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]) : x;
    const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [I, Hp, Wp, B]
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [h, w, B, O]
    let out = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', spec.stride); // [I, kh', kw', O], kh' >= kernel
    if (out.shape[1] !== kernel || out.shape[2] !== kernel) out = tf.slice(out, [0, 0, 0, 0], [inC, kernel, kernel, outC]);
    return tf.transpose(out, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** What the backward of a training-mode BatchNorm needs. */
export interface BatchNormTrainSaved {
  /** x − batch mean [..., C]. */
  centered: tf.Tensor;
  /** 1/√(batch var + ε) [C]. */
  invStd: tf.Tensor1D;
}

export interface BatchNormTrainResult extends BatchNormTrainSaved {
  y: tf.Tensor;
  /** Batch mean [C]. */
  mean: tf.Tensor1D;
  /** Biased batch variance [C] (what normalises; running_var gets the unbiased one). */
  variance: tf.Tensor1D;
}

/**
 * Training-mode BatchNorm over every axis but the last (batch statistics).
 * @param x [..., C] @param gamma [C] or undefined (no affine) @param beta [C] or undefined
 */
export function batchNormTrainForward(x: tf.Tensor, gamma: tf.Tensor1D | undefined, beta: tf.Tensor1D | undefined, eps: number): BatchNormTrainResult {
  return tf.tidy(() => {
    const c = x.shape[x.rank - 1];
    const n = x.size / c;
    const mean = tf.div(channelSum(x), n) as tf.Tensor1D;
    const centered = tf.sub(x, mean);
    const variance = tf.div(channelSum(tf.square(centered)), n) as tf.Tensor1D;
    const invStd = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor1D;
    const scale = gamma ? tf.mul(gamma, invStd) : invStd;
    let y = tf.mul(centered, scale);
    if (beta) y = tf.add(y, beta);
    return { y, mean, variance, centered, invStd };
  });
}

/**
 * Backward of batchNormTrainForward: with x̂ = centered·invStd,
 * dx = γ·invStd·(dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy.
 */
export function batchNormTrainBackward(
  dy: tf.Tensor,
  saved: BatchNormTrainSaved,
  gamma: tf.Tensor1D | undefined,
): { dx: tf.Tensor; dgamma: tf.Tensor1D; dbeta: tf.Tensor1D } {
  return tf.tidy(() => {
    const c = dy.shape[dy.rank - 1];
    const n = dy.size / c;
    const sumDy = channelSum(dy);
    const sumDyXc = channelSum(tf.mul(dy, saved.centered));
    const k1 = gamma ? tf.mul(gamma, saved.invStd) : saved.invStd; // γ/σ
    // dx = k1·dy − k1/n·Σdy − k1·invStd²/n·Σ(dy·xc)·xc
    const k2 = tf.neg(tf.div(tf.mul(tf.mul(k1, tf.square(saved.invStd)), sumDyXc), n));
    const k3 = tf.neg(tf.div(tf.mul(k1, sumDy), n));
    const dx = tf.add(tf.add(tf.mul(dy, k1), tf.mul(saved.centered, k2)), k3);
    return { dx, dgamma: tf.mul(sumDyXc, saved.invStd) as tf.Tensor1D, dbeta: sumDy };
  });
}

/** Backward of PReLU y = x if x > 0 else α·x. @param x the PReLU input [..., C] @param alpha [C] */
export function preluBackward(dy: tf.Tensor, x: tf.Tensor, alpha: tf.Tensor1D): { dx: tf.Tensor; dalpha: tf.Tensor1D } {
  return tf.tidy(() => {
    const positive = tf.greater(x, 0);
    const dx = tf.where(positive, dy, tf.mul(dy, alpha));
    const dalpha = channelSum(tf.mul(dy, tf.minimum(x, 0)));
    return { dx, dalpha };
  });
}

/**
 * Backward of the stride-2 subsampling x[:, ::2, ::2] (a 1x1 max-pool): dy goes back to the even
 * positions, zeros elsewhere. @param dy [B, h, w, C] @param xShape [B, H, W, C]
 */
export function subsampleBackward(dy: tf.Tensor4D, xShape: [number, number, number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = dy.shape;
    const [, H, W] = xShape;
    // [B, h, 1, w, 1, C] padded to [B, h, 2, w, 2, C] puts each value at an even position.
    const spread = tf.reshape(tf.pad(tf.reshape(dy, [b, h, 1, w, 1, c]), [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0]]), [b, 2 * h, 2 * w, c]);
    return (2 * h === H && 2 * w === W ? spread : tf.slice(spread, [0, 0, 0, 0], [b, H, W, c])) as tf.Tensor4D;
  });
}

/**
 * Dense layer backward without transposed matMuls: dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ dy.
 * @param x [B, K] @param w [K, D] @param dy [B, D]
 */
export function denseBackward(dy: tf.Tensor2D, x: tf.Tensor2D, w: tf.Tensor2D): { dx: tf.Tensor2D; dw: tf.Tensor2D; db: tf.Tensor1D } {
  return tf.tidy(() => ({
    dx: tf.matMul(dy, tf.transpose(w)),
    dw: tf.matMul(tf.transpose(x), dy),
    db: channelSum(dy),
  }));
}
