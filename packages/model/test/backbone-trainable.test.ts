/**
 * The trainable IResNet (training-mode forward + explicit backward through tf.customGrad) against a
 * plain float64 JavaScript network written from the PyTorch semantics (NCHW flatten, OIHW filters,
 * batch statistics, running statistics with momentum 0.1 and the unbiased variance): outputs,
 * running statistics, and every parameter's gradient by central finite differences, on wasm and cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { IResNetWeights, TrainableIResNet, initIResNetWeights, iresnetConfig, iresnetTensorSpecs, iresnetUnits, seededNormal } from '../src/backbone';
import { Arr, bnRef, convRef, dot, numericGrad, randArr } from './backbone-f64';
import { maxRelToMax } from './backbone-fixtures';

const config = iresnetConfig({ widths: [3, 4], units: [2, 1], embeddingSize: 5, inputSize: 7 });
const B = 3;
const X_SHAPE = [B, 7, 7, 3];

function weights(): IResNetWeights {
  const w = initIResNetWeights(config, 11);
  const normal = seededNormal(12);
  for (const s of iresnetTensorSpecs(config)) {
    const d = w.tensors.get(s.name);
    if (!d) continue;
    if (s.kind === 'bn.weight') d.forEach((_, i) => (d[i] = 1 + 0.2 * normal()));
    if (s.kind === 'bn.bias' || s.kind === 'linear.bias' || s.kind === 'bn.running_mean') d.forEach((_, i) => (d[i] = 0.2 * normal()));
    if (s.kind === 'prelu') d.forEach((_, i) => (d[i] = 0.1 + 0.1 * Math.abs(normal())));
  }
  return w;
}

/** OIHW -> HWIO */
function hwio(w: Arr, [o, i, k]: number[]): Arr {
  const out = new Float64Array(w.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) out[((y * k + x) * i + b) * o + a] = w[((a * i + b) * k + y) * k + x];
  return out;
}

type Stats = Map<string, { mean: Arr; variance: Arr; n: number }>;

/** Training-mode forward in float64 from PyTorch-layout parameters; `mask` multiplies the output BN2d. */
function referenceForward(p: Map<string, Arr>, x: Arr, mask?: Arr): { pre: Arr; stats: Stats } {
  const stats: Stats = new Map();
  const bn = (v: Arr, name: string, C: number, affine = true) => {
    const r = bnRef(v, C, affine ? p.get(`${name}.weight`) : undefined, affine ? p.get(`${name}.bias`) : undefined);
    stats.set(name, { mean: r.mean, variance: r.variance, n: v.length / C });
    return r.y;
  };
  const prelu = (v: Arr, a: Arr, C: number) => v.map((t, i) => (t > 0 ? t : a[i % C] * t));
  let shape = X_SHAPE;
  const conv = (v: Arr, name: string, O: number, I: number, k: number, stride: number, pad: number) => {
    const r = convRef(v, shape, hwio(p.get(name)!, [O, I, k]), k, O, stride, pad);
    return r;
  };
  const w0 = config.widths[0];
  const r = conv(x, 'input_layer.0.weight', w0, 3, 3, 1, 1);
  shape = r.shape;
  let h = prelu(bn(r.y, 'input_layer.1', w0), p.get('input_layer.2.weight')!, w0);
  for (const u of iresnetUnits(config)) {
    const q = `body.${u.index}`;
    const inShape = shape;
    const t1 = bn(h, `${q}.res_layer.0`, u.inChannels);
    const c1 = conv(t1, `${q}.res_layer.1.weight`, u.outChannels, u.inChannels, 3, 1, 1);
    shape = c1.shape;
    const a = prelu(bn(c1.y, `${q}.res_layer.2`, u.outChannels), p.get(`${q}.res_layer.3.weight`)!, u.outChannels);
    const c2 = conv(a, `${q}.res_layer.4.weight`, u.outChannels, u.outChannels, 3, u.stride, 1);
    const res = bn(c2.y, `${q}.res_layer.5`, u.outChannels);
    let sc: Arr;
    shape = inShape;
    if (u.inChannels !== u.outChannels) sc = bn(conv(h, `${q}.shortcut_layer.0.weight`, u.outChannels, u.inChannels, 1, u.stride, 0).y, `${q}.shortcut_layer.1`, u.outChannels);
    else if (u.stride === 1) sc = h;
    else {
      const [b, H, W, C] = inShape;
      const out: number[] = [];
      for (let n = 0; n < b; n++) for (let y = 0; y < H; y += 2) for (let xx = 0; xx < W; xx += 2) for (let c = 0; c < C; c++) out.push(h[((n * H + y) * W + xx) * C + c]);
      sc = Float64Array.from(out);
    }
    shape = c2.shape;
    h = res.map((v, i) => v + sc[i]);
  }
  const [b, H, W, C] = shape;
  let t = bn(h, 'output_layer.0', C);
  if (mask) t = t.map((v, i) => v * mask[i]);
  const D = config.embeddingSize;
  const K = C * H * W;
  const lw = p.get('output_layer.3.weight')!;
  const lb = p.get('output_layer.3.bias')!;
  const lin = new Float64Array(b * D);
  for (let n = 0; n < b; n++)
    for (let d = 0; d < D; d++) {
      let acc = lb[d];
      for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) acc += lw[d * K + (c * H + y) * W + xx] * t[((n * H + y) * W + xx) * C + c];
      lin[n * D + d] = acc;
    }
  return { pre: bn(lin, 'output_layer.4', D, false), stats };
}

