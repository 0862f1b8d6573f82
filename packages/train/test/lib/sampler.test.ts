import { Rng } from '@facecoreset/common';
import { buildSet, SetSampler } from '../../src/lib/sampler';
import { buildSetIndex, imagesOfIdentity, splitIdentities, viewsOfImage } from '../../src/lib/set-index';

/** A toy features table: `identities` identities with 1..6 images each, each image with 1..5 views, rows shuffled. */
function toyTable(identities: number, seed = 7) {
  const rng = Rng.stream(seed, 'toy');
  const labelOfRow: number[] = [];
  const rows: number[] = [];
  const views: number[] = [];
  for (let id = 0; id < identities; id++) {
    const images = rng.int(1, 6);
    for (let i = 0; i < images; i++) {
      const row = labelOfRow.length;
      labelOfRow.push(id * 3 + 1); // sparse source labels
      const v = rng.int(1, 5);
      for (let k = 0; k < v; k++) {
        rows.push(row);
        views.push(k);
      }
    }
  }
  const order = rng.shuffle(rows.map((_, i) => i));
  return { labelOfRow: Int32Array.from(labelOfRow), row: order.map((i) => rows[i]), view: order.map((i) => views[i]) };
}

describe('buildSetIndex', () => {
  it('groups every feature row under its image and every image under its identity', () => {
    const t = toyTable(30);
    const index = buildSetIndex({ row: t.row, view: t.view }, t.labelOfRow);
    let seen = 0;
    for (let j = 0; j < index.labels.length; j++) {
      for (const img of imagesOfIdentity(index, j)) {
        expect(index.imageLabel[img]).toBe(index.labels[j]);
        const v = Array.from(viewsOfImage(index, img));
        seen += v.length;
        v.forEach((f, k) => {
          expect(t.row[f]).toBe(index.imageRow[img]);
          expect(t.view[f]).toBe(k); // ordered by view
        });
      }
    }
    expect(seen).toBe(t.row.length);
  });

  it('names the record of a row outside the images table', () => {
    expect(() => buildSetIndex({ row: [0, 5], view: [0, 0] }, Int32Array.from([0, 1]), 'f.parquet')).toThrow('f.parquet:record 1: feature row 1: image row 5 is not in the images table (2 rows)');
  });

  it('rejects a duplicate (row, view)', () => {
    expect(() => buildSetIndex({ row: [0, 0], view: [1, 1] }, Int32Array.from([0]))).toThrow(/duplicate \(row 0, view 1\)/);
  });
});

describe('splitIdentities', () => {
  it('holds out the requested share among identities with enough images, deterministically', () => {
    const t = toyTable(100);
    const index = buildSetIndex({ row: t.row, view: t.view }, t.labelOfRow);
    const a = splitIdentities(index, { seed: 1, identityFraction: 0.1, maxIdentities: 50, minImages: 2 });
    const b = splitIdentities(index, { seed: 1, identityFraction: 0.1, maxIdentities: 50, minImages: 2 });
    expect(Array.from(a.heldOutSlots)).toEqual(Array.from(b.heldOutSlots));
    expect(a.heldOutSlots.length).toBe(10);
    expect(a.trainSlots.length + a.heldOutSlots.length).toBe(100);
    const train = new Set(a.trainSlots);
    for (const s of a.heldOutSlots) {
      expect(train.has(s)).toBe(false);
      expect(imagesOfIdentity(index, s).length).toBeGreaterThanOrEqual(2);
    }
    expect(splitIdentities(index, { seed: 2, identityFraction: 0.1, maxIdentities: 50, minImages: 2 }).heldOutSlots).not.toEqual(a.heldOutSlots);
    expect(splitIdentities(index, { seed: 1, identityFraction: 0.1, maxIdentities: 3, minImages: 2 }).heldOutSlots.length).toBe(3);
  });
});

describe('buildSet', () => {
  it('fills exactly T items in clips of at most maxClip views of one image, distinct views when the image has enough', () => {
    const t = toyTable(10);
    const index = buildSetIndex({ row: t.row, view: t.view }, t.labelOfRow);
    const rng = Rng.stream(3, 'x');
    for (let trial = 0; trial < 200; trial++) {
      const slot = rng.int(0, index.labels.length - 1);
      const images = imagesOfIdentity(index, slot);
      const size = rng.int(1, 20);
      const set = buildSet(index, images, size, 3, rng);
      expect(set.featureRows.length).toBe(size);
      // Split into runs of the same image: a run may hold several consecutive clips of one image,
      // but every item must be a view of the image recorded for it, from this identity.
      for (let k = 0; k < size; k++) {
        expect(Array.from(images)).toContain(set.images[k]);
        expect(Array.from(viewsOfImage(index, set.images[k]))).toContain(set.featureRows[k]);
      }
    }
  });

  it('draws clips with the official rule min(3, U{1..remaining}) (clip boundaries recovered with one image per identity)', () => {
    // One image with 10 views: each clip is a prefix of a fresh random permutation, so clip sizes are
    // observable by replaying the same RNG.
    const index = buildSetIndex({ row: Array(10).fill(0), view: Array.from({ length: 10 }, (_, k) => k) }, Int32Array.from([0]));
    const rng = Rng.stream(9, 'clips');
    const replay = Rng.stream(9, 'clips');
    const set = buildSet(index, [0], 17, 3, rng);
    let filled = 0;
    while (filled < 17) {
      replay.int(0, 0);
      const clip = Math.min(3, replay.int(1, 17 - filled));
      const perm = replay.shuffle(Array.from({ length: 10 }, (_, k) => k));
      const got = Array.from(set.featureRows.subarray(filled, filled + clip));
      expect(new Set(got).size).toBe(clip); // distinct views within a clip
      expect(got).toEqual(perm.slice(0, clip).map((v) => index.imageFeatures[v]));
      filled += clip;
    }
  });
});

