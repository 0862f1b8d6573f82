/**
 * Differentiable building blocks on tfjs whose backward passes avoid slow kernels.
 *
 * Why: tfjs's default matMul gradient calls matMul with transposeA/transposeB, which is 5-15x
 * slower than an explicit transpose on the wasm backend, and wasm has no gather gradient. These
 * ops transpose explicitly and select rows with one-hot products instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerMissingGradients } from './tf-gradients';

registerMissingGradients();

/** tf.customGrad's callback type (not exported by tfjs-core's public index). */
type CustomGradFunc = Parameters<typeof tf.customGrad>[0];

/** ‖x‖₂ along `axis` as sqrt(Σx²) (tf.norm goes through Abs and Pow). */
export function l2Norm(x: tf.Tensor, axis: number, keepDims = false): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(x), axis, keepDims));
}

/** Swaps the last two axes. */
export function transposeLast2(x: tf.Tensor): tf.Tensor {
  const r = x.rank;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
}

/**
 * Batched products run as one rank-2 product per batch item when the items are big enough: the
 * wasm backend sends only rank-2 products to XNNPACK; its batched kernel is 6-8x slower.
 */
const LOOP_MIN_ITEM_MACS = 65536;
const LOOP_MAX_BATCH = 64;

/**
 * Elements [start, start + size) of `x` along `axis`, copied through JS. tfjs-wasm's Slice (and
 * with it split and unstack) copies its whole input out of the heap for every call, and its Gather
 * moves one element at a time; reading the input once and uploading the part is faster than both.
 * No gradient (see sliceAlong).
 */
function take(x: tf.Tensor, axis: number, start: number, size: number): tf.Tensor {
  const shape = x.shape;
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const dim = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const v = x.dataSync() as Float32Array;
  const outShape = shape.map((d, i) => (i === axis ? size : d));
  if (outer === 1) return tf.tensor(v.slice(start * inner, (start + size) * inner), outShape);
  const out = new Float32Array(outer * size * inner);
  for (let o = 0; o < outer; o++) out.set(v.subarray((o * dim + start) * inner, (o * dim + start + size) * inner), o * size * inner);
  return tf.tensor(out, outShape);
}

/** a @ b without gradient bookkeeping: [..., M, K] × [..., K, N] with equal batch axes. */
function product(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.rank === 2 && b.rank === 2) return tf.matMul(a, b);
  const [M, K] = a.shape.slice(-2);
  const N = b.shape[b.rank - 1];
  const batch = a.shape.slice(0, -2);
  const count = batch.reduce((x, y) => x * y, 1);
  if (count > LOOP_MAX_BATCH || M * K * N < LOOP_MIN_ITEM_MACS) return tf.matMul(a, b);
  const av = a.dataSync() as Float32Array;
  const bv = b.dataSync() as Float32Array;
  const items = Array.from({ length: count }, (_, i) => tf.matMul(tf.tensor2d(av.subarray(i * M * K, (i + 1) * M * K), [M, K]), tf.tensor2d(bv.subarray(i * K * N, (i + 1) * K * N), [K, N])));
  return tf.reshape(tf.stack(items), [...batch, M, N]);
}

/**
 * Elements [start, start + size) of `x` along `axis`, differentiable (the gradient pads), without
 * tfjs-wasm's Slice kernel (see take).
 */
export function sliceAlong(x: tf.Tensor, axis: number, start: number, size: number): tf.Tensor {
  const ax = axis < 0 ? axis + x.rank : axis;
  const op = tf.customGrad(((input: tf.Tensor) => ({
    value: take(input, ax, start, size),
    gradFunc: (dy: tf.Tensor) => [tf.pad(dy, input.shape.map((d, i) => (i === ax ? [start, d - start - size] : [0, 0]) as [number, number]))],
  })) as CustomGradFunc) as (input: tf.Tensor) => tf.Tensor;
  return op(x);
}

/**
 * a @ b for [..., M, K] × [..., K, N] (equal batch axes, or rank-2 × rank-2), with a backward
 * pass made of plain products on explicitly transposed operands.
 */