const numericCache = new Map<number, Map<string, Float32Array>>();

describe.each(['wasm', 'cpu'])('trainable IResNet on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, log: null });
  });

  it('converts to its layouts and back without change', () => {
    const w = weights();
    const net = TrainableIResNet.fromWeights(w);
    const back = net.toWeights();
    for (const [k, v] of w.tensors) expect([k, back.tensors.get(k)!.every((x, i) => x === v[i])]).toEqual([k, true]);
    net.dispose();
  });

  it.each([0, 0.5])('dropout %p: output, running statistics and every gradient match the float64 network', (dropout) => {
    const w = weights();
    const net = TrainableIResNet.fromWeights(w);
    const x = randArr(X_SHAPE, 13);
    const r = randArr([B, config.embeddingSize], 14);
    const seed = 99;
    const xT = tf.tensor4d(Float32Array.from(x), X_SHAPE as [number, number, number, number]);
    let pre: Float32Array = new Float32Array();
    const rT = tf.tensor2d(Float32Array.from(r), [B, config.embeddingSize]);
    // Loss Σ pre·R with its own gradient, so the test needs no registered gradient of Sum or Mul.
    const loss = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({ value: tf.sum(tf.mul(args[0] as tf.Tensor, rT)), gradFunc: (dy: tf.Tensor) => tf.mul(dy, rT) }));
    const { grads } = tf.variableGrads(() => {
      const out = net.forwardTrain(xT, { dropout, dropoutSeed: seed });
      pre = out.dataSync() as Float32Array;
      return loss(out) as tf.Scalar;
    }, net.variables());
    // The dropout mask the network drew, rebuilt from the same seeded generator.
    const finalShape = [B, 2, 2, 4];
    const mask = dropout > 0 ? Float64Array.from(tf.tidy(() => tf.div(tf.cast(tf.greaterEqual(tf.randomUniform(finalShape, 0, 1, 'float32', seed), dropout), 'float32'), 1 - dropout)).dataSync()) : undefined;

    const params = new Map([...w.tensors].map(([k, v]) => [k, Float64Array.from(v)]));
    const ref = referenceForward(params, x, mask);
    expect(maxRelToMax(pre, ref.pre)).toBeLessThan(1e-5);

    // Running statistics after one step, PyTorch's update rule.
    for (const [name, s] of ref.stats) {
      const mean = w.tensors.get(`${name}.running_mean`)!;
      const variance = w.tensors.get(`${name}.running_var`)!;
      const wantMean = Float64Array.from(mean, (m, i) => 0.9 * m + 0.1 * s.mean[i]);
      const wantVar = Float64Array.from(variance, (v, i) => 0.9 * v + (0.1 * s.variance[i] * s.n) / (s.n - 1));
      expect([name, maxRelToMax(net.running.get(`${name}.running_mean`)!, wantMean) < 1e-5]).toEqual([name, true]);
      expect([name, maxRelToMax(net.running.get(`${name}.running_var`)!, wantVar) < 1e-5]).toEqual([name, true]);
      expect(net.counters.get(`${name}.num_batches_tracked`)).toBe(1);
    }

    // Gradients, converted back to PyTorch layouts through a second network holding them as weights.
    const gradNet = TrainableIResNet.fromWeights(w);
    for (const [k, v] of gradNet.params) v.assign(grads[net.params.get(k)!.name]);
    const g = gradNet.toWeights().tensors;
    const numeric = numericCache.get(dropout) ?? new Map<string, Float32Array>();
    if (!numericCache.has(dropout)) {
      for (const [name, value] of params) {
        if (!name.includes('running_')) numeric.set(name, numericGrad(() => dot(referenceForward(params, x, mask).pre, r), value, 1e-6));
      }
      numericCache.set(dropout, numeric); // the same on every backend
    }
    expect(numeric.size).toBe(net.variables().length);
    // Biases followed (through any path) by a training-mode BatchNorm have a true gradient of 0, so
    // each tensor's error is relative to its own largest value or 1e-3 of the largest of all, whichever is larger.
    const globalMax = Math.max(...[...numeric.values()].map((a) => Math.max(...a.map(Math.abs))));
    const errors = [...numeric].map(([name, num]): [string, number] => {
      const ours = g.get(name)!;
      const diff = Math.max(...num.map((v, i) => Math.abs(v - ours[i])));
      return [name, diff / Math.max(Math.max(...num.map(Math.abs)), 1e-3 * globalMax)];
    });
    expect(errors.filter(([, e]) => !(e < 1e-3))).toEqual([]);
    net.dispose();
    gradNet.dispose();
  });

  it('refuses a batch of one (no batch statistics)', () => {
    const net = TrainableIResNet.fromWeights(weights());
    expect(() => net.forwardTrain(tf.zeros([1, 7, 7, 3]) as tf.Tensor4D)).toThrow(/at least 2 images/);
    net.dispose();
  });
});
