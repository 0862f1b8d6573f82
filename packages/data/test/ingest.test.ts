import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, readNpy } from '@facecoreset/common';
import { expectInputErrorAsync, tempDirs } from './helpers';
import { PNG } from 'pngjs';
import { alignFace, decodeRgb } from '../src/align';
import { readFeaturesPickle } from '../src/features';
import { ingestIjb } from '../src/ingest/ijb';
import { ingestImageFolder } from '../src/ingest/folder';
import { ingestRecordIO } from '../src/ingest/recordio';
import { readManifest } from '../src/manifest';
import { readTable } from '../src/parquet';
import { InsightfaceRecordIOWriter } from '../src/recordio';
import { featuresTable, identitiesTable, ijbAlignedTable, ijbFacesTable, ijbIdentificationTable, ijbPairsTable, imagesTable } from '../src/schemas';

const FIX = path.resolve(__dirname, 'fixtures');
const MINI = path.resolve(__dirname, '../../../../shared/fixtures/reference/ijb_mini');
const expectedRec = JSON.parse(fs.readFileSync(path.join(FIX, 'recordio/expected.json'), 'utf8'));
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const tmp = tempDirs('ingest');
const tinyJpeg = fs.readFileSync(path.join(FIX, '../fixtures-gen/tiny-a.jpg'));

/** Lists what a failed run may have left next to `out`. */
const leftovers = (parent: string): string[] => fs.readdirSync(parent).filter((f) => f.startsWith('.fcn-tmp-'));

