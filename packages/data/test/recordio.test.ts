import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  detectLayout,
  frameRecord,
  InsightfaceRecordIOWriter,
  isImageKey,
  packRecord,
  parseIdx,
  primaryLabel,
  readLst,
  RECORDIO_MAGIC,
  RecordIOReader,
  RecordIOWriter,
  unpackRecord,
} from '../src/recordio';
import { expectInputError, tempDirs } from './helpers';

const FIX = path.resolve(__dirname, 'fixtures/recordio');
interface ExpectedRecord {
  kind: 'header' | 'image' | 'identity';
  key: number;
  offset: number;
  framed_bytes: number;
  parts: number;
  labels: number[];
  label?: number;
  id?: number;
  id2?: number;
  image_bytes?: number;
  image_sha256?: string;
}
const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Record<'insightface' | 'plain', ExpectedRecord[]>;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const tmpDir = tempDirs('recordio');

function checkAgainstExpected(reader: RecordIOReader, records: ExpectedRecord[]): void {
  for (const e of records) {
    expect(reader.offsetOf(e.key)).toBe(e.offset);
    const rec = reader.read(e.key);
    if (e.kind === 'image') {
      expect(primaryLabel(rec.header)).toBe(e.label);
      expect(Array.from(rec.header.labels)).toEqual(e.labels);
      expect(rec.header.id).toBe(e.id);
      expect(rec.header.id2).toBe(e.id2);
      expect(rec.image.length).toBe(e.image_bytes);
      expect(sha256(rec.image)).toBe(e.image_sha256);
    } else {
      expect(Array.from(rec.header.labels)).toEqual(e.labels);
      expect(rec.image.length).toBe(0);
    }
  }
}

describe('RecordIO on files written by an independent (Python struct) writer', () => {
  test('insightface layout: seek every key by .idx, header and identity ranges, multi-part record joined', () => {
    const reader = RecordIOReader.open(path.join(FIX, 'insightface/train.rec'));
    try {
      expect(expected.insightface.some((r) => r.parts === 3)).toBe(true);
      checkAgainstExpected(reader, expected.insightface);
      const layout = detectLayout(reader);
      expect(layout.kind).toBe('insightface');
      if (layout.kind !== 'insightface') return;
      const header = expected.insightface.find((r) => r.kind === 'header')!;
      expect([layout.imageEnd, layout.identityEnd]).toEqual(header.labels);
      expect(layout.identities.map((r) => [r.start, r.end])).toEqual(expected.insightface.filter((r) => r.kind === 'identity').map((r) => r.labels));
      const imageKeys = reader.index!.keys.filter((k) => isImageKey(layout, k));
      expect(imageKeys).toEqual(expected.insightface.filter((r) => r.kind === 'image').map((r) => r.key));
    } finally {
      reader.close();
    }
  });

  test('plain layout with label arrays and keys not starting at 0', () => {
    const reader = RecordIOReader.open(path.join(FIX, 'plain/data.rec'), path.join(FIX, 'plain/data.idx'));
    try {
      checkAgainstExpected(reader, expected.plain);
      expect(detectLayout(reader).kind).toBe('plain');
    } finally {
      reader.close();
    }
  });

  test('sequential scan finds the same records, offsets and ends as the .idx (small chunks force refills)', () => {
    for (const [set, rec] of [['insightface', 'insightface/train.rec'], ['plain', 'plain/data.rec']] as const) {
      const reader = RecordIOReader.open(path.join(FIX, rec), null);
      try {
        const scanned = [...reader.scan({ chunkBytes: 64 })];
        // Reusing the read buffer yields the same records (each looked at before the next read).
        const reused = Array.from(reader.scan({ chunkBytes: 64, reuseBuffer: true }), (r) => ({ offset: r.offset, end: r.end, sha: sha256(r.payload) }));
        expect(reused).toEqual(scanned.map((r) => ({ offset: r.offset, end: r.end, sha: sha256(r.payload) })));
        expect(scanned.map((r) => r.offset)).toEqual(expected[set].map((e) => e.offset));
        expect(scanned.map((r) => r.end - r.offset)).toEqual(expected[set].map((e) => e.framed_bytes));
        scanned.forEach((r, i) => {
          const e = expected[set][i];
          if (e.image_sha256) expect(sha256(unpackRecord(r.payload).image)).toBe(e.image_sha256);
        });
      } finally {
        reader.close();
      }
    }
  });

  test('optional .lst', () => {
    const lst = readLst(path.join(FIX, 'insightface/train.lst'));
    expect(lst.map((e) => e.key)).toEqual(expected.insightface.filter((r) => r.kind === 'image').map((r) => r.key));
    expect(lst.map((e) => e.labels[0])).toEqual(expected.insightface.filter((r) => r.kind === 'image').map((r) => r.label));
  });
});

