/**
 * Aggregator checkpoints: import of the official Lightning .ckpt (values equal the reference's
 * .npy copies; the never-used parameters load as the views the file stores), our safetensors
 * format round-trips every tensor bit for bit, and bad inputs fail naming the key and shapes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, encodeSafetensors, metadataToStrings } from '@facecoreset/common';
import { initBackend } from '../../src/backend';
import { FaceCoresetNet } from '../../src/aggregator/facecoresetnet';
import { AGGREGATOR_STATE_PREFIX } from '../../src/aggregator/params';
import { decodeAggregatorCheckpoint, encodeAggregatorCheckpoint, importLightningAggregator, loadAggregatorCheckpoint } from '../../src/checkpoint/aggregator-checkpoint';
import { AGGREGATOR_FIXTURES, checkpointStateDict, evalCase, floats, manifest, maxAbsDiff } from '../aggregator/fixtures';

const CKPT = path.join(AGGREGATOR_FIXTURES, 'facecoresetnet_random.ckpt');
const ckptBytes = () => new Uint8Array(fs.readFileSync(CKPT));

function sameTensors(a: Map<string, { shape: number[]; data: Float32Array }>, b: Map<string, { shape: number[]; data: Float32Array }>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) {
    const u = b.get(k) as { shape: number[]; data: Float32Array };
    expect([k, u.shape]).toEqual([k, t.shape]);
    expect([k, Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]).toEqual([k, true]);
  }
}

describe('Lightning .ckpt import', () => {
  const imported = importLightningAggregator(ckptBytes(), CKPT);

  it('reads config from hyper_parameters and every tensor equal to the reference values', () => {
    const { aggregator, head, hyperParameters } = imported;
    expect(hyperParameters.coreset_size).toBe(3);
    expect(aggregator.config).toMatchObject({ embeddingSize: 512, coresetSize: 3, heads: 8, gamma: 'learned' });
    expect(head?.config).toMatchObject({ m: 0.8, h: 0.333, s: 48, tAlpha: 0.01 });
    const weights = manifest().weights as Record<string, { npy: string | null }>;
    const sd = aggregator.toStateDict();
    for (const [key, w] of Object.entries(weights)) {
      if (!key.startsWith(AGGREGATOR_STATE_PREFIX) || !w.npy) continue;
      expect([key, maxAbsDiff((sd.get(key) as { data: Float32Array }).data, floats(w.npy))]).toEqual([key, 0]);
    }
    expect(maxAbsDiff(head?.kernel.data as Float32Array, floats('weights_npy/head.kernel.npy'))).toBe(0);
    expect(head?.buffers).toEqual({ t: 0, batchMean: 20, batchStd: 100 });
  });

  it('keeps the never-used parameters: they load as the storage views the file holds', () => {
    const sd = imported.aggregator.toStateDict();
    const aliases = manifest().checkpoint.aliases as Record<string, { source: string; rows: [number, number] | null }>;
    for (const [key, { source, rows }] of Object.entries(aliases)) {
      const src = (sd.get(source) as { data: Float32Array }).data;
      const cols = src.length === 512 * 3 ? 1 : 512;
      const want = rows ? src.subarray(rows[0] * cols, rows[1] * cols) : src;
      expect([key, maxAbsDiff((sd.get(key) as { data: Float32Array }).data, want)]).toEqual([key, 0]);
    }
  });

  it('aggregates like the reference (T20)', async () => {
    await initBackend({ backend: 'wasm', log: null });
    const c = evalCase('T20');
    const out = imported.aggregator.aggregate([{ features: c.features, norms: c.norms }]);
    expect(maxAbsDiff(out.aggregate, c.aggregate)).toBeLessThanOrEqual(1e-5);
  });
});

describe('our checkpoint format', () => {
  it('round-trips aggregator, head, extra tensors and metadata bit for bit', () => {
    const { aggregator, head } = importLightningAggregator(ckptBytes(), CKPT);
    const extra = new Map([['optimizer.exp_avg.head.kernel', { shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 0, 1e-30, -0) }]]);
    const bytes = encodeAggregatorCheckpoint({ aggregator, head, extraTensors: extra, metadata: { step: 7, run: { seed: 42 } } });
    const back = loadAggregatorCheckpoint(bytes, 'x.safetensors');
    expect(back.aggregator.config).toEqual(aggregator.config);
    sameTensors(back.aggregator.toStateDict(), aggregator.toStateDict());
    expect(back.head?.config).toEqual(head?.config);
    sameTensors(back.head?.toStateDict() as Map<string, any>, head?.toStateDict() as Map<string, any>);
    sameTensors(back.extraTensors as Map<string, any>, extra);
    expect(back.metadata).toEqual({ step: 7, run: { seed: 42 } });
    // Encoding the decoded checkpoint gives the same bytes.
    expect(Buffer.from(encodeAggregatorCheckpoint(back)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('round-trips a fixed-gamma aggregator without a head', () => {
    const model = FaceCoresetNet.create({ embeddingSize: 32, heads: 4, gamma: 0.2, coresetSize: 4 }, 3);
    const back = decodeAggregatorCheckpoint(encodeAggregatorCheckpoint({ aggregator: model }));
    expect(back.aggregator.config.gamma).toBe(0.2);
    expect(back.head).toBeUndefined();
    expect(back.aggregator.toStateDict().has('aggregate_model.gamma')).toBe(false);
    sameTensors(back.aggregator.toStateDict(), model.toStateDict());
  });

  it('refuses foreign safetensors and names the file', () => {
    const foreign = encodeSafetensors({ w: { dtype: 'F32', shape: [1], values: [1] } }, metadataToStrings({ format: 'other' }));
    expect(() => decodeAggregatorCheckpoint(foreign, 'w.safetensors')).toThrow(InputError);
    expect(() => decodeAggregatorCheckpoint(foreign, 'w.safetensors')).toThrow(/w\.safetensors.*not an aggregator checkpoint/);
  });
});

describe('state dict errors', () => {
  const sd = () => new Map(checkpointStateDict());

  it('names a missing key with its expected shape', () => {
    const m = sd();
    m.delete('aggregate_model.decoder_layer1.norm3.bias');
    expect(() => FaceCoresetNet.fromStateDict(m)).toThrow("state dict: missing key 'aggregate_model.decoder_layer1.norm3.bias' (expected shape [512])");
  });

  it('names a mis-shaped key with expected and found shapes', () => {
    const m = sd();
    m.set('aggregate_model.decoder_layer1.self_attn1.out_proj.weight', { shape: [512, 256], data: new Float32Array(512 * 256) });
    expect(() => FaceCoresetNet.fromStateDict(m)).toThrow("state dict: key 'aggregate_model.decoder_layer1.self_attn1.out_proj.weight' has shape [512, 256], expected [512, 512]");
  });

  it('refuses unknown keys under the prefix and explains a missing gamma', () => {
    const m = sd();
    m.set('aggregate_model.extra', { shape: [1], data: new Float32Array(1) });
    expect(() => FaceCoresetNet.fromStateDict(m)).toThrow("unexpected key 'aggregate_model.extra'");
    const n = sd();
    n.delete('aggregate_model.gamma');
    expect(() => FaceCoresetNet.fromStateDict(n)).toThrow(/fixed gamma/);
    expect(FaceCoresetNet.fromStateDict(n, 'aggregate_model.', { gamma: 0.21 }).config.gamma).toBe(0.21);
  });

  it('a Lightning file without the aggregator is refused with the file named', () => {
    expect(() => importLightningAggregator(encodeAggregatorCheckpoint({ aggregator: FaceCoresetNet.create({ embeddingSize: 16, heads: 2 }) }), 'model.ckpt')).toThrow(/model\.ckpt/);
  });
});
