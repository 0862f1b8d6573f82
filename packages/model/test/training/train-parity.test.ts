/**
 * One official training step (../shared/fixtures/reference/aggregator/train): train-mode aggregation
 * with the fixture's pre-drawn Gumbel noise and dropout 0, AdaFace head, mean cross-entropy,
 * gradients, clipping to global norm 1 and one AdamW step with the two official groups.
 * Tolerances (issue): loss ≤ 1e-4 relative to the float64 replay; every gradient ≤ 1e-3 relative
 * L2 (the four big matrices on their stored [::8] rows and on the full-tensor L2 norm, sum and
 * |sum| from the manifest); clipped gradients likewise; parameters after the step ≤ 1e-6 absolute
 * (the step itself is ~lr = 1e-4) and the step ≤ 1e-3 relative L2.
 */
import { initBackend } from '../../src/backend';
import { FaceCoresetNet } from '../../src/aggregator/facecoresetnet';
import { cloneParams } from '../../src/aggregator/params';
import { fixedTrainRandomness } from '../../src/aggregator/randomness';
import { AdaFaceHead } from '../../src/head/adaface';
import { AdamW } from '../../src/optim/adamw';
import { clipGradNorm } from '../../src/optim/clip';
import { TrainStepResult, aggregatorTrainGradients, trainableStateNames } from '../../src/training/gradients';
import { checkpointStateDict, everyEighthRow, floats, ints, manifest, maxAbsDiff, relL2 } from '../aggregator/fixtures';

const BIG = /(in_proj_weight|out_proj\.weight)$/;

function setup() {
  const sd = checkpointStateDict();
  const hp = manifest().hyper_parameters;
  const model = FaceCoresetNet.fromStateDict(sd, 'aggregate_model.', { dropout: 0 });
  const head = AdaFaceHead.fromStateDict(sd, 'head.', { m: hp.m, h: hp.h, s: hp.s, tAlpha: hp.t_alpha });
  const tc = manifest().train_case;
  const B = tc.B as number;
  const T = tc.T as number;
  const K = tc.K as number;
  const batch = { features: floats(tc.files.features), norms: floats(tc.files.norms), labels: ints(tc.files.labels), batch: B, size: T };
  const randomness = fixedTrainRandomness(floats(tc.files.gumbel_noise), K, B, T);
  return { model, head, batch, randomness, tc, B, T, K };
}

/** Expected gradient rows: the stored file (every 8th row for the big matrices). */
function compareToStored(name: string, ours: Float32Array, stored: Float32Array): number {
  const shape = manifest().train_case.grads[name].shape as number[];
  return relL2(BIG.test(name) ? everyEighthRow(ours, shape[1]) : ours, stored);
}

function stats(a: Float32Array) {
  let l2 = 0;
  let sum = 0;
  let abs = 0;
  for (const v of a) {
    l2 += v * v;
    sum += v;
    abs += Math.abs(v);
  }
  return { l2: Math.sqrt(l2), sum, abs };
}

/** The official optimiser: {γ: gamma_lr, no decay}, {everything else: lr, weight_decay}. */
function officialAdamW(values: ReadonlyMap<string, Float32Array>): AdamW {
  const hp = manifest().hyper_parameters;
  const gamma = 'aggregate_model.gamma';
  return new AdamW(
    [
      { params: [gamma], lr: hp.gamma_lr, weightDecay: 0 },
      { params: [...values.keys()].filter((n) => n !== gamma), lr: hp.lr, weightDecay: hp.weight_decay },
    ],
    { betas: [0.9, 0.999], eps: 1e-8 },
  );
}

