/**
 * The explicit backward pieces of train-ops.ts against central finite differences of plain float64
 * JavaScript forwards (this file), on wasm and cpu. Loss = Σ output·R for a fixed random R, so the
 * gradient of the loss is the vector-Jacobian product the backward computes. Tolerance: 1e-4 of the
 * largest reference magnitude (float32 arithmetic against float64).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import {
  batchNormTrainBackward,
  batchNormTrainForward,
  channelSum,
  conv2dFilterGrad,
  conv2dInputGrad,
  denseBackward,
  preluBackward,
  subsampleBackward,
} from '../src/backbone';
import { maxRelToMax } from './backbone-fixtures';
import { Arr, bnRef, convRef, dot, numericGrad, randArr } from './backbone-f64';

const t32 = (a: Arr, shape: number[]) => tf.tensor(Float32Array.from(a), shape);

type Case = { name: string; ours: () => tf.Tensor[]; reference: () => Float32Array[] };

const X_SHAPE = [2, 7, 6, 3];
const convCases: [string, number, 1 | 2, number][] = [
  ['3x3 stride 1 pad 1', 3, 1, 1],
  ['3x3 stride 2 pad 1 (odd map)', 3, 2, 1],
  ['1x1 stride 2', 1, 2, 0],
  ['1x1 stride 1', 1, 1, 0],
];

const CASES: Case[] = [
  ...convCases.map(([name, k, stride, pad]): Case => {
    const O = 5;
    const x = randArr(X_SHAPE, 1);
    const w = randArr([k, k, 3, O], 2);
    const yShape = convRef(x, X_SHAPE, w, k, O, stride, pad).shape;
    const r = randArr(yShape, 3);
    const loss = () => dot(convRef(x, X_SHAPE, w, k, O, stride, pad).y, r);
    return {
      name: `conv ${name}: filter and input gradients`,
      ours: () => [
        conv2dFilterGrad(t32(x, X_SHAPE) as tf.Tensor4D, t32(r, yShape) as tf.Tensor4D, k, { stride, pad }),
        conv2dInputGrad(t32(r, yShape) as tf.Tensor4D, t32(w, [k, k, 3, O]) as tf.Tensor4D, [2, 7, 6, 3], { stride, pad }),
      ],
      reference: () => [numericGrad(loss, w), numericGrad(loss, x)],
    };
  }),
  ...[true, false].map((affine): Case => {
    const shape = [3, 4, 5, 6];
    const x = randArr(shape, 4);
    const g = randArr([6], 5);
    const b = randArr([6], 6);
    const r = randArr(shape, 7);
    const loss = () => dot(bnRef(x, 6, affine ? g : undefined, affine ? b : undefined).y, r);
    return {
      name: `batch norm, train mode${affine ? '' : ', no affine'}: forward, statistics, gradients`,
      ours: () => {
        const gt = affine ? (t32(g, [6]) as tf.Tensor1D) : undefined;
        const f = batchNormTrainForward(t32(x, shape), gt, affine ? (t32(b, [6]) as tf.Tensor1D) : undefined, 1e-5);
        const back = batchNormTrainBackward(t32(r, shape), f, gt);
        return [f.y, f.mean, f.variance, back.dx, ...(affine ? [back.dgamma, back.dbeta] : [])];
      },
      reference: () => {
        const f = bnRef(x, 6, affine ? g : undefined, affine ? b : undefined);
        return [f.y, f.mean, f.variance, numericGrad(loss, x), ...(affine ? [numericGrad(loss, g), numericGrad(loss, b)] : [])].map((a) => Float32Array.from(a));
      },
    };
  }),
  (() => {
    const shape = [2, 3, 3, 4];
    const x = randArr(shape, 8);
    const a = Float64Array.from([0.1, 0.2, 0.3, 0.4]);
    const r = randArr(shape, 9);
    const loss = () => dot(x.map((v, i) => (v > 0 ? v : a[i % 4] * v)), r);
    return {
      name: 'prelu: input and slope gradients',
      ours: () => {
        const back = preluBackward(t32(r, shape), t32(x, shape), t32(a, [4]) as tf.Tensor1D);
        return [back.dx, back.dalpha];
      },
      reference: () => [numericGrad(loss, x), numericGrad(loss, a)],
    };
  })(),
  ...[
    [7, 6],
    [8, 4],
  ].map(([H, W]): Case => {
    const h = Math.ceil(H / 2);
    const w = Math.ceil(W / 2);
    const x = randArr([2, H, W, 2], 11);
    const r = randArr([2, h, w, 2], 10);
    const sub = () => {
      const out: number[] = [];
      for (let b = 0; b < 2; b++) for (let y = 0; y < H; y += 2) for (let xx = 0; xx < W; xx += 2) for (let c = 0; c < 2; c++) out.push(x[((b * H + y) * W + xx) * 2 + c]);
      return Float64Array.from(out);
    };
    return {
      name: `stride-2 subsampling of a ${H}x${W} map`,
      ours: () => [subsampleBackward(t32(r, [2, h, w, 2]) as tf.Tensor4D, [2, H, W, 2])],
      reference: () => [numericGrad(() => dot(sub(), r), x)],
    };
  }),
  (() => {
    const x = randArr([4, 6], 13);
    const w = randArr([6, 3], 14);
    const bias = randArr([3], 15);
    const r = randArr([4, 3], 12);
    const c = randArr([2, 3, 4, 5], 16);
    const loss = () => {
      let s = 0;
      for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) {
        let v = bias[j];
        for (let k = 0; k < 6; k++) v += x[i * 6 + k] * w[k * 3 + j];
        s += v * r[i * 3 + j];
      }
      return s;
    };
    return {
      name: 'dense layer and channel sums',
      ours: () => {
        const b = denseBackward(t32(r, [4, 3]) as tf.Tensor2D, t32(x, [4, 6]) as tf.Tensor2D, t32(w, [6, 3]) as tf.Tensor2D);
        return [b.dx, b.dw, b.db, channelSum(t32(c, [2, 3, 4, 5]))];
      },
      reference: () => {
        const sums = new Float32Array(5);
        c.forEach((v, i) => (sums[i % 5] += v));
        return [numericGrad(loss, x), numericGrad(loss, w), numericGrad(loss, bias), sums];
      },
    };
  })(),
];

describe.each(['wasm', 'cpu'])('training ops on %s vs float64 finite differences', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, log: null });
  });
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const got = tf.tidy(() => c.ours()).map((t) => t.dataSync() as Float32Array);
    const want = c.reference();
    expect(got.map((g) => g.length)).toEqual(want.map((w) => w.length));
    const errors = got.map((g, i) => maxRelToMax(g, want[i]));
    expect(errors.filter((e) => !(e < 1e-4))).toEqual([]);
  });
});
