import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNpy, readNpy } from '@facecoreset/common';
import { main } from '../src/cli';

const REF = path.resolve(__dirname, '../../../../shared/fixtures/reference/aggregator');
const CKPT = path.join(REF, 'facecoresetnet_random.ckpt');

function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  return main(args, (s) => out.push(s), (s) => err.push(s)).then((code) => ({ code, out, err }));
}

describe('fcn aggregate', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-aggregate-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it.each(['T7', 'T20', 'T30video'])('matches the official zero-noise output on %s (unit aggregate <= 1e-5 abs, norm <= 1e-4 rel, same indices)', async (c) => {
    const outFile = path.join(tmp, `${c}.json`);
    const r = await run(['aggregate', '--checkpoint', CKPT, '--features', path.join(REF, `inputs/${c}_features.npy`), '--norms', path.join(REF, `inputs/${c}_norms.npy`), '--out', outFile, '--backend', 'wasm']);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const got = JSON.parse(fs.readFileSync(outFile, 'utf8'));
    const want = readNpy(path.join(REF, `expected/${c}_aggregated_feature_norm.npy`)).data;
    const wantNorm = readNpy(path.join(REF, `expected/${c}_norms.npy`)).data[0];
    const wantIdx = Array.from(readNpy(path.join(REF, `expected/${c}_indices.npy`)).data);
    expect(got.aggregate).toHaveLength(512);
    let maxErr = 0;
    for (let i = 0; i < 512; i++) maxErr = Math.max(maxErr, Math.abs(got.aggregate[i] - want[i]));
    expect(maxErr).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(got.norm - wantNorm) / wantNorm).toBeLessThanOrEqual(1e-4);
    expect(got.coreset_indices).toEqual(wantIdx);
    expect(got.backend).toBe('wasm');
  });

  it('computes the plain mean baseline without a checkpoint, from [T,512] and [T] shapes', async () => {
    const f = readNpy(path.join(REF, 'inputs/T3_features.npy'));
    const n = readNpy(path.join(REF, 'inputs/T3_norms.npy'));
    const fFile = path.join(tmp, 'f2d.npy');
    const nFile = path.join(tmp, 'n1d.npy');
    fs.writeFileSync(fFile, encodeNpy({ dtype: 'float32', shape: [3, 512], data: f.data }));
    fs.writeFileSync(nFile, encodeNpy({ dtype: 'float32', shape: [3], data: n.data }));
    const outFile = path.join(tmp, 'mean.json');
    const r = await run(['aggregate', '--method', 'mean', '--features', fFile, '--norms', nFile, '--out', outFile]);
    expect(r.code).toBe(0);
    const got = JSON.parse(fs.readFileSync(outFile, 'utf8'));
    // Reference: the normalised mean of the unit rows, computed here in float64.
    const mean = new Float64Array(512);
    for (let t = 0; t < 3; t++) for (let d = 0; d < 512; d++) mean[d] += f.data[t * 512 + d] / 3;
    const len = Math.hypot(...mean);
    for (let d = 0; d < 512; d++) expect(got.aggregate[d]).toBeCloseTo(mean[d] / len, 5);
    expect(got.coreset_indices).toEqual([]);
  });

  describe('bad input: one line naming the file, exit code 2', () => {
    const write = (name: string, shape: number[], data: Float32Array) => {
      const p = path.join(tmp, name);
      fs.writeFileSync(p, encodeNpy({ dtype: 'float32', shape, data }));
      return p;
    };
    const cases: Array<[string, () => string[], RegExp]> = [
      ['missing file', () => ['--features', path.join(tmp, 'nope.npy'), '--norms', path.join(tmp, 'nope.npy')], /nope\.npy: file not found/],
      ['wrong shape', () => ['--features', write('bad-shape.npy', [2, 3, 4], new Float32Array(24)), '--norms', write('n3.npy', [3], new Float32Array([1, 1, 1]))], /bad-shape\.npy: expected shape \[T,D\] or \[1,T,D\]/],
      ['T = 0', () => ['--features', write('empty.npy', [0, 512], new Float32Array(0)), '--norms', write('n0.npy', [0], new Float32Array(0))], /empty\.npy: the set is empty \(T = 0\)/],
      ['NaN feature', () => ['--features', write('nan.npy', [1, 512], new Float32Array(512).fill(NaN)), '--norms', write('n1.npy', [1], new Float32Array([2]))], /nan\.npy: feature row 0 has a non-finite value/],
      ['zero norm', () => ['--features', write('ok1.npy', [1, 512], new Float32Array(512).fill(0.04)), '--norms', write('zero.npy', [1, 1], new Float32Array([0]))], /zero\.npy: norm 0 is 0; expected a positive backbone norm/],
      ['norm count mismatch', () => ['--features', write('ok2.npy', [2, 512], new Float32Array(1024).fill(0.04)), '--norms', write('n3b.npy', [3], new Float32Array([1, 1, 1]))], /n3b\.npy: expected shape \[2\], \[2,1\] or \[1,2,1\]/],
    ];
    it.each(cases)('%s', async (_name, args, message) => {
      const r = await run(['aggregate', '--method', 'mean', ...args(), '--out', path.join(tmp, 'x.json')]);
      expect(r.code).toBe(2);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(message);
      expect(fs.existsSync(path.join(tmp, 'x.json'))).toBe(false);
    });
  });
});
