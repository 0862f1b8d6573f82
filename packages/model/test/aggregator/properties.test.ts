/**
 * Invariants of the aggregator beyond the fixture cases: order invariance (distinct norms), the
 * coreset is made of the set's own rows n_i·f_i with |coreset| = min(K, T), the eval paths agree on
 * random sets of many sizes, train mode is reproducible from its seed, and bad inputs fail clearly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@facecoreset/common';
import { initBackend } from '../../src/backend';
import { FaceCoresetNet } from '../../src/aggregator/facecoresetnet';
import { seededTrainRandomness } from '../../src/aggregator/randomness';
import { TemplateSet, aggregateOfSet } from '../../src/aggregator/types';
import { aggregateBaseline } from '../../src/aggregator/baselines';
import { AdaFaceHead } from '../../src/head/adaface';
import { aggregatorTrainGradients } from '../../src/training/gradients';
import { checkpointStateDict, evalCase, maxAbsDiff } from './fixtures';

const D = 512;

function randomSet(rng: Rng, T: number): TemplateSet {
  const features = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += (features[t * D + j] = rng.float() - 0.5) ** 2;
    for (let j = 0; j < D; j++) features[t * D + j] /= Math.sqrt(s);
  }
  return { features, norms: Float32Array.from({ length: T }, () => 5 + 30 * rng.float()) };
}

function permuted(set: TemplateSet, perm: number[]): TemplateSet {
  const features = new Float32Array(set.features.length);
  perm.forEach((src, dst) => features.set(set.features.subarray(src * D, (src + 1) * D), dst * D));
  return { features, norms: Float32Array.from(perm, (src) => set.norms[src]) };
}

describe('aggregator properties', () => {
  let model: FaceCoresetNet;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: null });
    model = FaceCoresetNet.fromStateDict(checkpointStateDict());
  });
  afterAll(() => model.dispose());

  it('is invariant to the order of the items', () => {
    const c = evalCase('T20');
    const set = { features: c.features, norms: c.norms };
    const perm = Rng.stream(3).shuffle(Array.from({ length: c.T }, (_, i) => i));
    const a = aggregateOfSet(model.aggregate([set]), 0);
    const b = aggregateOfSet(model.aggregate([permuted(set, perm)]), 0);
    expect(maxAbsDiff(a.aggregate, b.aggregate)).toBeLessThanOrEqual(1e-6);
    expect(b.indices.map((i) => perm[i])).toEqual(a.indices);
    const mean = aggregateBaseline([set, permuted(set, perm)], D, 'norm-weighted');
    expect(maxAbsDiff(mean.aggregate.subarray(0, D), mean.aggregate.subarray(D))).toBeLessThanOrEqual(1e-6);
  });

  it('picks min(K, T) distinct rows of the set itself, as n_i·f_i', () => {
    const rng = Rng.stream(4);
    for (const T of [1, 2, 3, 4, 9]) {
      const set = randomSet(rng, T);
      const r = aggregateOfSet(model.aggregate([set]), 0);
      expect(r.indices.length).toBe(Math.min(3, T));
      expect(new Set(r.indices).size).toBe(r.indices.length);
      r.indices.forEach((i, k) => {
        const row = Float32Array.from(set.features.subarray(i * D, (i + 1) * D), (v) => v * set.norms[i]);
        expect(maxAbsDiff(r.coreset.subarray(k * D, (k + 1) * D), row)).toBe(0);
      });
      // The first pick is the largest norm.
      expect(set.norms[r.indices[0]]).toBe(Math.max(...set.norms));
    }
  });

  it('the fused and tfjs paths agree on random sets of many sizes in one batch', () => {
    const rng = Rng.stream(6);
    const sets = [1, 2, 5, 17, 64, 300, 5, 1].map((T) => randomSet(rng, T));
    const fused = model.aggregate(sets);
    const viaTf = model.aggregate(sets, { path: 'tfjs' });
    expect(Array.from(fused.indices)).toEqual(Array.from(viaTf.indices));
    expect(maxAbsDiff(fused.aggregate, viaTf.aggregate)).toBeLessThanOrEqual(1e-5);
    for (let b = 0; b < sets.length; b++) expect(Math.abs(fused.norm[b] - viaTf.norm[b]) / viaTf.norm[b]).toBeLessThanOrEqual(1e-5);
  });

  it('rejects empty sets, mismatched lengths and bad norms with the set named', () => {
    const ok = randomSet(Rng.stream(8), 2);
    expect(() => model.aggregate([ok, { features: new Float32Array(0), norms: new Float32Array(0) }])).toThrow('set 1: empty set (T = 0)');
    expect(() => model.aggregate([{ features: ok.features.subarray(0, 600), norms: ok.norms }])).toThrow('set 0: features hold 600 values, expected T·D = 2·512');
    expect(() => model.aggregate([{ features: ok.features, norms: Float32Array.of(3, NaN) }])).toThrow('set 0: norm 1 is NaN');
    expect(() => model.aggregate([{ features: ok.features, norms: Float32Array.of(3, 0) }], { path: 'tfjs' })).toThrow('norms must be positive');
  });
});

describe('train mode with seeded randomness', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: null });
  });

  it('is reproducible from the seed; noise and dropout change the step', () => {
    const model = FaceCoresetNet.fromStateDict(checkpointStateDict());
    const rng = Rng.stream(9);
    const B = 3;
    const T = 6;
    const sets = Array.from({ length: B }, () => randomSet(rng, T));
    const batch = {
      features: Float32Array.from(sets.flatMap((s) => Array.from(s.features))),
      norms: Float32Array.from(sets.flatMap((s) => Array.from(s.norms))),
      labels: [1, 5, 2],
      batch: B,
      size: T,
    };
    const head = () => AdaFaceHead.create(D, 8, {}, 2);
    const run = (seed: number, dropout: number) => aggregatorTrainGradients(model, head(), batch, seededTrainRandomness(Rng.stream(seed), dropout));
    const before = tf.memory().numTensors;
    const a = run(1, 0.1);
    const again = run(1, 0.1);
    expect(again.loss).toBe(a.loss);
    expect(Array.from(again.indices)).toEqual(Array.from(a.indices));
    for (const [k, g] of a.grads) expect([k, maxAbsDiff(g, again.grads.get(k) as Float32Array)]).toEqual([k, 0]);
    expect(run(2, 0.1).loss).not.toBe(a.loss);
    expect(run(1, 0).loss).not.toBe(a.loss);
    for (const g of a.grads.values()) expect(g.every(Number.isFinite)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    // Single-item sets: one pick, no distance, so γ gets no gradient (torch: None); the rest does.
    const single = aggregatorTrainGradients(model, head(), { features: batch.features.subarray(0, B * D), norms: batch.norms.subarray(0, B), labels: batch.labels, batch: B, size: 1 }, seededTrainRandomness(Rng.stream(3), 0));
    expect(single.grads.has('aggregate_model.gamma')).toBe(false);
    expect(single.grads.size).toBe(a.grads.size - 1);
    model.dispose();
  });
});
