/**
 * The hand-written training step (fused-step.ts) against the differentiable tfjs forward pass under
 * tf.grads, on batches the reference fixtures do not cover: dropout on, seeded Gumbel noise, set
 * sizes 1 … 20 (K' = 1, 2, 3), learned and fixed γ. Both paths draw the same random numbers in the
 * same order. Tolerances: loss 1e-5 relative, every gradient 1e-4 relative L2, identical picks.
 */
import { Rng } from '@facecoreset/common';
import { initBackend } from '../../src/backend';
import { FaceCoresetNet } from '../../src/aggregator/facecoresetnet';
import { seededTrainRandomness } from '../../src/aggregator/randomness';
import { AdaFaceHead } from '../../src/head/adaface';
import { TrainBatch, TrainStepPath, TrainStepResult, aggregatorTrainGradients } from '../../src/training/gradients';
import { globalGradNorm } from '../../src/optim/clip';

const D = 512;
const CLASSES = 40;

function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

function l2(a: Float32Array): number {
  let s = 0;
  for (const v of a) s += v * v;
  return Math.sqrt(s);
}

function randomBatch(seed: number, B: number, T: number): TrainBatch {
  const rng = Rng.stream(seed, 'fused-step-test');
  const features = new Float32Array(B * T * D);
  for (let i = 0; i < B * T; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += (features[i * D + j] = rng.float() - 0.5) ** 2;
    for (let j = 0; j < D; j++) features[i * D + j] /= Math.sqrt(s);
  }
  const norms = Float32Array.from({ length: B * T }, () => 2 + 40 * rng.float());
  const labels = Int32Array.from({ length: B }, () => rng.int(0, CLASSES - 1));
  return { features, norms, labels, batch: B, size: T };
}

function run(model: FaceCoresetNet, head: AdaFaceHead, batch: TrainBatch, seed: number, dropout: number, path: TrainStepPath): { step: TrainStepResult; head: AdaFaceHead } {
  // Each path gets its own copy of the head: the forward pass moves its batch statistics.
  const own = AdaFaceHead.fromStateDict(head.toStateDict(), undefined, head.config);
  return { step: aggregatorTrainGradients(model, own, batch, seededTrainRandomness(Rng.stream(seed, 'noise'), dropout), { path }), head: own };
}

