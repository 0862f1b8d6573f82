/**
 * The whole extraction path against the official code: the IR-18 fixture's PNGs in an images
 * table, its float16 Lightning checkpoint, views original + flip, through `fcn extract`, compared
 * with the official embeddings and norms (BGR, (x/255 - 0.5)/0.5, eval mode).
 * Tolerances: every embedding value within 5e-6, norms within 1e-5 relative (reached on wasm:
 * 5.7e-7 and 4.1e-7; the reference's own float32-vs-float64 spread is 1.9e-7 and 1.4e-7).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readNpy } from '@facecoreset/common';
import { extractMain } from '../src/cli';
import { readFeatures, tempDir, writeImagesTable } from './helpers';

const FIXTURES = path.resolve(__dirname, '../../../../shared/fixtures/reference/backbone');

describe('extraction parity with the official IR-18 forward pass', () => {
  let root: string;
  afterAll(() => root && fs.rmSync(root, { recursive: true, force: true }));

  it('matches the official embeddings and norms of the original and flipped images', async () => {
    root = tempDir('parity');
    const images = [0, 1, 2, 3].map((i) => new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'images', `img${i}.png`))));
    writeImagesTable(path.join(root, 'ingest'), images, 3);
    const lines: string[] = [];
    const code = await extractMain(
      ['--images', path.join(root, 'ingest'), '--checkpoint', path.join(FIXTURES, 'ir18_random_fp16.ckpt'), '--arch', 'ir_18', '--views', 'original,flip', '--out', path.join(root, 'features'), '--batch-size', '3', '--backend', 'wasm', '--quiet'],
      { out: (l) => lines.push(l) },
    );
    expect(code).toBe(0);
    const got = readFeatures(path.join(root, 'features'), 512);
    expect(got.records).toBe(8);
    for (const [view, prefix] of [
      [0, ''],
      [1, 'flip_'],
    ] as const) {
      const emb = readNpy(path.join(FIXTURES, 'expected', `${prefix}embeddings.npy`)).data as Float32Array;
      const norms = readNpy(path.join(FIXTURES, 'expected', `${prefix}norms.npy`)).data as Float32Array;
      for (let b = 0; b < 4; b++) {
        const r = got.byKey.get(`${b}/${view}`)!;
        let maxAbs = 0;
        for (let d = 0; d < 512; d++) maxAbs = Math.max(maxAbs, Math.abs(r.embedding[d] - emb[b * 512 + d]));
        expect(maxAbs).toBeLessThanOrEqual(5e-6);
        expect(Math.abs(r.norm - norms[b]) / norms[b]).toBeLessThanOrEqual(1e-5);
      }
    }
  });
});
