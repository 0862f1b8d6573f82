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

/**
 * Sum over every axis but the last: [..., C] -> [C]. On wasm, reductions over leading axes and
 * [1, N] x [N, C] products with a long N are slow (5-20 passes' worth); an average pool over the
 * whole map (one XNNPACK pass) followed by a [1, B] x [B, C] product is not.
 */
export function channelSum(x: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const c = x.shape[x.rank - 1];
    if (x.rank === 4) {
      const [b, h, w] = x.shape;
      const means = tf.reshape(tf.avgPool(x as tf.Tensor4D, [h, w], 1, 'valid'), [b, c]);
      return tf.mul(tf.reshape(tf.matMul(tf.ones([1, b]), means), [c]), h * w) as tf.Tensor1D;
    }
    const rows = x.size / c;
    return tf.reshape(tf.matMul(tf.ones([1, rows]), tf.reshape(x, [rows, c])), [c]);
  });
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
    if (spec.stride === 2 && kh === kw) return stride2InputGrad(dy, w, xShape, spec.pad);
    return tf.conv2dTranspose(dy, w, xShape, spec.stride, spec.pad === 0 ? 'valid' : spec.pad);
  });
}

/**
 * Input gradient of a stride-2 conv by phase decomposition: dx at (2a + py, 2b + px) is a small
 * stride-1 correlation of dy around (a, b) with the taps k ≡ py + pad (mod 2) of the filter. All
 * four phases come out of one forward conv with 4·I output channels, then get interleaved.
 * (tfjs's Conv2DBackpropInput on wasm is several times slower.)
 */
function stride2InputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, xShape: [number, number, number, number], pad: number): tf.Tensor4D {
  const [k, , inC, outC] = w.shape;
  const [b, h, ww] = dy.shape;
  // Offsets d = p − a of the dy rows feeding dx row 2a + ph, from k = ph + pad − 2d.
  const taps: { ph: number; d: number; k: number }[] = [];
  for (let ph = 0; ph < 2; ph++) for (let kk = 0; kk < k; kk++) if ((ph + pad - kk) % 2 === 0) taps.push({ ph, d: (ph + pad - kk) / 2, k: kk });
  const dMin = Math.min(...taps.map((t) => t.d));
  const dMax = Math.max(...taps.map((t) => t.d));
  const span = dMax - dMin + 1;
  // Selection matrix S [span·span·4, k·k]: phase filter tap (ty, tx, py, px) <- filter tap (ky, kx).
  const sel = new Float32Array(span * span * 4 * k * k);
  for (const ty of taps)
    for (const tx of taps) {
      const row = ((ty.d - dMin) * span + (tx.d - dMin)) * 4 + ty.ph * 2 + tx.ph;
      sel[row * k * k + ty.k * k + tx.k] = 1;
    }
  const phaseFilter = tf.reshape(
    tf.transpose(tf.reshape(tf.matMul(tf.tensor2d(sel, [span * span * 4, k * k]), tf.reshape(w, [k * k, inC * outC])), [span, span, 4, inC, outC]), [0, 1, 4, 2, 3]),
    [span, span, outC, 4 * inC],
  ) as tf.Tensor4D;
  const padded = tf.pad(dy, [
    [0, 0],
    [-dMin, dMax],
    [-dMin, dMax],
    [0, 0],
  ]);
  const phases = tf.conv2d(padded as tf.Tensor4D, phaseFilter, 1, 'valid'); // [B, h, w, 4·I], channel (py·2 + px)·I + i
  // Interleave: [B, h, w, py, px, I] -> [B, h, py, w, px, I] (a transpose; wasm's DepthToSpace is ~5x slower).
  const full = tf.reshape(tf.transpose(tf.reshape(phases, [b, h, ww, 2, 2, inC]), [0, 1, 3, 2, 4, 5]), [b, 2 * h, 2 * ww, inC]);
  const [, H, W] = xShape;
  if (2 * h < H || 2 * ww < W) throw new Error(`stride-2 input gradient: dy ${h}x${ww} cannot cover x ${H}x${W}`);
  return (2 * h === H && 2 * ww === W ? full : tf.slice(full, [0, 0, 0, 0], [b, H, W, inC])) as tf.Tensor4D;
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
    // Unary ops and channel broadcasts only: comparisons and min/max against a scalar are slow on wasm.
    const positive = tf.step(x); // 1 where x > 0, else 0
    const slope = tf.add(tf.mul(positive, tf.sub(1, alpha)), alpha); // 1 or α
    const dx = tf.mul(dy, slope);
    const dalpha = tf.neg(channelSum(tf.mul(dy, tf.relu(tf.neg(x))))) as tf.Tensor1D; // Σ dy·min(x, 0)
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