describe.each(['wasm', 'cpu'] as const)('fused training step vs the tfjs reference on %s', (backend) => {
  const models = new Map<string, FaceCoresetNet>();
  const modelFor = (config: { gamma?: number }) => {
    const key = JSON.stringify(config);
    if (!models.has(key)) models.set(key, FaceCoresetNet.create(config, 5));
    return models.get(key) as FaceCoresetNet;
  };
  let head: AdaFaceHead;
  beforeAll(async () => {
    await initBackend({ backend, log: null });
    head = AdaFaceHead.create(D, CLASSES, {}, 6);
  });

  const cases: [string, { gamma?: number }, number, number, number][] = [
    ['learned γ, T = 20, dropout 0.1', {}, 4, 20, 0.1],
    ['learned γ, T = 5, dropout 0.1', {}, 3, 5, 0.1],
    ['learned γ, T = 2 (two picks), no dropout', {}, 3, 2, 0],
    ['learned γ, T = 1 (one pick: no γ gradient)', {}, 5, 1, 0.1],
    ['fixed γ = 0.5, T = 7, dropout 0.1', { gamma: 0.5 }, 3, 7, 0.1],
  ];
  it.each(cases)('%s', (_name, config, B, T, dropout) => {
    const model = modelFor(config);
    const batch = randomBatch(B * 100 + T, B, T);
    const fused = run(model, head, batch, 9, dropout, 'fused');
    const ref = run(model, head, batch, 9, dropout, 'tfjs');
    expect(Array.from(fused.step.indices)).toEqual(Array.from(ref.step.indices));
    expect(Math.abs(fused.step.loss - ref.step.loss) / ref.step.loss).toBeLessThanOrEqual(1e-5);
    expect([...fused.step.grads.keys()]).toEqual([...ref.step.grads.keys()]);
    expect(fused.step.grads.has('aggregate_model.gamma')).toBe(config.gamma === undefined && T > 1);
    // Gradients that are exactly 0 in exact arithmetic (with T = 1 nothing reaches the queries)
    // hold rounding residue in the reference: compare those against the global gradient norm.
    const floor = 1e-7 * ref.step.gradNorm;
    for (const [name, g] of ref.step.grads) {
      const ours = fused.step.grads.get(name) as Float32Array;
      const err = relL2(ours, g) * l2(g);
      expect([name, err <= 1e-4 * Math.max(l2(g), floor)]).toEqual([name, true]);
    }
    expect(Math.abs(fused.step.gradNorm - globalGradNorm(fused.step.grads.values())) / fused.step.gradNorm).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(fused.step.gradNorm - ref.step.gradNorm) / ref.step.gradNorm).toBeLessThanOrEqual(1e-4);
    expect(relL2(fused.step.aggregate, ref.step.aggregate)).toBeLessThanOrEqual(1e-5);
    expect(relL2(fused.step.logits, ref.step.logits)).toBeLessThanOrEqual(1e-5);
    expect(relL2(fused.step.selectionSoft, ref.step.selectionSoft)).toBeLessThanOrEqual(1e-5);
    expect(fused.head.buffers).toEqual(ref.head.buffers);
  });

  it('a head of 600 classes (kernel passes split with the worker thread) gives the same gradients', () => {
    const model = modelFor({});
    const big = AdaFaceHead.create(D, 600, {}, 8);
    const batch = randomBatch(55, 3, 6);
    const labels = Int32Array.from(batch.labels as Int32Array, (l, i) => l + 100 * i);
    const fused = run(model, big, { ...batch, labels }, 9, 0.1, 'fused').step;
    const ref = run(model, big, { ...batch, labels }, 9, 0.1, 'tfjs').step;
    for (const [name, g] of ref.grads) expect([name, relL2(fused.grads.get(name) as Float32Array, g) <= 1e-4]).toEqual([name, true]);
    expect(Math.abs(fused.gradNorm - ref.gradNorm) / ref.gradNorm).toBeLessThanOrEqual(1e-4);
  });

  it('a second step sees the changed kernel (the head keeps W and Wᵀ on the backend between steps)', () => {
    const model = modelFor({});
    const base = AdaFaceHead.create(D, 600, {}, 8);
    const copy = () => AdaFaceHead.fromStateDict(base.toStateDict(), undefined, base.config);
    const [a, b] = [copy(), copy()];
    const batch = randomBatch(56, 3, 6);
    const labels = Int32Array.from(batch.labels as Int32Array, (l, i) => l + 100 * i);
    const step = (h: AdaFaceHead, path: TrainStepPath) => aggregatorTrainGradients(model, h, { ...batch, labels }, seededTrainRandomness(Rng.stream(3, 'noise'), 0.1), { path, reuseBuffers: true });
    step(a, 'fused');
    step(b, 'tfjs');
    for (const h of [a, b]) for (let i = 0; i < h.kernel.data.length; i++) h.kernel.data[i] = h.kernel.data[i] * 0.5 + ((i * 7919) % 13) * 0.01;
    const fused = step(a, 'fused');
    const ref = step(b, 'tfjs');
    for (const [name, g] of ref.grads) expect([name, relL2(fused.grads.get(name) as Float32Array, g) <= 1e-4]).toEqual([name, true]);
    expect(relL2(fused.logits, ref.logits)).toBeLessThanOrEqual(1e-5);
    a.releaseTrainingMemory();
  });

  it('dropout changes the gradients (the masks are applied, in the reference order)', () => {
    const model = modelFor({});
    const batch = randomBatch(77, 3, 10);
    const a = run(model, head, batch, 9, 0.1, 'fused').step;
    const b = run(model, head, batch, 9, 0, 'fused').step;
    const name = 'aggregate_model.decoder_layer1.multihead_attn1.in_proj_weight';
    expect(relL2(a.grads.get(name) as Float32Array, b.grads.get(name) as Float32Array)).toBeGreaterThan(1e-3);
  });
});
