/**
 * The aggregators on every template of the synthetic IJB-B benchmark (../shared/fixtures/reference/
 * ijb_mini: 101 templates of 1..52 rows), against the template features the official evaluation
 * computed: plain mean and norm-weighted mean (≤ 1e-6 abs on the unit rows) and the checkpoint's
 * FaceCoresetNet in zero-noise eval mode (≤ 1e-5 abs, identical selections). All templates go in as
 * one batch of mixed sizes, which must give what each template gives alone.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readNpy } from '@facecoreset/common';
import { initBackend } from '../../src/backend';
import { aggregateBaseline } from '../../src/aggregator/baselines';
import { FaceCoresetNet } from '../../src/aggregator/facecoresetnet';
import { TemplateSet } from '../../src/aggregator/types';
import { checkpointStateDict, maxAbsDiff } from './fixtures';

const IJB = path.resolve(__dirname, '../../../../../shared/fixtures/reference/ijb_mini');
const D = 512;

/** img_feats from the pickle: its raw bytes follow one BINBYTES opcode; checked against the sha256. */
function imgFeats(): Float32Array {
  const bytes = fs.readFileSync(path.join(IJB, 'IJBB_ir101_webface4m.pickle'));
  const stats = JSON.parse(fs.readFileSync(path.join(IJB, 'dataset_stats.json'), 'utf8')).img_feats_check;
  const n = stats.shape[0] * stats.shape[1] * 4;
  const marker = Buffer.alloc(5);
  marker[0] = 0x42; // BINBYTES
  marker.writeUInt32LE(n, 1);
  const at = bytes.indexOf(marker);
  const raw = bytes.subarray(at + 5, at + 5 + n);
  expect(crypto.createHash('sha256').update(raw).digest('hex')).toBe(stats.sha256_of_raw_little_endian_C_order_bytes);
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + n));
}

/** Templates in ascending id order (the order of unique_templates.npy). */
function templates(): { ids: number[]; sets: TemplateSet[] } {
  const feats = imgFeats();
  const norms = readNpy(path.join(IJB, 'norms.npy')).data as Float32Array;
  const rows = new Map<number, number[]>();
  fs.readFileSync(path.join(IJB, 'ijb_root/IJBB/meta/ijbb_face_tid_mid.txt'), 'utf8')
    .trim()
    .split('\n')
    .forEach((line, i) => {
      const tid = Number(line.split(' ')[1]);
      if (!rows.has(tid)) rows.set(tid, []);
      (rows.get(tid) as number[]).push(i);
    });
  const ids = Array.from(readNpy(path.join(IJB, 'expected/unique_templates.npy')).data as Float64Array);
  const sets = ids.map((id) => {
    const r = rows.get(id) as number[];
    const f = new Float32Array(r.length * D);
    r.forEach((row, t) => f.set(feats.subarray(row * D, (row + 1) * D), t * D));
    return { features: f, norms: Float32Array.from(r, (row) => norms[row]) };
  });
  return { ids, sets };
}

function expectedFeats(tag: string): Float64Array {
  return readNpy(path.join(IJB, `expected/${tag}_template_feats.npy`)).data as Float64Array;
}

describe('ijb_mini template features', () => {
  let data: ReturnType<typeof templates>;
  beforeAll(() => {
    data = templates();
  });

  it.each([
    ['mean', 'plain_mean'],
    ['norm-weighted', 'norm_weighted_mean'],
  ] as const)('%s baseline equals the official %s fusion', (method, tag) => {
    const out = aggregateBaseline(data.sets, D, method);
    expect(maxAbsDiff(out.aggregate, expectedFeats(tag))).toBeLessThanOrEqual(1e-6);
  });

  describe.each(['wasm', 'cpu'] as const)('FaceCoresetNet on %s', (backend) => {
    let model: FaceCoresetNet;
    beforeAll(async () => {
      await initBackend({ backend, log: null });
      model = FaceCoresetNet.fromStateDict(checkpointStateDict());
    });
    afterAll(() => model.dispose());

    it.each(['fused', 'tfjs'] as const)('%s path: one mixed-size batch equals the official zero-noise templates', (evalPath) => {
      // The tfjs path on the plain-JS cpu backend is slow; there a subset of 16 templates (sizes 1..52) stands for all.
      const picked = evalPath === 'tfjs' && backend === 'cpu' ? data.ids.map((_, b) => b).filter((b) => b % 7 === 0 || data.sets[b].norms.length > 40) : data.ids.map((_, b) => b);
      const fps = JSON.parse(fs.readFileSync(path.join(IJB, 'expected/facecoresetnet_random_zero_noise_fps_per_template.json'), 'utf8'));
      const expected = expectedFeats('facecoresetnet_random_zero_noise');
      const out = model.aggregate(
        picked.map((b) => data.sets[b]),
        { path: evalPath },
      );
      const K = out.coresetSize;
      picked.forEach((b, i) => {
        const id = data.ids[b];
        expect([id, maxAbsDiff(out.aggregate.subarray(i * D, (i + 1) * D), expected.subarray(b * D, (b + 1) * D)) <= 1e-5]).toEqual([id, true]);
        expect([id, Array.from(out.indices.subarray(i * K, i * K + out.coresetSizes[i]))]).toEqual([id, fps[String(id)].fps_indices_within_template]);
      });
    });

    it('fused path: batching changes nothing (every set alone gives identical numbers)', () => {
      const out = model.aggregate(data.sets);
      const K = out.coresetSize;
      data.sets.forEach((set, b) => {
        const alone = model.aggregate([set]);
        expect(maxAbsDiff(alone.aggregate, out.aggregate.subarray(b * D, (b + 1) * D))).toBe(0);
        expect(alone.norm[0]).toBe(out.norm[b]);
        expect(Array.from(alone.indices)).toEqual(Array.from(out.indices.subarray(b * K, (b + 1) * K)));
      });
    });

    it('tfjs path: grouping by size changes nothing beyond float32 rounding (≤ 1e-6)', () => {
      // Sets of equal size share one batched forward pass; batched kernels may round differently.
      const bySize = new Map<number, number[]>();
      data.sets.forEach((s, b) => bySize.set(s.norms.length, [...(bySize.get(s.norms.length) ?? []), b]));
      const group = [...bySize.values()].find((g) => g.length >= 3) as number[];
      const members = [...group.slice(0, 3), data.sets.findIndex((s) => s.norms.length === 1)];
      const out = model.aggregate(
        members.map((b) => data.sets[b]),
        { path: 'tfjs' },
      );
      members.forEach((b, i) => {
        const alone = model.aggregate([data.sets[b]], { path: 'tfjs' });
        expect(maxAbsDiff(alone.aggregate, out.aggregate.subarray(i * D, (i + 1) * D))).toBeLessThanOrEqual(1e-6);
        expect(Array.from(alone.indices)).toEqual(Array.from(out.indices.subarray(i * out.coresetSize, (i + 1) * out.coresetSize)));
      });
    });
  });
});
