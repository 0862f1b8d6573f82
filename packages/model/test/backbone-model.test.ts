/**
 * IResNet shapes and the folded eval forward against a plain unfolded forward (backbone-reference.ts)
 * on small networks with non-trivial BatchNorm statistics, on wasm and cpu.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import {
  IRESNET_ARCHS,
  IResNetInference,
  IResNetWeights,
  initIResNetWeights,
  iresnetConfig,
  iresnetFlattenSize,
  iresnetTensorSpecs,
  iresnetUnits,
  iresnetValueCount,
  seededNormal,
} from '../src/backbone';
import { BACKBONE_FIXTURES, maxRelToMax } from './backbone-fixtures';
import { referenceForward } from './backbone-reference';

describe('IResNet configurations', () => {
  it('has the official unit counts (get_blocks) and ir_18 has the fixture checkpoint tensor list', () => {
    expect(IRESNET_ARCHS.map((a) => iresnetConfig(a).units)).toEqual([
      [2, 2, 2, 2],
      [3, 4, 6, 3],
      [3, 4, 14, 3],
      [3, 13, 30, 3],
    ]);
    const manifest = JSON.parse(fs.readFileSync(path.join(BACKBONE_FIXTURES, 'manifest.json'), 'utf8'));
    const expected = Object.entries(manifest.state_dict_keys as Record<string, { shape: number[] }>).map(([k, v]) => [k, v.shape]);
    const ours = iresnetTensorSpecs(iresnetConfig('ir_18')).map((s) => [`model.${s.name}`, s.shape]);
    expect(ours).toEqual(expected); // same names, shapes and registration order
    expect(iresnetValueCount(iresnetConfig('ir_18'))).toBe(manifest.checkpoint.n_float_values);
  });

  it('computes strides and map sizes for any input size (ceil halving per stage)', () => {
    const c = iresnetConfig({ widths: [8, 16], units: [2, 1], embeddingSize: 4, inputSize: 9 });
    expect(iresnetUnits(c).map((u) => [u.inChannels, u.outChannels, u.stride, u.inSize, u.outSize])).toEqual([
      [8, 8, 2, 9, 5],
      [8, 8, 1, 5, 5],
      [8, 16, 2, 5, 3],
    ]);
    expect(iresnetFlattenSize(c)).toBe(16 * 3 * 3);
  });

  it('rejects unknown keys, unknown architectures and inconsistent lists', () => {
    expect(() => iresnetConfig({ widths: [8], units: [1], depth: 3 } as never)).toThrow(/unknown key 'depth'/);
    expect(() => iresnetConfig('ir_200' as never)).toThrow(/unknown IResNet architecture 'ir_200'.*ir_18, ir_34, ir_50, ir_101/);
    expect(() => iresnetConfig({ widths: [8, 16], units: [1] })).toThrow(/units must be 2 positive integers/);
  });
});

/** Non-trivial BatchNorm statistics, affine parameters, PReLU slopes and Linear bias. */
function randomized(w: IResNetWeights, seed: number): IResNetWeights {
  const normal = seededNormal(seed);
  for (const spec of iresnetTensorSpecs(w.config)) {
    const data = w.tensors.get(spec.name);
    if (!data) continue;
    for (let i = 0; i < data.length; i++) {
      if (spec.kind === 'bn.running_mean' || spec.kind === 'bn.bias' || spec.kind === 'linear.bias') data[i] = 0.1 * normal();
      else if (spec.kind === 'bn.running_var') data[i] = 0.5 + Math.abs(normal()) * 0.5;
      else if (spec.kind === 'bn.weight') data[i] = 1 + 0.1 * normal();
      else if (spec.kind === 'prelu') data[i] = 0.1 + 0.2 * Math.abs(normal());
    }
  }
  return w;
}

describe.each(['wasm', 'cpu'])('folded eval forward on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, log: null });
  });

  const cases: [string, Parameters<typeof iresnetConfig>[0]][] = [
    ['four stages, 32 px, width changes inside', { widths: [8, 16, 24, 32], units: [1, 2, 1, 1], embeddingSize: 16, inputSize: 32 }],
    ['odd input size (odd maps subsampled)', { widths: [8, 12], units: [2, 2], embeddingSize: 8, inputSize: 13 }],
  ];
  it.each(cases)('%s: equals the unfolded forward within 1e-5 of the max', (_name, spec) => {
    const w = randomized(initIResNetWeights(iresnetConfig(spec), 3), 4);
    const c = w.config;
    // One channel with BatchNorm scale exactly 0 exercises the unfoldable pre-norm path.
    w.tensors.get('body.1.res_layer.0.weight')![1] = 0;
    const x = tf.randomNormal([3, c.inputSize, c.inputSize, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const model = IResNetInference.fromWeights(w);
    const out = model.forward(x, { intermediates: true });
    const ref = referenceForward(w, x);
    const pre = ref.pre.dataSync();
    expect(maxRelToMax(out.intermediates!.get('output_layer')!.dataSync(), pre)).toBeLessThan(1e-5);
    ref.units.forEach((u, i) => expect([i, maxRelToMax(out.intermediates!.get(`body.${i}`)!.dataSync(), u.dataSync()) < 1e-5]).toEqual([i, true]));
    const emb = out.embedding.dataSync();
    const norm = out.norm.dataSync();
    for (let b = 0; b < 3; b++) {
      const row = pre.slice(b * c.embeddingSize, (b + 1) * c.embeddingSize);
      const len = Math.hypot(...row);
      expect(Math.abs(norm[b] - len) / len).toBeLessThan(1e-5);
      for (let d = 0; d < c.embeddingSize; d++) expect(emb[b * c.embeddingSize + d]).toBeCloseTo(row[d] / len, 5);
    }
    model.dispose();
  });

  it('names the expected shape when the input is not [B, S, S, 3]', () => {
    const model = IResNetInference.fromWeights(initIResNetWeights(iresnetConfig({ widths: [4], units: [1], embeddingSize: 4, inputSize: 8 })));
    expect(() => model.forward(tf.zeros([1, 3, 8, 8]) as tf.Tensor4D)).toThrow('IResNet forward: expected images [B, 8, 8, 3] (NHWC), got [1, 3, 8, 8]');
    model.dispose();
  });
});
