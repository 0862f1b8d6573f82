/**
 * Every gradient rule registered by tf-gradients.ts (and the custom-gradient ops of tf-ops.ts)
 * against central finite differences of the same tfjs forward pass. Inputs are O(1), the step is
 * 1e-2 and the loss is a fixed random projection, so float32 rounding stays below ~1e-4 relative;
 * a wrong rule is off by O(1). Tolerance: 2e-3 relative L2 per input.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@facecoreset/common';
import { initBackend } from '../src/backend';
import { GRADIENT_KERNELS } from '../src/tf-gradients';
import { l2Norm, layerNorm, linear, matMul, straightThroughOneHot } from '../src/tf-ops';

type Fn = (...xs: tf.Tensor[]) => tf.Tensor;

interface Case {
  name: string;
  /** kernels whose gradient rule the case exercises */
  kernels: string[];
  shapes: number[][];
  fn: Fn;
  /** keeps inputs where the function is smooth (e.g. positive for log) */
  positive?: boolean;
}

const CASES: Case[] = [
  { name: 'add with broadcasting', kernels: ['Add'], shapes: [[2, 3, 4], [3, 1]], fn: (a, b) => tf.add(a, b) },
  { name: 'sub with broadcasting', kernels: ['Sub'], shapes: [[4], [2, 3, 4]], fn: (a, b) => tf.sub(a, b) },
  { name: 'mul with broadcasting', kernels: ['Multiply'], shapes: [[2, 1, 4], [1, 3, 4]], fn: (a, b) => tf.mul(a, b) },
  { name: 'div', kernels: ['RealDiv'], shapes: [[3, 4], [4]], fn: (a, b) => tf.div(a, b), positive: true },
  { name: 'maximum / minimum', kernels: ['Maximum', 'Minimum'], shapes: [[5, 4], [5, 4]], fn: (a, b) => tf.add(tf.maximum(a, b), tf.mul(tf.minimum(a, b), 3)) },
  { name: 'neg, square, sqrt', kernels: ['Neg', 'Square', 'Sqrt'], shapes: [[6]], fn: (a) => tf.add(tf.neg(tf.square(a)), tf.sqrt(a)), positive: true },
  { name: 'exp, log', kernels: ['Exp', 'Log'], shapes: [[6]], fn: (a) => tf.add(tf.exp(a), tf.log(a)), positive: true },
  { name: 'sin, cos', kernels: ['Sin', 'Cos'], shapes: [[7]], fn: (a) => tf.mul(tf.sin(a), tf.cos(tf.mul(a, 2))) },
  { name: 'acos', kernels: ['Acos'], shapes: [[6]], fn: (a) => tf.acos(tf.mul(tf.sin(a), 0.8)) },
  { name: 'clipByValue (inside and outside the range)', kernels: ['ClipByValue'], shapes: [[8]], fn: (a) => tf.clipByValue(tf.mul(a, 2), -1, 1) },
  { name: 'reshape, expandDims, transpose', kernels: ['Reshape', 'ExpandDims', 'Transpose'], shapes: [[2, 3, 4]], fn: (a) => tf.transpose(tf.expandDims(tf.reshape(a, [6, 4]), 1), [2, 0, 1]) },
  { name: 'sum over axes, kept or not', kernels: ['Sum'], shapes: [[2, 3, 4]], fn: (a) => tf.add(tf.sum(a, [0, 2]), tf.sum(tf.sum(a, -1, true), 0)) },
  { name: 'softmax', kernels: ['Softmax'], shapes: [[3, 5]], fn: (a) => tf.softmax(tf.mul(a, 2)) },
  { name: 'concat, split', kernels: ['Concat', 'SplitV'], shapes: [[2, 3], [2, 2]], fn: (a, b) => tf.mul(tf.split(tf.concat([a, b], 1), [1, 4], 1)[1], 2) },
  { name: 'slice', kernels: ['Slice'], shapes: [[4, 5]], fn: (a) => tf.slice(a, [1, 2], [2, 3]) },
  { name: 'cast and identity', kernels: ['Cast', 'Identity'], shapes: [[4]], fn: (a) => tf.clone(tf.cast(a, 'float32')) },
  { name: 'matMul (explicit-transpose backward)', kernels: [], shapes: [[2, 3, 4], [2, 4, 5]], fn: (a, b) => matMul(a, b) },
  { name: 'linear', kernels: [], shapes: [[3, 4], [5, 4], [5]], fn: (x, w, b) => linear(x, w, b) },
  { name: 'layerNorm', kernels: [], shapes: [[3, 6], [6], [6]], fn: (x, w, b) => layerNorm(x, w, b, 1e-5) },
  { name: 'l2Norm', kernels: [], shapes: [[3, 4]], fn: (x) => l2Norm(x, -1, true) },
];

function randomInput(rng: Rng, shape: number[], positive: boolean): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => (positive ? 0.5 + rng.float() : 2 * rng.float() - 1));
}

/** Relative L2 distance between analytic and numeric gradients of each input. */
function gradientErrors(c: Case, rng: Rng): number[] {
  const inputs = c.shapes.map((s) => randomInput(rng, s, !!c.positive));
  const outShape = tf.tidy(() => c.fn(...inputs.map((v, i) => tf.tensor(v, c.shapes[i]))).shape);
  const proj = tf.tensor(randomInput(rng, outShape, false), outShape);
  const loss = (...xs: tf.Tensor[]) => tf.sum(tf.mul(c.fn(...xs), proj)) as tf.Scalar;
  const analytic = tf.tidy(() => tf.grads(loss)(inputs.map((v, i) => tf.tensor(v, c.shapes[i]))).map((g) => g.dataSync().slice()));
  const lossAt = (vals: Float32Array[]) => tf.tidy(() => loss(...vals.map((v, i) => tf.tensor(v, c.shapes[i]))).dataSync()[0]);
  const h = 1e-2;
  const errors = inputs.map((v, i) => {
    const numeric = new Float64Array(v.length);
    for (let k = 0; k < v.length; k++) {
      const plus = inputs.map((x) => x.slice());
      const minus = inputs.map((x) => x.slice());
      plus[i][k] += h;
      minus[i][k] -= h;
      numeric[k] = (lossAt(plus) - lossAt(minus)) / (2 * h);
    }
    let num = 0;
    let den = 0;
    for (let k = 0; k < v.length; k++) {
      num += (analytic[i][k] - numeric[k]) ** 2;
      den += numeric[k] ** 2;
    }
    return Math.sqrt(num / Math.max(den, 1e-12));
  });
  proj.dispose();
  return errors;
}

describe.each(['wasm', 'cpu'] as const)('gradient rules on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, log: null });
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const errors = gradientErrors(c, Rng.stream(5, c.name));
    for (const e of errors) expect(e).toBeLessThanOrEqual(2e-3);
  });

  it('the cases cover every registered rule', () => {
    const covered = new Set(CASES.flatMap((c) => c.kernels));
    expect(GRADIENT_KERNELS.filter((k) => !covered.has(k))).toEqual([]);
  });

  it('straight-through one-hot: forward is the hard argmax, backward passes through unchanged', () => {
    tf.tidy(() => {
      const soft = tf.tensor2d([
        [0.1, 0.7, 0.2],
        [0.5, 0.2, 0.3],
      ]);
      expect(Array.from(straightThroughOneHot(soft).dataSync())).toEqual([0, 1, 0, 1, 0, 0]);
      const w = tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const g = tf.grad((s: tf.Tensor) => tf.sum(tf.mul(straightThroughOneHot(s), w)))(soft);
      expect(Array.from(g.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    });
  });
});
