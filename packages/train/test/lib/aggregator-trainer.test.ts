/**
 * The trainer the loop drives, on the official training step (../shared/fixtures/reference/
 * aggregator/train): the fixture's checkpoint loaded through the trainer's own load(), one step
 * with the fixture's Gumbel noise and dropout 0 at lr = gamma_lr = 1e-4 must give the official loss,
 * pre-clipping gradient norm, head buffers and parameters after clipping + AdamW (two groups).
 * Tolerances: loss 1e-5 relative (fixture README); the step of every parameter (after − before)
 * within 1e-3 relative L2 of the official step, as the model package's whole-step test (AdamW's
 * first step is ~lr·sign(g), so entries with near-zero gradients amplify float32 rounding).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readNpy, readTorchCheckpoint } from '@facecoreset/common';
import { AdaFaceHead, FaceCoresetNet, fixedTrainRandomness, initBackend } from '@facecoreset/model';
import { paperAggregatorTrainConfig } from '../../src/config';
import { modelTrainerFactory } from '../../src/lib/aggregator-trainer';
import type { NamedTensor } from '../../src/lib/trainer';

const FIXTURES = path.resolve(__dirname, '../../../../../shared/fixtures/reference/aggregator');
const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'));
const floats = (rel: string): Float32Array => {
  const a = readNpy(path.join(FIXTURES, rel));
  return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number>);
};

describe('ModelAggregatorTrainer on the official training step (wasm)', () => {
  it('reproduces loss, gradient norm, head buffers and every parameter after clipping + AdamW', async () => {
    await initBackend({ backend: 'wasm', log: null });
    const tc = manifest.train_case;
    const hp = manifest.hyper_parameters;
    const file = path.join(FIXTURES, 'facecoresetnet_random.ckpt');
    const sd = new Map([...readTorchCheckpoint(new Uint8Array(fs.readFileSync(file)), file).stateDict].map(([k, t]) => [k, { shape: [...t.shape], data: t.data as Float32Array }]));
    const model = FaceCoresetNet.fromStateDict(sd, 'aggregate_model.', { dropout: 0 });
    const head = AdaFaceHead.fromStateDict(sd, 'head.', { m: hp.m, h: hp.h, s: hp.s, tAlpha: hp.t_alpha });

    const config = { ...paperAggregatorTrainConfig(), dropout: 0 };
    const factory = modelTrainerFactory();
    const trainer = factory.create(factory.architecture(config, 512, tc.num_classes), config, 0);
    const state = new Map<string, NamedTensor>();
    for (const [k, t] of [...model.toStateDict(), ...head.toStateDict()]) state.set(k, { shape: t.shape, data: t.data.slice() });
    trainer.load(state, { name: 'AdamW', betas: [0.9, 0.999], eps: 1e-8, steps: {} });

    const r = trainer.step(
      { features: floats(tc.files.features), norms: floats(tc.files.norms), batch: tc.B, setSize: tc.T, classes: Int32Array.from(tc.labels) },
      { gamma: hp.gamma_lr, other: hp.lr },
      fixedTrainRandomness(floats(tc.files.gumbel_noise), tc.K, tc.B, tc.T),
    );
    expect(Math.abs(r.loss - tc.loss_f64_replay) / tc.loss_f64_replay).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(r.gradNorm - floats('train/clip_total_norm.npy')[0]) / r.gradNorm).toBeLessThanOrEqual(1e-4);

    const after = trainer.state();
    expect(after.get('head.batch_mean')!.data[0]).toBeCloseTo(tc.head_buffers_after_forward.batch_mean[0], 4);
    expect(after.get('head.batch_std')!.data[0]).toBeCloseTo(tc.head_buffers_after_forward.batch_std[0], 4);
    const dir = path.join(FIXTURES, 'train/after_step');
    const files = fs.readdirSync(dir);
    expect(files.length).toBe(16);
    for (const f of files) {
      const name = f.replace(/(\.rows_step8)?\.npy$/, '');
      const ours = after.get(name)!;
      const want = floats(`train/after_step/${f}`);
      const rows = (a: Float32Array): Float32Array => {
        if (!f.includes('rows_step8')) return a;
        const cols = ours.shape[1];
        const out = new Float32Array(want.length);
        for (let r8 = 0, o = 0; r8 * cols < a.length; r8 += 8, o++) out.set(a.subarray(r8 * cols, (r8 + 1) * cols), o * cols);
        return out;
      };
      const got = rows(ours.data);
      const before = rows(state.get(name)!.data);
      let num = 0;
      let den = 0;
      for (let i = 0; i < want.length; i++) {
        num += (got[i] - before[i] - (want[i] - before[i])) ** 2;
        den += (want[i] - before[i]) ** 2;
      }
      expect([name, Math.sqrt(num / den) <= 1e-3]).toEqual([name, true]);
    }
    // The optimiser state: one AdamW step for every parameter with a gradient, moments saved.
    expect(trainer.optimizerMeta()).toMatchObject({ name: 'AdamW', steps: { 'aggregate_model.gamma': 1, 'head.kernel': 1 } });
    expect(after.has('optimizer.exp_avg_sq.aggregate_model.decoder_layer1.norm2.weight')).toBe(true);
    trainer.dispose();
  });
});

describe('ModelAggregatorTrainer with sets of one item', () => {
  it('steps every parameter but γ, which takes no part in the loss when T = 1 (PyTorch: grad None, AdamW skips it)', async () => {
    await initBackend({ backend: 'wasm', log: null });
    const config = { ...paperAggregatorTrainConfig(), attention_heads: 2 };
    const factory = modelTrainerFactory();
    const trainer = factory.create(factory.architecture(config, 8, 5), config, 1);
    const unit = (b: number, t: number) => Float32Array.from({ length: b * t * 8 }, (_, i) => ((i % 8) === (i >> 3) % 8 ? 1 : 0));
    const gamma0 = trainer.gamma();
    const step = (t: number) => trainer.step({ features: unit(2, t), norms: new Float32Array(2 * t).fill(12), batch: 2, setSize: t, classes: Int32Array.of(1, 3) }, { gamma: 1e-2, other: 1e-2 }, factory.randomness(1, t, 0.1));
    expect(Number.isFinite(step(1).loss)).toBe(true);
    expect(trainer.gamma()).toBe(gamma0);
    step(3);
    expect(trainer.gamma()).not.toBe(gamma0);
    const steps = (trainer.optimizerMeta() as { steps: Record<string, number> }).steps;
    expect(steps['aggregate_model.gamma']).toBe(1);
    expect(steps['head.kernel']).toBe(2);
    expect(steps['aggregate_model.pos_trans_norm.weight']).toBe(2);
    trainer.dispose();
  });
});
