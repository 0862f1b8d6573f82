import * as path from 'node:path';
import { encodeNpy, parseNpy } from '../src/py/npy';
import { readNpy } from '../src/py/npy-file';
import { InputError } from '../src/errors';

const REF = path.resolve(__dirname, '../../../../shared/fixtures/reference');

describe('npy', () => {
  it('reads numpy-written float32, float64 and int64 files with their shapes', () => {
    const f = readNpy(path.join(REF, 'aggregator/inputs/T3_features.npy'));
    expect(f.dtype).toBe('float32');
    expect(f.shape).toEqual([1, 3, 512]);
    // Rows are unit vectors by construction of the fixture.
    let s = 0;
    for (let i = 0; i < 512; i++) s += f.data[i] ** 2;
    expect(Math.sqrt(s)).toBeCloseTo(1, 5);
    const idx = readNpy(path.join(REF, 'aggregator/expected/T3_indices.npy'));
    expect(idx.dtype).toBe('int64');
    expect(Array.from(idx.data)).toEqual([1, 2, 0]); // as listed in the fixture README
    const f64 = readNpy(path.join(REF, 'aggregator/expected/T3_aggregated_feature_norm_f64.npy'));
    expect(f64.dtype).toBe('float64');
    expect(f64.shape).toEqual([1, 512]);
  });

  it('round-trips every dtype and keeps data 64-byte aligned like numpy', () => {
    const cases = [
      { dtype: 'float32' as const, shape: [2, 3], data: new Float32Array([1.5, -2, 3, 0, 1e-30, 7]) },
      { dtype: 'float64' as const, shape: [3], data: new Float64Array([Math.PI, -1, 2 ** 60]) },
      { dtype: 'int64' as const, shape: [2], data: new Float64Array([-(2 ** 40), 5]) },
      { dtype: 'int32' as const, shape: [], data: new Int32Array([42]) },
      { dtype: 'int8' as const, shape: [2, 1], data: new Int8Array([-3, 4]) },
    ];
    for (const c of cases) {
      const bytes = encodeNpy(c);
      const headerLen = new DataView(bytes.buffer).getUint16(8, true);
      expect((10 + headerLen) % 64).toBe(0);
      const back = parseNpy(bytes);
      expect(back.dtype).toBe(c.dtype);
      expect(back.shape).toEqual(c.shape);
      expect(Array.from(back.data)).toEqual(Array.from(c.data));
    }
  });

  it('names the file for missing files, bad magic and truncated data', () => {
    expect(() => readNpy('/nonexistent/x.npy')).toThrow(InputError);
    expect(() => readNpy('/nonexistent/x.npy')).toThrow(/\/nonexistent\/x\.npy: file not found/);
    expect(() => parseNpy(new Uint8Array(20), 'a.npy')).toThrow(/a\.npy: not a \.npy file/);
    const good = encodeNpy({ dtype: 'float32', shape: [4], data: new Float32Array(4) });
    expect(() => parseNpy(good.subarray(0, good.length - 3), 'b.npy')).toThrow(/b\.npy: truncated \.npy data/);
  });
});
