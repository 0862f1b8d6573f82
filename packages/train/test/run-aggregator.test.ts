import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listTableParts } from '@facecoreset/data';
import { readFeatureStore, readImageLabels } from '../src/io/read-tables';
import { runAggregatorTraining } from '../src/run-aggregator';
import { decodeTrainCheckpoint } from '../src/lib/checkpoint';
import { writeSyntheticTables } from './helpers/synthetic-tables';
import { decodeSafetensors, metadataFromStrings } from '@facecoreset/common';
import { AdaFaceHead, FaceCoresetNet, type AdaFaceConfigInput, type AggregatorConfigInput } from '@facecoreset/model';

describe('fcn train aggregator (in process, wasm)', () => {
  let dir: string;
  let tables: ReturnType<typeof writeSyntheticTables>;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-train-'));
    tables = writeSyntheticTables(dir, { identities: 14, minImages: 2, maxImages: 5, views: 3, dim: 32, seed: 1 });
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ train: { seed: 3, batch_size: 4, max_template_size: 6, epochs: 3, batches_per_epoch_fraction: 1, lr: 1e-3, gamma_lr: 1e-2, lr_milestones: [2], attention_heads: 4, checkpoint: { every_steps: 4, keep_last: 2 }, validation: { identity_fraction: 0.25, max_template_size: 6 } } }),
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads both parts of the features table and every image label', () => {
    expect(listTableParts(tables.featuresDir, { name: 'features' }).length).toBeGreaterThanOrEqual(2);
    const store = readFeatureStore(path.join(tables.featuresDir, 'features'));
    expect(store.count).toBe(tables.featureRows);
    expect(store.dim).toBe(32);
    expect(readImageLabels(tables.imagesDir).length).toBe(tables.imageRows);
  });

  it('trains, logs per-step metrics, rotates checkpoints, keeps the best and writes the run files', async () => {
    const out = path.join(dir, 'run');
    const metrics: { step: number; m: Record<string, number> }[] = [];
    const summary = await runAggregatorTraining({ features: tables.featuresDir, images: tables.imagesDir, configFile: path.join(dir, 'config.json'), out, backend: 'wasm', log: () => {}, progress: null, onMetrics: (step, m) => metrics.push({ step, m }) });
    expect(summary.finished).toBe(true);
    const steps = metrics.filter((r) => 'loss' in r.m);
    expect(steps.length).toBe(summary.position.step);
    expect(steps.map((r) => r.step)).toEqual(steps.map((_, i) => i + 1));
    for (const r of steps) {
      expect(Object.keys(r.m).sort()).toEqual(['epoch', 'gamma', 'grad_norm', 'loss', 'lr', 'lr_gamma', 'set_size', 'sets_per_s'].sort());
      expect(Number.isFinite(r.m.loss)).toBe(true);
      // MultiStepLR per epoch, milestone 2: epochs 0-1 at the base rates, epoch 2 at 0.1x.
      expect(r.m.lr).toBeCloseTo(r.m.epoch < 2 ? 1e-3 : 1e-4, 12);
      expect(r.m.lr_gamma).toBeCloseTo(r.m.epoch < 2 ? 1e-2 : 1e-3, 12);
    }
    expect(steps[steps.length - 1].m.gamma).not.toBe(0.01); // γ is learned
    const val = metrics.filter((r) => 'val_tar_at_far_1e-3' in r.m);
    expect(val.length).toBe(3); // one per epoch
    expect(metrics.some((r) => 'val_tar_at_far_1e-3_mean' in r.m)).toBe(true);

    const ckpts = fs.readdirSync(path.join(out, 'checkpoints')).sort();
    expect(ckpts.length).toBe(2); // keep_last
    expect(ckpts[ckpts.length - 1]).toBe(`step-${String(summary.position.step).padStart(9, '0')}.safetensors`);
    const last = decodeTrainCheckpoint(fs.readFileSync(path.join(out, 'checkpoints', ckpts[1])), ckpts[1]);
    expect(last.training.position).toEqual({ step: summary.position.step, epoch: 3, batch: 0 });
    expect(last.training.train_config.batch_size).toBe(4);
    expect(last.training.model).toMatchObject({ aggregator: { embeddingSize: 32, heads: 4, coresetSize: 3 }, head: { classes: summary.classes } });
    expect([...last.tensors.keys()]).toEqual(expect.arrayContaining(['aggregate_model.gamma', 'head.kernel', 'head.batch_mean', 'optimizer.exp_avg.head.kernel', 'optimizer.exp_avg_sq.aggregate_model.gamma']));
    const best = decodeTrainCheckpoint(fs.readFileSync(path.join(out, 'best.safetensors')), 'best');
    expect(best.training.best?.value).toBe(summary.best?.value);
    expect(best.training.validation?.tar).toBe(summary.best?.value);
    const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBe(metrics.length);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).seed).toBe(3);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'))).toMatchObject({ finished: true, step: summary.position.step, model_source: 'best.safetensors', model: 'aggregator.safetensors' });

    // A training checkpoint carries the model package's aggregator checkpoint entries; the model loads from its tensors.
    expect(last.modelMetadata).toMatchObject({ format: 'facecoreset.aggregator', version: 1, aggregatorConfig: { embeddingSize: 32, heads: 4 }, headConfig: { m: 0.8, s: 48 } });
    const stateDict = new Map([...last.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
    const model = FaceCoresetNet.fromStateDict(stateDict, 'aggregate_model.', last.modelMetadata.aggregatorConfig as AggregatorConfigInput);
    expect(Array.from(model.params['gamma'].data)).toEqual(Array.from(last.tensors.get('aggregate_model.gamma')!.data));
    const head = AdaFaceHead.fromStateDict(stateDict, 'head.', last.modelMetadata.headConfig as AdaFaceConfigInput);
    expect(head.buffers.batchMean).toBe(last.tensors.get('head.batch_mean')!.data[0]);
    // The exported model: the best checkpoint's aggregator and head only, same model metadata.
    const exported = decodeSafetensors(fs.readFileSync(path.join(out, 'aggregator.safetensors')), 'aggregator.safetensors');
    expect([...exported.tensors.keys()].every((k) => k.startsWith('aggregate_model.') || k.startsWith('head.'))).toBe(true);
    const exportedMeta = metadataFromStrings(exported.metadata);
    expect(exportedMeta).toMatchObject({ ...best.modelMetadata, trained: { kind: 'aggregator', step: best.training.position.step, best: best.training.best } });
    expect(new Float32Array(Uint8Array.prototype.slice.call(exported.tensors.get('aggregate_model.decoder_layer1.norm2.weight')!.bytes).buffer)).toEqual(best.tensors.get('aggregate_model.decoder_layer1.norm2.weight')!.data);
  });

  it('names a missing input table and leaves no run folder behind', async () => {
    const out = path.join(dir, 'never');
    await expect(runAggregatorTraining({ features: path.join(dir, 'nope'), images: tables.imagesDir, out, backend: 'wasm', log: () => {}, progress: null })).rejects.toThrow(`${path.join(dir, 'nope')}: table folder features/ not found`);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses to overwrite a run without --resume, and a resume that changes the settings', async () => {
    const out = path.join(dir, 'run');
    await expect(runAggregatorTraining({ features: tables.featuresDir, images: tables.imagesDir, out, backend: 'wasm', log: () => {}, progress: null })).rejects.toThrow(/holds checkpoints \(latest: step \d+\); pass --resume/);
    fs.writeFileSync(path.join(dir, 'other.json'), JSON.stringify({ seed: 4 }));
    await expect(runAggregatorTraining({ features: tables.featuresDir, images: tables.imagesDir, configFile: path.join(dir, 'other.json'), out, resume: true, backend: 'wasm', log: () => {}, progress: null })).rejects.toThrow(
      /only epochs and checkpoint\.\* may change, but seed, batch_size, .* differ/,
    );
  });
});
