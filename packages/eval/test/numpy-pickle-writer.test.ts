import * as fs from 'node:fs';
import * as path from 'node:path';
import { PyDict, readNumpyPickle, type NpyArray } from '@facecoreset/common';
import { float32Array, writeNumpyDictPickle } from './numpy-pickle-writer';
import { IJB_MINI } from './fixtures';

describe('numpy dict pickle writer (test tooling for official-format inputs)', () => {
  it('writes the ijb_mini features pickle byte for byte as Python 3.11 / numpy 1.24 did', () => {
    const original = fs.readFileSync(path.join(IJB_MINI, 'IJBB_ir101_webface4m.pickle'));
    const dict = readNumpyPickle(original) as PyDict;
    const arr = (k: string): NpyArray => dict.get(k) as NpyArray;
    const chunks: Uint8Array[] = [];
    writeNumpyDictPickle(
      ['img_feats', 'norms', 'faceness_scores'].map((k) => [k, float32Array(arr(k).data as Float32Array, arr(k).shape)]),
      (b) => chunks.push(Uint8Array.from(b)),
    );
    const written = Buffer.concat(chunks);
    expect(written.length).toBe(original.length);
    expect(written.equals(original)).toBe(true);
  });
});