describe('ingest recordio', () => {
  test('insightface-layout set from the independent writer -> images + identities tables', async () => {
    const out = path.join(tmp(), 'out');
    const m = await ingestRecordIO({ input: path.join(FIX, 'recordio/insightface'), out });
    const images = readTable(out, imagesTable);
    const exp = expectedRec.insightface.filter((r: { kind: string }) => r.kind === 'image');
    expect(Array.from(images.getChild('image_id')!.toArray() as BigInt64Array, Number)).toEqual(exp.map((r: { key: number }) => r.key));
    expect(Array.from(images.getChild('label')!.toArray())).toEqual(exp.map((r: { label: number }) => r.label));
    expect(images.getChild('identity')!.toArray()).toEqual(exp.map((r: { label: number }) => String(r.label)));
    expect(Array.from({ length: images.numRows }, (_, i) => sha256(images.getChild('image')!.get(i)!))).toEqual(exp.map((r: { image_sha256: string }) => r.image_sha256));
    expect(images.getChild('source')!.toArray()).toEqual(exp.map((r: { offset: number }) => `train.rec@${r.offset}`));
    const ids = readTable(out, identitiesTable);
    expect(Array.from(ids.getChild('count')!.toArray())).toEqual([3, 1, 3]);
    expect(m.counts).toMatchObject({ records: 11, images: 7, identities: 3, identityRecords: 3, lstEntries: 7, skipped: 0 });
    expect(readManifest(out)).toEqual(m);
    expect(m.source.files!.map((f) => f.path).sort()).toEqual(['train.idx', 'train.lst', 'train.rec']);
  });

  test('plain layout: source labels 40/7/40/13 become dense labels in numeric order', async () => {
    const out = path.join(tmp(), 'out');
    await ingestRecordIO({ input: path.join(FIX, 'recordio/plain/data.rec'), out });
    const images = readTable(out, imagesTable);
    expect(Array.from(images.getChild('label')!.toArray())).toEqual([2, 0, 2, 1]);
    expect(readTable(out, identitiesTable).getChild('identity')!.toArray()).toEqual(['7', '13', '40']);
  });

  function setWithCorruptImage(): string {
    const dir = tmp();
    const w = InsightfaceRecordIOWriter.open(path.join(dir, 'train.rec'), path.join(dir, 'train.idx'), [2, 1]);
    w.writeImage(0, tinyJpeg);
    w.writeImage(0, tinyJpeg.subarray(0, tinyJpeg.length - 40)); // key 2: truncated JPEG
    w.writeImage(1, tinyJpeg);
    w.close();
    return dir;
  }

  test('a corrupt JPEG is reported with its record id; --skip-bad records it and goes on', async () => {
    const dir = setWithCorruptImage();
    const parent = tmp();
    await expectInputErrorAsync(ingestRecordIO({ input: dir, out: path.join(parent, 'out') }), /train\.rec:record 2 @ offset \d+: corrupt image: JPEG: truncated/);
    expect(fs.readdirSync(parent)).toEqual([]);
    const m = await ingestRecordIO({ input: dir, out: path.join(parent, 'out'), skipBad: true });
    expect(m.skipped).toEqual([{ where: expect.stringMatching(/^train\.rec:record 2 @ offset \d+$/), reason: 'JPEG: truncated (no end-of-image marker after the scan data)' }]);
    expect(m.counts).toMatchObject({ images: 2, skipped: 1 });
  });

  test('.idx/.rec mismatch; a failed run leaves no partial output and keeps the previous complete one', async () => {
    const parent = tmp();
    const out = path.join(parent, 'out');
    await ingestRecordIO({ input: path.join(FIX, 'recordio/insightface'), out });
    const before = fs.readFileSync(path.join(out, 'manifest.json'), 'utf8');
    const dir = tmp();
    fs.copyFileSync(path.join(FIX, 'recordio/insightface/train.rec'), path.join(dir, 'train.rec'));
    const idx = fs.readFileSync(path.join(FIX, 'recordio/insightface/train.idx'), 'utf8').split('\n');
    fs.writeFileSync(path.join(dir, 'train.idx'), [...idx.slice(0, 5), ...idx.slice(6)].join('\n'));
    await expectInputErrorAsync(ingestRecordIO({ input: dir, out }), /train\.idx: the header \(record 0\) announces image records 1\.\.7 but key 5 is not in the index/);
    // Plain layout: nothing announces the keys, the scan finds the record the .idx lacks.
    const plain = tmp();
    fs.copyFileSync(path.join(FIX, 'recordio/plain/data.rec'), path.join(plain, 'data.rec'));
    const plainIdx = fs.readFileSync(path.join(FIX, 'recordio/plain/data.idx'), 'utf8').split('\n');
    fs.writeFileSync(path.join(plain, 'data.idx'), [...plainIdx.slice(0, 2), ...plainIdx.slice(3)].join('\n'));
    await expectInputErrorAsync(ingestRecordIO({ input: plain, out }), /data\.rec:offset \d+: \.idx\/\.rec mismatch: the record at offset \d+ is not in data\.idx/);
    expect(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')).toBe(before);
    expect(leftovers(parent)).toEqual([]);
    fs.rmSync(path.join(dir, 'train.idx'));
    await expectInputErrorAsync(ingestRecordIO({ input: dir, out }), /train\.rec: expected the index train\.idx next to it/);
  });
});

describe('ingest folder', () => {
  function makeFolder(): string {
    const root = tmp();
    for (const [rel, bytes] of [
      ['bob/2.jpg', tinyJpeg],
      ['bob/1.JPEG', tinyJpeg],
      ['alice/x.png', PNG.sync.write(Object.assign(new PNG({ width: 1, height: 1 }), { data: Buffer.from([1, 2, 3, 255]) }))],
      ['alice/notes.txt', Buffer.from('not an image')],
    ] as const) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), bytes);
    }
    fs.writeFileSync(path.join(root, 'README'), 'x');
    return root;
  }

  test('identities sorted, labels dense, files sorted, other files listed as ignored', async () => {
    const root = makeFolder();
    const out = path.join(tmp(), 'out');
    const m = await ingestImageFolder({ input: root, out });
    const images = readTable(out, imagesTable);
    expect(images.getChild('source')!.toArray()).toEqual(['alice/x.png', 'bob/1.JPEG', 'bob/2.jpg']);
    expect(Array.from(images.getChild('label')!.toArray())).toEqual([0, 1, 1]);
    expect(Array.from(images.getChild('image_id')!.toArray() as BigInt64Array, Number)).toEqual([0, 1, 2]);
    expect(sha256(images.getChild('image')!.get(2)!)).toBe(sha256(tinyJpeg));
    expect(Array.from(readTable(out, identitiesTable).getChild('count')!.toArray())).toEqual([1, 2]);
    expect(m.counts).toMatchObject({ files: 3, images: 3, identities: 2, ignored: 2 });
    expect(m.source.fileCount).toBe(3);
  });

  test('an empty identity folder and a corrupt image are clear errors', async () => {
    const root = makeFolder();
    fs.mkdirSync(path.join(root, 'carol'));
    await expectInputErrorAsync(ingestImageFolder({ input: root, out: path.join(tmp(), 'o') }), /carol: identity folder "carol" has no \.jpg\/\.jpeg\/\.png images/);
    fs.rmdirSync(path.join(root, 'carol'));
    fs.writeFileSync(path.join(root, 'bob/3.jpg'), Buffer.from('garbage'));
    await expectInputErrorAsync(ingestImageFolder({ input: root, out: path.join(tmp(), 'o') }), /bob\/3\.jpg: corrupt image: not a JPEG or PNG/);
  });
});

