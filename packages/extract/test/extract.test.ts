import { InputError } from '@facecoreset/common';
import { IResNetInference, backboneInputFromRgb, initBackend, initIResNetWeights } from '@facecoreset/model';
import { flipHorizontal, renderView } from '../src/lib/augment';
import { tfjsBackboneRunner, type BackboneRunner } from '../src/lib/backbone-runner';
import { decodeImage } from '../src/lib/decode';
import { extractFeatures, featureRecords, type ImageInput } from '../src/lib/extract';
import { encodePng, patternRgb, sampleImages, sameBits, TINY_CONFIG } from './helpers';

/**
 * A stand-in backbone whose feature is a fixed function of the input alone: per channel, the sum
 * of the pixels weighted by position (so a flip or an augmentation changes it), plus a constant.
 */
function probeRunner(size: number): BackboneRunner & { calls: number[] } {
  const calls: number[] = [];
  return {
    inputSize: size,
    embeddingSize: 4,
    calls,
    async embed(input, batch) {
      calls.push(batch);
      const px = size * size * 3;
      const embedding = new Float32Array(batch * 4);
      const norm = new Float32Array(batch);
      for (let b = 0; b < batch; b++) {
        const v = [0, 0, 0, 1];
        for (let i = 0; i < px; i++) v[i % 3] += input[b * px + i] * (1 + ((i / 3) % size) / size);
        const n = Math.hypot(...v);
        v.forEach((x, d) => (embedding[b * 4 + d] = x / n));
        norm[b] = n;
      }
      return { embedding, norm };
    },
  };
}

function probeFeature(rgb: Uint8Array, size: number): Float32Array {
  const x = backboneInputFromRgb(rgb, size, size, 3);
  const v = [0, 0, 0, 1];
  for (let i = 0; i < x.length; i++) v[i % 3] += x[i] * (1 + ((i / 3) % size) / size);
  const n = Math.hypot(...v);
  return Float32Array.from(v, (a) => a / n);
}

describe('extractFeatures (stand-in backbone)', () => {
  const size = 16;
  const images: ImageInput[] = sampleImages(5, size).map((encoded, i) => ({ row: 40 + i, encoded }));

  it('emits one record per (image, view) in image-then-view order, batched', async () => {
    const runner = probeRunner(size);
    const done: number[] = [];
    const f = await extractFeatures(runner, images, { views: [0, 1, 2, 3], seed: 5, batchSize: 6, onImagesDone: (n) => done.push(n) });
    expect(f.count).toBe(20);
    expect(Array.from(f.row)).toEqual(images.flatMap((im) => [im.row, im.row, im.row, im.row]));
    expect(Array.from(f.view)).toEqual(images.flatMap(() => [0, 1, 2, 3]));
    expect(runner.calls).toEqual([6, 6, 6, 2]);
    expect(done).toEqual([1, 3, 4, 5]);
  });

  it('computes the view from the decoded image: original, mirror, seeded augmentation', async () => {
    const f = await extractFeatures(probeRunner(size), images.slice(0, 2), { views: [0, 1, 2], seed: 9, batchSize: 4 });
    const records = [...featureRecords(f)];
    for (const r of records) {
      const img = decodeImage((images.find((im) => im.row === r.row) as { encoded: Uint8Array }).encoded, { row: r.row });
      const view = r.view === 0 ? img : r.view === 1 ? flipHorizontal(img) : renderView(img, 9, r.row, r.view);
      const want = probeFeature(view.data, size);
      for (let d = 0; d < 4; d++) expect(r.embedding[d]).toBeCloseTo(want[d], 5);
    }
  });

  it('gives bit-identical records for an image whatever else is in the call (views reproduce across shards)', async () => {
    const whole = await extractFeatures(probeRunner(size), images, { views: [0, 2, 3], seed: 1, batchSize: 7 });
    const alone = await extractFeatures(probeRunner(size), [images[3]], { views: [0, 2, 3], seed: 1, batchSize: 7 });
    expect(sameBits(alone.embedding, whole.embedding.subarray(9 * 4, 12 * 4))).toBe(true);
    const otherSeed = await extractFeatures(probeRunner(size), [images[3]], { views: [2], seed: 2, batchSize: 7 });
    expect(sameBits(otherSeed.embedding, alone.embedding.subarray(4, 8))).toBe(false);
  });

  it('refuses undecodable bytes and wrong sizes with the row and file', async () => {
    const bad: ImageInput[] = [images[0], { row: 77, encoded: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }];
    await expect(extractFeatures(probeRunner(size), bad, { views: [0], seed: 0, batchSize: 2, file: 'in/images/part-00003.parquet' })).rejects.toThrow(
      'in/images/part-00003.parquet:row 77: image bytes are not JPEG or PNG',
    );
    const small: ImageInput[] = [{ row: 8, encoded: encodePng(patternRgb(0, 8), 8, 8) }];
    await expect(extractFeatures(probeRunner(size), small, { views: [0], seed: 0, batchSize: 2 })).rejects.toThrow(InputError);
    await expect(extractFeatures(probeRunner(size), small, { views: [0], seed: 0, batchSize: 2 })).rejects.toThrow(/row 8: image is 8x8; the backbone takes aligned 16x16/);
    const raw: ImageInput[] = [{ row: 4, rgb: new Uint8Array(5) }];
    await expect(extractFeatures(probeRunner(size), raw, { views: [0], seed: 0, batchSize: 2 })).rejects.toThrow(/row 4: aligned crop has 5 bytes/);
  });

  it('refuses a backbone output that is not finite', async () => {
    const broken: BackboneRunner = { inputSize: size, embeddingSize: 2, embed: async (_x, b) => ({ embedding: new Float32Array(b * 2).fill(NaN), norm: new Float32Array(b).fill(NaN) }) };
    await expect(extractFeatures(broken, images.slice(0, 1), { views: [0], seed: 0, batchSize: 1 })).rejects.toThrow(/non-finite or zero-norm feature \(norm NaN\) for row 40 view 0/);
  });
});

describe('extractFeatures (random-weights IResNet on wasm)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: null });
  });

  it('returns unit embeddings and positive norms; raw aligned crops and encoded PNGs of the same pixels agree exactly', async () => {
    const model = IResNetInference.fromWeights(initIResNetWeights(TINY_CONFIG, 11));
    try {
      const runner = tfjsBackboneRunner(model);
      const rgb = [0, 1, 2].map((i) => patternRgb(i, 112));
      const encoded = await extractFeatures(runner, rgb.map((p, i) => ({ row: i, encoded: encodePng(p, 112, 112) })), { views: [0, 1, 2], seed: 3, batchSize: 4 });
      const raw = await extractFeatures(runner, rgb.map((p, i) => ({ row: i, rgb: p })), { views: [0, 1, 2], seed: 3, batchSize: 4 });
      for (const r of featureRecords(encoded)) {
        let ss = 0;
        for (const v of r.embedding) ss += v * v;
        expect(Math.abs(Math.sqrt(ss) - 1)).toBeLessThan(1e-5);
        expect(r.norm).toBeGreaterThan(0);
      }
      expect(sameBits(encoded.embedding, raw.embedding)).toBe(true);
      expect(sameBits(encoded.norm, raw.norm)).toBe(true);
    } finally {
      model.dispose();
    }
  });
});
