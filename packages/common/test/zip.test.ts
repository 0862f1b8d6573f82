import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZipArchive, crc32 } from '../src/py/zip';
import { InputError } from '../src/errors';

const REF = path.resolve(__dirname, '../../../../shared/fixtures/reference');
const FIX = path.resolve(__dirname, 'fixtures');
const open = (name: string) => new ZipArchive(fs.readFileSync(path.join(FIX, name)), name);
const TEXT = Buffer.from('facecoreset '.repeat(200));

describe('ZipArchive', () => {
  for (const name of ['zip_stored.zip', 'zip_deflate.zip']) {
    it(`reads ${name} written by Python's zipfile`, () => {
      const z = open(name);
      expect(z.entries.map((e) => e.name)).toEqual(['a/stored.txt', 'a/text.txt', 'empty']);
      expect(Buffer.from(z.read('a/stored.txt')).toString()).toBe('hello\n');
      expect(Buffer.from(z.read('a/text.txt')).equals(TEXT)).toBe(true);
      expect(z.read('empty').length).toBe(0);
      if (name === 'zip_deflate.zip') expect(z.get('a/text.txt')!.method).toBe(8);
    });
  }

  it('reads ZIP64 sizes and offsets (end record, locator and extra fields)', () => {
    const z = open('zip_zip64.zip');
    const data = z.read('big/entry.bin');
    expect(data.length).toBe(768);
    expect(Array.from(data.subarray(250, 260))).toEqual([250, 251, 252, 253, 254, 255, 0, 1, 2, 3]);
  });

  it("takes each entry's data start from its local header (torch pads it with an 'FB' extra field)", () => {
    const bytes = fs.readFileSync(path.join(REF, 'aggregator/facecoresetnet_random.ckpt'));
    const z = new ZipArchive(bytes);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const e of z.entries) {
      expect(e.dataOffset % 64).toBe(0);
      const localExtra = dv.getUint16(e.headerOffset + 28, true);
      expect(localExtra).toBeGreaterThan(0);
      expect(Buffer.from(bytes.subarray(e.headerOffset + 30 + e.name.length, e.headerOffset + 32 + e.name.length)).toString()).toBe('FB');
    }
    expect(Buffer.from(z.read('archive/version')).toString()).toBe('3\n');
  });

  it('refuses corrupt and truncated archives with one-line reasons', () => {
    expect(() => open('zip_bad_crc.zip').read('a/stored.txt')).toThrow("zip_bad_crc.zip: zip entry 'a/stored.txt': CRC-32 mismatch (archive corrupt)");
    expect(() => open('zip_bad_central.zip')).toThrow(/^zip_bad_central\.zip:byte \d+: corrupt zip central directory: entry 0 has no header signature$/);
    expect(() => open('zip_bzip2.zip').read('a/text.txt')).toThrow("zip_bzip2.zip: zip entry 'a/text.txt' uses compression method 12; only stored (0) and deflate (8) are supported");
    const good = fs.readFileSync(path.join(FIX, 'zip_deflate.zip'));
    expect(() => new ZipArchive(good.subarray(0, good.length - 30), 'cut.zip')).toThrow(/^cut\.zip: not a zip archive or truncated: no end-of-central-directory record$/);
    expect(() => new ZipArchive(good.subarray(0, 10), 'tiny.zip')).toThrow('tiny.zip: not a zip archive (10 bytes)');
    // Bytes put in front shift everything away from the offsets the end record gives.
    const shifted = Buffer.concat([Buffer.alloc(7), good]);
    expect(() => new ZipArchive(shifted, 's.zip')).toThrow(/^s\.zip:byte \d+: corrupt zip central directory: entry 0 has no header signature$/);
    const noLocal = Buffer.from(good);
    noLocal[0] = 0;
    expect(() => new ZipArchive(noLocal, 'l.zip')).toThrow("l.zip:byte 0: corrupt zip archive: entry 'a/stored.txt' has no local header at byte 0");
    expect(() => open('zip_stored.zip').read('nope')).toThrow(InputError);
    expect(() => open('zip_stored.zip').read('nope')).toThrow("zip_stored.zip: zip archive has no entry 'nope'");
  });

  it('computes CRC-32 as zlib does', () => {
    // zlib.crc32(b'123456789') = 0xcbf43926 (the standard check value).
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