describe('RecordIO writer', () => {
  test('frames a payload byte for byte as the independent writer did (incl. the 3-part record)', () => {
    const rec = fs.readFileSync(path.join(FIX, 'insightface/train.rec'));
    const reader = RecordIOReader.open(path.join(FIX, 'insightface/train.rec'));
    try {
      for (const e of expected.insightface) {
        const original = rec.subarray(e.offset, e.offset + e.framed_bytes);
        expect(Buffer.from(frameRecord(reader.readPayload(e.key))).equals(original)).toBe(true);
      }
    } finally {
      reader.close();
    }
  });

  test('round trip: packRecord/unpackRecord and RecordIOWriter -> RecordIOReader', () => {
    const dir = tmpDir();
    const magic = new Uint8Array(new Uint32Array([RECORDIO_MAGIC]).buffer);
    const images = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array([...magic, 9, ...magic, ...magic, 7, 7, 7, 7, ...magic])];
    const w = RecordIOWriter.open(path.join(dir, 'x.rec'), path.join(dir, 'x.idx'));
    images.forEach((img, i) => w.write(100 + i, i === 1 ? { label: [3, 4.5, -1], id: 5, id2: 2 ** 40 } : { label: i, id: i }, img));
    expect(fs.existsSync(path.join(dir, 'x.rec'))).toBe(false);
    w.close();
    const r = RecordIOReader.open(path.join(dir, 'x.rec'));
    try {
      images.forEach((img, i) => {
        const back = r.read(100 + i);
        expect(Array.from(back.image)).toEqual(Array.from(img));
        if (i === 1) expect({ flag: back.header.flag, labels: Array.from(back.header.labels), id: back.header.id, id2: back.header.id2 }).toEqual({ flag: 3, labels: [3, 4.5, -1], id: 5, id2: 2 ** 40 });
        else expect(back.header.label).toBe(i);
      });
      expect([...r.scan()].length).toBe(3);
    } finally {
      r.close();
    }
    const payload = packRecord({ label: 7 }, new Uint8Array([5]));
    expect(unpackRecord(payload).header).toEqual({ flag: 0, label: 7, id: 0, id2: 0, labels: new Float32Array(0) });
  });

  test('InsightfaceRecordIOWriter writes the layout detectLayout reads', () => {
    const dir = tmpDir();
    const w = InsightfaceRecordIOWriter.open(path.join(dir, 'train.rec'), path.join(dir, 'train.idx'), [2, 1, 3]);
    [0, 0, 1, 2, 2, 2].forEach((label, i) => w.writeImage(label, new Uint8Array([i])));
    w.close();
    const r = RecordIOReader.open(path.join(dir, 'train.rec'));
    try {
      const layout = detectLayout(r);
      expect(layout).toEqual({
        kind: 'insightface',
        imageEnd: 7,
        identityEnd: 10,
        identities: [
          { key: 7, start: 1, end: 3 },
          { key: 8, start: 3, end: 4 },
          { key: 9, start: 4, end: 7 },
        ],
      });
      expect(primaryLabel(r.read(4).header)).toBe(2);
    } finally {
      r.close();
    }
  });

  test('abort leaves nothing behind', () => {
    const dir = tmpDir();
    const w = RecordIOWriter.open(path.join(dir, 'x.rec'), path.join(dir, 'x.idx'));
    w.write(0, { label: 1 }, new Uint8Array(10));
    w.abort();
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('RecordIO bad input', () => {
  const src = path.join(FIX, 'insightface/train.rec');
  const idx = fs.readFileSync(path.join(FIX, 'insightface/train.idx'), 'utf8');

  function copySet(mutateRec?: (b: Buffer) => Buffer, idxText = idx): string {
    const dir = tmpDir();
    const rec = fs.readFileSync(src);
    fs.writeFileSync(path.join(dir, 'train.rec'), mutateRec ? mutateRec(rec) : rec);
    fs.writeFileSync(path.join(dir, 'train.idx'), idxText);
    return path.join(dir, 'train.rec');
  }


  test('truncated .rec', () => {
    // Cut inside the 3-part record (key 3); the .idx keeps keys 0..3.
    const cut = expected.insightface[3];
    const idxUpTo3 = idx.split('\n').slice(0, 4).join('\n') + '\n';
    const rec = copySet((b) => b.subarray(0, cut.offset + 50), idxUpTo3);
    const r = RecordIOReader.open(rec);
    expectInputError(() => r.read(3), /train\.rec:offset \d+: truncated/);
    expectInputError(() => [...r.scan()], /truncated/);
    r.close();
  });

  test('wrong magic', () => {
    const at = expected.insightface[2].offset;
    const rec = copySet((b) => {
      const c = Buffer.from(b);
      c.writeUInt32LE(0xdeadbeef, at);
      return c;
    });
    const r = RecordIOReader.open(rec);
    expectInputError(() => r.read(2), new RegExp(`offset ${at}: expected RecordIO magic 0xced7230a, found 0xdeadbeef`));
    expectInputError(() => [...r.scan()], /expected RecordIO magic/);
    r.close();
  });

  test('.idx offset past the end', () => {
    const rec = copySet(undefined, idx + '99\t999999\n');
    expectInputError(() => RecordIOReader.open(rec), /train\.idx:line 12: offset 999999 of key 99 is past the end/);
  });

  test('.idx offset that does not point at a record', () => {
    const rec = copySet(undefined, idx.replace(/^1\t(\d+)/m, (_m, off) => `1\t${Number(off) + 4}`));
    const r = RecordIOReader.open(rec);
    expectInputError(() => r.read(1), /expected RecordIO magic/);
    r.close();
  });

  test('malformed .idx line', () => {
    expectInputError(() => parseIdx(Buffer.from('0\t0\n1 x\n'), 'a.idx'), /a\.idx:line 2: expected "<integer key>\\t<integer offset>"/);
    expectInputError(() => parseIdx(Buffer.from('0\t0\n0\t8\n'), 'a.idx'), /a\.idx:line 2: duplicate key 0/);
  });

  test('IRHeader announcing more labels than the payload holds', () => {
    const p = packRecord({ label: [1, 2] }, new Uint8Array(0));
    new DataView(p.buffer).setUint32(0, 50, true);
    expectInputError(() => unpackRecord(p, 'x.rec', 'record 3'), /x\.rec:record 3: IRHeader flag 50/);
  });
});
