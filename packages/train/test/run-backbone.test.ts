import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeSafetensors, metadataFromStrings, safeTensorValues } from '@facecoreset/common';
import { importIResNetStateDict } from '@facecoreset/model';
import { decodeTrainCheckpoint } from '../src/lib/checkpoint';
import { CheckpointStore } from '../src/lib/checkpoint-store';
import { runBackboneTraining } from '../src/run-backbone';
import { writeSyntheticImages } from './helpers/synthetic-images';

const config = {
  arch: { widths: [4, 8], units: [1, 1], embeddingSize: 16 },
  batch_size: 4,
  epochs: 2,
  lr: 0.05,
  lr_milestones: [1],
  checkpoint: { every_steps: 2, keep_last: 10 },
  validation: { identity_fraction: 0.25 },
};

describe('fcn train backbone (in process, wasm)', () => {
  let dir: string;
  let data: ReturnType<typeof writeSyntheticImages>;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-backbone-'));
    data = writeSyntheticImages(dir, { identities: 6, imagesPerIdentity: 4, seed: 3 });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('trains, validates against random weights and quality, and exports a backbone that loads by its metadata', async () => {
    const out = path.join(dir, 'run');
    const metrics: Record<string, number>[] = [];
    const lines: string[] = [];
    const { summary, exportPath } = await runBackboneTraining({ images: data.imagesDir, config, qualityFile: data.qualityCsv, out, backend: 'wasm', log: (l) => lines.push(l), progress: null, onMetrics: (_s, m) => metrics.push(m) });
    expect(summary.finished).toBe(true);
    expect(summary.classes).toBe(4); // 2 of 6 identities held out (round(0.25 · 6))
    const steps = metrics.filter((m) => 'loss' in m);
    expect(steps.length).toBe(summary.position.step);
    // MultiStepLR per epoch, milestone 1.
    expect(steps.map((m) => m.lr)).toEqual(steps.map((m) => (m.epoch < 1 ? 0.05 : 0.05 * 0.1)));
    expect(metrics.some((m) => 'val_tar_at_far_1e-3_random_weights' in m)).toBe(true);
    const val = metrics.filter((m) => 'val_tar_at_far_1e-3' in m);
    expect(val.length).toBe(2);
    expect(val.every((m) => Number.isFinite(m.val_norm_quality_spearman) && Math.abs(m.val_norm_quality_spearman) <= 1)).toBe(true);
    // With the identity-bootstrap interval (its math: test/lib/validation.test.ts).
    const low = (m: Record<string, number>) => m.val_norm_quality_spearman_ci95_low;
    const high = (m: Record<string, number>) => m.val_norm_quality_spearman_ci95_high;
    expect(val.every((m) => low(m) >= -1 && low(m) <= high(m) && high(m) <= 1)).toBe(true);
    expect(lines.filter((l) => /norm-quality Spearman -?\d\.\d{3} \(95% CI -?\d\.\d{3}–-?\d\.\d{3} over held-out identities\)/.test(l)).length).toBeGreaterThanOrEqual(3);
    // The looser FAR and the AUC, for the trained and the random-weights network.
    expect(val.every((m) => m.val_auc >= 0 && m.val_auc <= 1 && m['val_tar_at_far_1e-2'] >= m['val_tar_at_far_1e-3'])).toBe(true);
    const random = metrics.find((m) => 'val_auc_random_weights' in m)!;
    expect(random['val_tar_at_far_1e-2_random_weights']).toBeGreaterThanOrEqual(random['val_tar_at_far_1e-3_random_weights']);
    expect(summary.randomValidation?.extra?.norm_quality_spearman).toBe(random.val_norm_quality_spearman_random_weights);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).random_weights_validation.extra.auc).toBe(random.val_auc_random_weights);

    const exported = decodeSafetensors(fs.readFileSync(exportPath), exportPath);
    const meta = metadataFromStrings(exported.metadata);
    expect(meta).toMatchObject({ format: 'facecoreset.backbone', backbone: { widths: [4, 8], units: [1, 1], embeddingSize: 16, inputSize: 112 } });
    const sd = new Map([...exported.tensors].map(([k, t]) => [k, { shape: t.shape, data: safeTensorValues(t) }]));
    const weights = importIResNetStateDict(sd, { config: meta.backbone as never });
    expect(weights.counters.get('input_layer.1.num_batches_tracked')).toBeGreaterThan(0);
    const best = decodeTrainCheckpoint(fs.readFileSync(path.join(out, 'best.safetensors')), 'best');
    expect(Array.from(weights.tensors.get('output_layer.3.weight')!)).toEqual(Array.from(best.tensors.get('model.output_layer.3.weight')!.data));
  });

  it('stopped mid-epoch and resumed, ends bit-identical to an uninterrupted run (SGD momentum, BN statistics, head EMA, dropout, flips)', async () => {
    const whole = path.join(dir, 'whole');
    const parts = path.join(dir, 'parts');
    const base = { images: data.imagesDir, config, backend: 'wasm', log: () => {}, progress: null } as const;
    await runBackboneTraining({ ...base, out: whole });
    const first = await runBackboneTraining({ ...base, out: parts, maxSteps: 3 });
    expect(first.summary.finished).toBe(false);
    expect(first.summary.position).toMatchObject({ step: 3, batch: 3 }); // inside epoch 0
    await runBackboneTraining({ ...base, out: parts, resume: true });
    const a = decodeTrainCheckpoint(fs.readFileSync(new CheckpointStore(whole, 100).latest()!.path), 'whole');
    const b = decodeTrainCheckpoint(fs.readFileSync(new CheckpointStore(parts, 100).latest()!.path), 'parts');
    expect(b.training.position).toEqual(a.training.position);
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    for (const [name, t] of a.tensors) {
      const u = b.tensors.get(name)!;
      expect([name, Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]).toEqual([name, true]);
    }
  });
});
