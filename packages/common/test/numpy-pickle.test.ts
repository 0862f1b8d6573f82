import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readNumpyPickle, readNumpyPickleFile, isNpyArray } from '../src/py/numpy-pickle';
import { PyDict, isPyTuple } from '../src/py/pickle';
import { readNpy } from '../src/py/npy-file';
import type { NpyArray } from '../src/py/npy';
import { InputError } from '../src/errors';

const REF = path.resolve(__dirname, '../../../../shared/fixtures/reference');
const FIX = path.resolve(__dirname, 'fixtures');

const NPY_DTYPE: Record<string, string> = { float32: 'float32', float16: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', uint8: 'uint8', bool: 'bool' };

function pyFloat(repr: string): number {
  return { inf: Infinity, '-inf': -Infinity, nan: NaN }[repr] ?? Number(repr);
}

describe('readNumpyPickle', () => {
  it('reads the official IJB features pickle: keys, shapes, and values equal to the .npy copies and the img_feats checksum', () => {
    const v = readNumpyPickleFile(path.join(REF, 'ijb_mini/IJBB_ir101_webface4m.pickle'));
    expect(v).toBeInstanceOf(PyDict);
    const d = v as PyDict;
    expect([...d.keys()]).toEqual(['img_feats', 'norms', 'faceness_scores']);
    const feats = d.get('img_feats') as NpyArray;
    const norms = d.get('norms') as NpyArray;
    const faceness = d.get('faceness_scores') as NpyArray;
    const stats = JSON.parse(fs.readFileSync(path.join(REF, 'ijb_mini/dataset_stats.json'), 'utf8')).img_feats_check;
    expect(feats.dtype).toBe('float32');
    expect(feats.shape).toEqual(stats.shape);
    const sha = crypto.createHash('sha256').update(new Uint8Array(feats.data.buffer, feats.data.byteOffset, feats.data.byteLength)).digest('hex');
    expect(sha).toBe(stats.sha256_of_raw_little_endian_C_order_bytes);
    let sum = 0;
    for (const x of feats.data) sum += x;
    expect(Math.abs(sum - stats.sum_float64)).toBeLessThan(1e-9); // summation order differs from numpy's pairwise sum
    expect(Array.from(feats.data.subarray(0, 4))).toEqual(stats.first_row_first_4);
    expect(Array.from(feats.data.subarray(feats.data.length - 4))).toEqual(stats.last_row_last_4);
    for (const [arr, file] of [
      [norms, 'norms.npy'],
      [faceness, 'faceness_scores.npy'],
    ] as const) {
      const npy = readNpy(path.join(REF, 'ijb_mini', file));
      expect({ file, dtype: arr.dtype, shape: arr.shape }).toEqual({ file, dtype: npy.dtype, shape: npy.shape });
      expect(Buffer.from(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength).equals(Buffer.from(npy.data.buffer, npy.data.byteOffset, npy.data.byteLength))).toBe(true);
    }
    expect(norms.shape).toEqual([885, 1]);
    expect(faceness.shape).toEqual([885]);
  });

  const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'numpy_expected.json'), 'utf8')) as Record<string, { dtype: string; shape: number[]; values: (string | number)[] }>;

  for (const proto of [2, 3, 4, 5]) {
    it(`reads numpy arrays pickled with protocol ${proto}: every dtype, 0-d, empty, Fortran order, big-endian, scalars`, () => {
      const d = readNumpyPickle(fs.readFileSync(path.join(FIX, `numpy_p${proto}.pickle`)), `numpy_p${proto}.pickle`) as PyDict;
      for (const [key, e] of Object.entries(expected)) {
        const a = d.get(key);
        expect(isNpyArray(a)).toBe(true);
        const arr = a as NpyArray;
        expect({ key, dtype: arr.dtype, shape: arr.shape }).toEqual({ key, dtype: NPY_DTYPE[e.dtype], shape: e.shape });
        const want = e.values.map((x) => (typeof x === 'string' ? pyFloat(x) : x));
        expect(Array.from(arr.data, (x) => (e.dtype === 'bool' ? x !== 0 : x)).map(Number)).toEqual(want.map(Number));
      }
      expect(d.get('np_scalar')).toBe(1.25);
      expect(d.get('np_int_scalar')).toBe(-3);
      const nested = d.get('nested') as unknown[];
      expect(Array.isArray(nested) && !isPyTuple(nested)).toBe(true);
      expect(Array.from((nested[0] as NpyArray).data)).toEqual([1, 1]);
      const tuple = nested[1] as unknown[];
      expect(isPyTuple(tuple)).toBe(true);
      expect(tuple.slice(0, 6)).toEqual(['t', 1, null, true, 2n ** 70n, -1.5]);
      expect(Array.from(tuple[6] as Uint8Array)).toEqual([0, 255]);
    });
  }

  it('refuses out-of-band buffers, object arrays and a pickle naming os.system', () => {
    expect(() => readNumpyPickle(fs.readFileSync(path.join(FIX, 'numpy_p5_out_of_band.pickle')), 'oob.pickle')).toThrow(/oob\.pickle:byte \d+: .*out-of-band buffers/);
    expect(() => readNumpyPickle(fs.readFileSync(path.join(FIX, 'numpy_object_array.pickle')), 'obj.pickle')).toThrow(/obj\.pickle:byte \d+: .*object arrays/);
    const evil = fs.readFileSync(path.join(FIX, 'evil_os_system.pickle'));
    expect(() => readNumpyPickle(evil, 'x.pkl')).toThrow(InputError);
    expect(() => readNumpyPickle(evil, 'x.pkl')).toThrow(/^x\.pkl:byte 34: pickle refers to global 'posix\.system', which is not allowed \(allowed: numpy\.ndarray, numpy\.dtype, .*numpy\._core\.multiarray\._reconstruct/);
  });

  it('refuses a truncated features pickle with the offset where it ran out', () => {
    const bytes = fs.readFileSync(path.join(REF, 'ijb_mini/IJBB_ir101_webface4m.pickle'));
    expect(() => readNumpyPickle(bytes.subarray(0, 5000), 'cut.pickle')).toThrow(/cut\.pickle:byte \d+: truncated pickle/);
    expect(() => readNumpyPickleFile('/nonexistent/f.pickle')).toThrow(/\/nonexistent\/f\.pickle: file not found/);
  });
});