describe('ingest ijb', () => {
  const stats = JSON.parse(fs.readFileSync(path.join(MINI, 'dataset_stats.json'), 'utf8'));

  test('ijb_mini with the official features pickle -> faces, pairs, 1:N and features tables', async () => {
    const out = path.join(tmp(), 'out');
    const pickle = path.join(MINI, 'IJBB_ir101_webface4m.pickle');
    const m = await ingestIjb({ root: path.join(MINI, 'ijb_root'), dataset: 'IJBB', featuresPickle: pickle, out });
    const faces = readTable(out, ijbFacesTable);
    expect(faces.numRows).toBe(885);
    expect(faces.getChild('landmarks')!.nullCount).toBe(885);
    // Faceness comes from the pickle when there is no landmark file.
    const faceness = readNpy(path.join(MINI, 'faceness_scores.npy'));
    expect(Array.from(faces.getChild('faceness')!.toArray())).toEqual(Array.from(faceness.data as Float32Array));
    expect(readTable(out, ijbPairsTable).numRows).toBe(1500);
    expect(readTable(out, ijbIdentificationTable('gallery_S1')).numRows).toBe(15);
    expect(readTable(out, ijbIdentificationTable('probe_mixed')).numRows).toBe(71);
    const features = readTable(out, featuresTable(512));
    const emb = features.getChild('embedding')!.data[0].children[0].values as Float32Array;
    const check = stats.img_feats_check;
    expect(sha256(new Uint8Array(emb.buffer, emb.byteOffset, emb.byteLength))).toBe(check.sha256_of_raw_little_endian_C_order_bytes);
    const norms = readNpy(path.join(MINI, 'norms.npy'));
    expect(Array.from(features.getChild('norm')!.toArray())).toEqual(Array.from(norms.data as Float32Array));
    expect(m.counts).toMatchObject({ faces: 885, templates: 101, pairs: 1500, genuinePairs: 133, media: 277, featureDim: 512 });
  });

  test('bad features pickles: row count, NaN, Inf, zero norm, not unit, forbidden global', async () => {
    const P = (n: string): string => path.join(FIX, 'pickles', `${n}.pickle`);
    expect(readFeaturesPickle(P('good_3x4')).rows).toBe(3);
    await expectInputErrorAsync(ingestIjb({ root: path.join(MINI, 'ijb_root'), dataset: 'IJBB', featuresPickle: P('good_3x4'), out: path.join(tmp(), 'o') }), /good_3x4\.pickle: features pickle has 3 rows but ijbb_face_tid_mid\.txt has 885/);
    expect(() => readFeaturesPickle(P('nan_row1'))).toThrow(/nan_row1\.pickle:row 1: embedding has a non-finite value \(NaN\)/);
    expect(() => readFeaturesPickle(P('inf_row2'))).toThrow(/inf_row2\.pickle:row 2: embedding has a non-finite value \(Infinity\)/);
    expect(() => readFeaturesPickle(P('zero_row0'))).toThrow(/zero_row0\.pickle:row 0: embedding is all zeros/);
    expect(() => readFeaturesPickle(P('not_unit_row2'))).toThrow(/not_unit_row2\.pickle:row 2: embedding has L2 norm 2\.00000; expected a unit row/);
    expect(() => readFeaturesPickle(P('forbidden'))).toThrow(InputError);
    expect(() => readFeaturesPickle(P('forbidden'))).toThrow(/forbidden\.pickle.*'(posix|os)\.system', which is not allowed/);
  });

  test('--align: loose crops aligned with the landmark file; missing crop is an error unless --skip-bad', async () => {
    const root = tmp();
    const meta = path.join(root, 'IJBB/meta');
    const crops = path.join(root, 'IJBB/loose_crop');
    fs.mkdirSync(meta, { recursive: true });
    fs.mkdirSync(crops, { recursive: true });
    const img = readNpy(path.join(FIX, 'alignment/image.npy'));
    const lm = readNpy(path.join(FIX, 'alignment/landmarks.npy')).data as Float64Array;
    const [h, w] = img.shape;
    const png = new PNG({ width: w, height: h });
    for (let i = 0; i < w * h; i++) png.data.set([...(img.data as Uint8Array).subarray(3 * i, 3 * i + 3), 255], 4 * i);
    const pngBytes = PNG.sync.write(png);
    fs.writeFileSync(path.join(crops, 'a.png'), pngBytes);
    fs.writeFileSync(path.join(crops, 'b.png'), pngBytes);
    fs.writeFileSync(path.join(meta, 'ijbb_face_tid_mid.txt'), 'a.png 1 10\nb.png 1 11\nc.png 2 12\n');
    fs.writeFileSync(path.join(meta, 'ijbb_template_pair_label.txt'), '1 2 0\n');
    const lines = ['a.png', 'b.png', 'c.png'].map((n, i) => `${n} ${Array.from(lm.subarray(i * 10, i * 10 + 10)).join(' ')} 0.${i + 5}`);
    fs.writeFileSync(path.join(meta, 'ijbb_name_5pts_score.txt'), lines.join('\n') + '\n');
    await expectInputErrorAsync(ingestIjb({ root, dataset: 'IJBB', align: true, out: path.join(tmp(), 'o') }), /loose_crop\/c\.png:face row 2: loose crop not found/);
    const out = path.join(tmp(), 'o');
    const m = await ingestIjb({ root, dataset: 'IJBB', align: true, skipBad: true, out });
    expect(m.skipped.map((s) => s.where)).toEqual(['c.png (face row 2)']);
    const aligned = readTable(out, ijbAlignedTable);
    expect(Array.from(aligned.getChild('row')!.toArray())).toEqual([0, 1]);
    for (const row of [0, 1]) {
      // The landmark file is read as float32, as the official reader does.
      const want = alignFace(decodeRgb(pngBytes), Float32Array.from(lm.subarray(row * 10, row * 10 + 10))).data;
      expect(Buffer.from(aligned.getChild('rgb')!.get(row)!).equals(Buffer.from(want))).toBe(true);
    }
    const faces = readTable(out, ijbFacesTable);
    expect(Array.from(faces.getChild('faceness')!.toArray())).toEqual([0.5, 0.6, 0.7].map(Math.fround));
    expect(Array.from(faces.getChild('landmarks')!.get(1)!.toArray())).toEqual(Array.from(lm.subarray(10, 20), Math.fround));
  });
});