describe.each(['wasm', 'cpu'] as const)('training step parity on %s', (backend) => {
  let env: ReturnType<typeof setup>;
  let step: TrainStepResult;
  beforeAll(async () => {
    await initBackend({ backend, log: null });
    env = setup();
    step = aggregatorTrainGradients(env.model, env.head, env.batch, env.randomness);
  });

  it('selects the same items and reproduces the forward values and the loss', () => {
    const { tc, B, K } = env;
    const expected: number[][] = tc.selected_indices_KxB;
    for (let k = 0; k < K; k++) for (let b = 0; b < B; b++) expect(step.indices[b * K + k]).toBe(expected[k][b]);
    expect(maxAbsDiff(step.selectionSoft, floats(tc.files.y_soft))).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(step.aggregate, floats(tc.files.aggregated_feature_norm_f64))).toBeLessThanOrEqual(1e-5);
    const refNorms = floats(tc.files.agg_norms);
    for (let b = 0; b < B; b++) expect(Math.abs(step.norm[b] - refNorms[b]) / refNorms[b]).toBeLessThanOrEqual(1e-4);
    const refLogits = floats(tc.files.cos_thetas_scaled_f64);
    expect(maxAbsDiff(step.logits, refLogits) / Math.max(...Array.from(refLogits, Math.abs))).toBeLessThanOrEqual(1e-4);
    const lossF64 = floats(tc.files.loss_f64)[0];
    expect(Math.abs(step.loss - lossF64) / lossF64).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(env.head.buffers.batchMean - tc.head_buffers_after_forward.batch_mean[0])).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(env.head.buffers.batchStd - tc.head_buffers_after_forward.batch_std[0])).toBeLessThanOrEqual(1e-4);
  });

  it('gives every gradient within 1e-3 relative L2, and none to the unused parameters', () => {
    const refGrads = manifest().train_case.grads as Record<string, any>;
    const withGrad = Object.keys(refGrads).filter((k) => refGrads[k] !== null);
    expect([...step.grads.keys()].sort()).toEqual(withGrad.sort());
    expect(trainableStateNames(env.model).sort()).toEqual(withGrad.sort());
    for (const name of withGrad) {
      const ours = step.grads.get(name) as Float32Array;
      const ref = refGrads[name];
      expect([name, compareToStored(name, ours, floats(ref.file)) <= 1e-3]).toEqual([name, true]);
      const s = stats(ours);
      expect([name, Math.abs(s.l2 - ref.l2_f64) / ref.l2_f64 <= 1e-3]).toEqual([name, true]);
      expect([name, Math.abs(s.abs - ref.abs_sum) / ref.abs_sum <= 1e-3]).toEqual([name, true]);
      // Sums can cancel to ~0 (LayerNorm-fed weights); compare them against the absolute sum.
      expect([name, Math.abs(s.sum - ref.sum) / ref.abs_sum <= 1e-3]).toEqual([name, true]);
      if (ref.l2_of_q_k_v_thirds) {
        const third = ours.length / 3;
        ref.l2_of_q_k_v_thirds.forEach((l2: number, i: number) => {
          const ourL2 = stats(ours.subarray(i * third, (i + 1) * third)).l2;
          // The key bias cancels in the softmax: its true gradient is 0 (the reference holds ~1e-9 of rounding).
          if (l2 < 1e-6 * ref.l2_f64) expect(ourL2).toBeLessThanOrEqual(1e-6 * ref.l2_f64);
          else expect([name, i, Math.abs(ourL2 - l2) / l2 <= 1e-3]).toEqual([name, i, true]);
        });
      }
    }
  });

  it('clips to global norm 1: total norm, factor and clipped gradients', () => {
    const { tc } = env;
    const grads = new Map([...step.grads].map(([k, v]) => [k, v.slice()]));
    const clip = clipGradNorm(grads.values(), 1.0);
    expect(Math.abs(clip.totalNorm - floats(tc.clip.files.total_norm)[0]) / clip.totalNorm).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(clip.coef - floats(tc.clip.files.clip_coef)[0]) / clip.coef).toBeLessThanOrEqual(1e-4);
    const refCoef = floats(tc.clip.files.clip_coef)[0];
    for (const [name, g] of grads) {
      const ref = floats(`train/grads/${name}${BIG.test(name) ? '.rows_step8' : ''}.npy`).map((v) => v * refCoef);
      const cols = BIG.test(name) ? (manifest().train_case.grads[name].shape as number[])[1] : 0;
      expect([name, relL2(cols ? everyEighthRow(g, cols) : g, ref) <= 1e-3]).toEqual([name, true]);
      if (!BIG.test(name)) expect([name, relL2(g, floats(`train/clipped_grads/${name}.npy`)) <= 1e-3]).toEqual([name, true]);
    }
  });

  it('AdamW on the reference clipped gradients reproduces the parameters after the step (≤ 1e-6)', () => {
    // The optimiser alone, fed the reference's own gradients (big matrices: their stored rows).
    const { model, head, tc } = env;
    const coef = floats(tc.clip.files.clip_coef)[0];
    const values = new Map<string, Float32Array>();
    const grads = new Map<string, Float32Array>();
    for (const name of Object.keys(tc.optimizer.after_step_files)) {
      const cols = BIG.test(name) ? (manifest().train_case.grads[name].shape as number[])[1] : 0;
      const live = name === 'head.kernel' ? head.kernel.data : model.params[name.slice('aggregate_model.'.length)].data;
      values.set(name, cols ? everyEighthRow(live, cols) : live.slice());
      grads.set(name, floats(`train/grads/${name}${cols ? '.rows_step8' : ''}.npy`).map((v) => Math.fround(v * coef)));
    }
    const opt = officialAdamW(values);
    opt.step(values, grads);
    for (const [name, file] of Object.entries(tc.optimizer.after_step_files as Record<string, string>)) {
      expect([name, maxAbsDiff(values.get(name) as Float32Array, floats(file)) <= 1e-6]).toEqual([name, true]);
    }
  });

  it('the whole step (our gradients, clipping, AdamW) moves every parameter like the reference (≤ 1e-3 rel L2)', () => {
    const { model, head, tc } = env;
    const before = cloneParams(model.params);
    const grads = new Map([...step.grads].map(([k, v]) => [k, v.slice()]));
    clipGradNorm(grads.values(), 1.0);
    const agg = (n: string) => 'aggregate_model.' + n;
    const values = new Map<string, Float32Array>(Object.entries(model.params).map(([n, p]) => [agg(n), p.data]));
    values.set('head.kernel', head.kernel.data);
    const kernelBefore = head.kernel.data.slice();
    officialAdamW(values).step(values, grads);
    model.parametersChanged();
    for (const [name, file] of Object.entries(tc.optimizer.after_step_files as Record<string, string>)) {
      const cols = BIG.test(name) ? (manifest().train_case.grads[name].shape as number[])[1] : 0;
      const pick = (a: Float32Array) => (cols ? everyEighthRow(a, cols) : a);
      const now = pick(values.get(name) as Float32Array);
      const was = pick(name === 'head.kernel' ? kernelBefore : before[name.slice('aggregate_model.'.length)].data);
      const ref = floats(file);
      // Adam divides by |g| + 1e-8: where a clipped gradient is ~1e-9, float32 rounding in the
      // gradient moves the step by up to ~1e-6, so the step is compared as a whole (relative L2).
      const ourStep = now.map((v, i) => v - was[i]);
      const refStep = ref.map((v, i) => v - was[i]);
      expect([name, relL2(ourStep, refStep) <= 1e-3]).toEqual([name, true]);
    }
    // Parameters without a gradient are skipped: no update, no weight decay.
    for (const [name, p] of Object.entries(model.params)) {
      if (!step.grads.has(agg(name))) expect([name, maxAbsDiff(p.data, before[name].data)]).toEqual([name, 0]);
    }
  });
});