describe('SetSampler', () => {
  const t = toyTable(60);
  const index = buildSetIndex({ row: t.row, view: t.view }, t.labelOfRow);
  const split = splitIdentities(index, { seed: 5, identityFraction: 0.1, maxIdentities: 100, minImages: 2 });
  const opts = { seed: 11, batchSize: 8, maxTemplateSize: 20, maxClipSize: 3, batchesPerEpochFraction: 1 };

  it('gives batches of distinct classes, each set of size T from its own identity', () => {
    const sampler = new SetSampler(index, split.trainSlots, opts);
    const sizes = new Set<number>();
    for (let b = 0; b < sampler.batchesInEpoch(0); b++) {
      const batch = sampler.batch({ epoch: 0, batch: b });
      expect(batch.classes.length).toBe(8);
      expect(new Set(batch.classes).size).toBe(8);
      expect(batch.featureRows.length).toBe(8 * batch.setSize);
      expect(batch.setSize).toBeGreaterThanOrEqual(1);
      expect(batch.setSize).toBeLessThanOrEqual(20);
      sizes.add(batch.setSize);
      batch.classes.forEach((c, i) => {
        const slot = split.trainSlots[c];
        for (let k = 0; k < batch.setSize; k++) {
          const img = batch.images[i * batch.setSize + k];
          expect(index.imageLabel[img]).toBe(index.labels[slot]);
        }
      });
    }
    expect(sizes.size).toBeGreaterThan(3); // T varies between batches
  });

  it('runs about ⌊images / batch⌋ · fraction batches per epoch and visits each identity in proportion to its images', () => {
    const full = new SetSampler(index, split.trainSlots, opts);
    const nominal = Math.floor(full.imageCount / 8);
    expect(full.batchesInEpoch(0)).toBeLessThanOrEqual(nominal);
    expect(full.batchesInEpoch(0)).toBeGreaterThanOrEqual(nominal - 3); // only leftovers of repeated identities are dropped
    // Each image is one occurrence of its identity per epoch: a class appears at most as often as it has images.
    const seen = new Map<number, number>();
    for (let b = 0; b < full.batchesInEpoch(0); b++) for (const c of full.batch({ epoch: 0, batch: b }).classes) seen.set(c, (seen.get(c) ?? 0) + 1);
    let used = 0;
    split.trainSlots.forEach((slot, c) => {
      expect(seen.get(c) ?? 0).toBeLessThanOrEqual(imagesOfIdentity(index, slot).length);
      used += seen.get(c) ?? 0;
    });
    expect(full.imageCount - used).toBeLessThan(8 * 4);
    const tenth = new SetSampler(index, split.trainSlots, { ...opts, batchesPerEpochFraction: 0.1 });
    expect(tenth.batchesInEpoch(0)).toBe(Math.max(1, Math.floor(nominal * 0.1)));
  });

  it('is a pure function of (seed, epoch, batch): a new sampler reproduces any batch; epochs and seeds differ', () => {
    const a = new SetSampler(index, split.trainSlots, opts);
    const b = new SetSampler(index, split.trainSlots, opts);
    const x = a.batch({ epoch: 3, batch: 2 });
    a.batch({ epoch: 0, batch: 0 });
    expect(b.batch({ epoch: 3, batch: 2 })).toEqual(x);
    expect(a.batch({ epoch: 3, batch: 2 })).toEqual(x);
    expect(a.batch({ epoch: 4, batch: 2 }).featureRows).not.toEqual(x.featureRows);
    expect(new SetSampler(index, split.trainSlots, { ...opts, seed: 12 }).batch({ epoch: 3, batch: 2 }).featureRows).not.toEqual(x.featureRows);
  });

  it('advances through an epoch, then to the next one', () => {
    const s = new SetSampler(index, split.trainSlots, { ...opts, batchesPerEpochFraction: 0.2 });
    const n = s.batchesInEpoch(0);
    expect(s.advance({ epoch: 0, batch: 0 })).toEqual({ epoch: 0, batch: 1 });
    expect(s.advance({ epoch: 0, batch: n - 1 })).toEqual({ epoch: 1, batch: 0 });
  });

  it('refuses fewer training identities than the batch size', () => {
    expect(() => new SetSampler(index, split.trainSlots.subarray(0, 5), opts)).toThrow(/training identities \(5\) are fewer than batch_size \(8\)/);
  });
});