export const matMul = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: product(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      return [product(dy, transposeLast2(sb)), product(transposeLast2(sa), dy)];
    },
  };
}) as CustomGradFunc) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/**
 * y = x Wᵀ + b as torch.nn.Linear, with W [out, in] kept in torch layout. The forward pass
 * computes (W xᵀ)ᵀ so the weight is the product's left operand: as the right one, XNNPACK would
 * repack it every call.
 * @param x [N, in]
 * @param weight [out, in]
 * @param bias [out]
 * @returns [N, out]
 */
export const linear = tf.customGrad(((x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, weight]);
  return {
    value: tf.add(tf.transpose(tf.matMul(weight, tf.transpose(x))), bias),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved;
      // dx = dy W with W on the left too: (Wᵀ dyᵀ)ᵀ (transposing W costs less than repacking it).
      return [tf.transpose(tf.matMul(tf.transpose(sw), tf.transpose(dy))), tf.matMul(tf.transpose(dy), sx), tf.sum(dy, 0)];
    },
  };
}) as CustomGradFunc) as (x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) => tf.Tensor;

const layerNormOp = (eps: number) =>
  tf.customGrad(((x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
    const mean = tf.mean(x, -1, true);
    const centred = tf.sub(x, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), eps));
    const xhat = tf.mul(centred, rstd);
    save([xhat, rstd, weight]);
    return {
      value: tf.add(tf.mul(xhat, weight), bias),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sxhat, srstd, sw] = saved;
        const D = dy.shape[dy.rank - 1];
        const rows = [-1, D];
        const dxhat = tf.mul(dy, sw);
        const dx = tf.mul(srstd, tf.sub(tf.sub(dxhat, tf.mean(dxhat, -1, true)), tf.mul(sxhat, tf.mean(tf.mul(dxhat, sxhat), -1, true))));
        return [dx, tf.sum(tf.reshape(tf.mul(dy, sxhat), rows), 0), tf.sum(tf.reshape(dy, rows), 0)];
      },
    };
  }) as CustomGradFunc) as (x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) => tf.Tensor;

const layerNormByEps = new Map<number, (x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) => tf.Tensor>();

/**
 * LayerNorm over the last axis with biased variance, as torch.nn.LayerNorm, with an analytic
 * backward pass.
 * @param x [..., D]
 * @param weight [D]
 * @param bias [D]
 */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  let op = layerNormByEps.get(eps);
  if (!op) layerNormByEps.set(eps, (op = layerNormOp(eps)));
  return op(x, weight, bias);
}

/**
 * The hard one-hot of argmax(soft) along the last axis, with the gradient passed to `soft`
 * unchanged (straight-through, torch's `y_hard - y_soft.detach() + y_soft`).
 */
export const straightThroughOneHot = tf.customGrad(((soft: tf.Tensor) => ({
  value: argMaxOneHot(soft).oneHot,
  gradFunc: (dy: tf.Tensor) => [tf.clone(dy)],
})) as CustomGradFunc) as (soft: tf.Tensor) => tf.Tensor;

/**
 * Float32 one-hot rows of integer indices. (tfjs-wasm's OneHot writes integer bits when asked for
 * float32 output, so the cast happens after.)
 */
export function oneHotFloat(indices: tf.Tensor | ArrayLike<number>, depth: number): tf.Tensor {
  const idx = indices instanceof tf.Tensor ? indices : tf.tensor1d(Int32Array.from(indices), 'int32');
  return tf.cast(tf.oneHot(idx, depth), 'float32');
}

/** One-hot rows (float32) of the argmax along the last axis (ties: the lowest index). */
export function argMaxOneHot(x: tf.Tensor): { index: tf.Tensor; oneHot: tf.Tensor } {
  const n = x.shape[x.rank - 1];
  // tf.oneHot refuses depth 1; a single item is always the pick.
  if (n === 1) return { index: tf.zeros(x.shape.slice(0, -1), 'int32'), oneHot: tf.onesLike(x) };
  const index = tf.argMax(x, -1);
  return { index, oneHot: oneHotFloat(index, n) };
}
