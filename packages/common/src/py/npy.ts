/**
 * NumPy .npy files (format 1.0/2.0/3.0): read and write little-endian, C-order arrays.
 * dtypes: <f4 float32, <f8 float64, <f2 float16 (read as float32), <i8 int64 (read as number when
 * exact), <i4 int32, |i1 int8, |u1 uint8, |b1 bool.
 */
import { InputError } from '../errors';

export type NpyDtype = 'float32' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** float32 and float16 come back as Float32Array; int64 as Float64Array of exact integers. */
  data: Float32Array | Float64Array | Int32Array | Int8Array | Uint8Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function parseHeader(text: string, file: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new InputError(`malformed .npy header ${JSON.stringify(text.trim())}: expected descr, fortran_order and shape`, file);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new InputError(`bad shape (${shapeText}) in .npy header`, file);
  return { descr, fortran: fortran === 'True', shape };
}

/** Parses .npy bytes. `file` only labels errors. */
export function parseNpy(bytes: Uint8Array, file = '<npy>'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new InputError('not a .npy file (missing \\x93NUMPY magic)', file);
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else throw new InputError(`unsupported .npy version ${major}.${bytes[7]}`, file);
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen));
  const { descr, fortran, shape } = parseHeader(header, file);
  if (fortran) throw new InputError('Fortran-order .npy arrays are not supported; save with np.ascontiguousarray', file);
  const n = shape.reduce((a, b) => a * b, 1);
  const off = start + headerLen;
  const need = (size: number) => {
    if (bytes.length - off < n * size) throw new InputError(`truncated .npy data: shape (${shape.join(',')}) needs ${n * size} bytes, found ${bytes.length - off}`, file);
  };
  const body = (size: number) => {
    need(size);
    // Copy so the result is aligned and independent of the input buffer.
    // (Uint8Array.prototype.slice, not Buffer#slice, which returns a view into a shared pool.)
    return Uint8Array.prototype.slice.call(bytes, off, off + n * size).buffer;
  };
  switch (descr) {
    case '<f4':
      return { dtype: 'float32', shape, data: new Float32Array(body(4)) };
    case '<f8':
      return { dtype: 'float64', shape, data: new Float64Array(body(8)) };
    case '<f2': {
      const h = new Uint16Array(body(2));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(h[i]);
      return { dtype: 'float32', shape, data: out };
    }
    case '<i8': {
      const big = new BigInt64Array(body(8));
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = big[i];
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new InputError(`int64 value ${v} at element ${i} is not exactly representable`, file);
        out[i] = Number(v);
      }
      return { dtype: 'int64', shape, data: out };
    }
    case '<i4':
      return { dtype: 'int32', shape, data: new Int32Array(body(4)) };
    case '|i1':
      return { dtype: 'int8', shape, data: new Int8Array(body(1)) };
    case '|u1':
      return { dtype: 'uint8', shape, data: new Uint8Array(body(1)) };
    case '|b1':
      return { dtype: 'bool', shape, data: new Uint8Array(body(1)) };
    default:
      throw new InputError(`unsupported .npy dtype '${descr}': expected one of <f4 <f8 <f2 <i8 <i4 |i1 |u1 |b1`, file);
  }
}

const DESCR: Record<NpyDtype, [string, number]> = {
  float32: ['<f4', 4],
  float64: ['<f8', 8],
  int64: ['<i8', 8],
  int32: ['<i4', 4],
  int8: ['|i1', 1],
  uint8: ['|u1', 1],
  bool: ['|b1', 1],
};

/** Serialises an array as .npy version 1.0 (data aligned to 64 bytes, as numpy writes it). */
export function encodeNpy(arr: NpyArray): Uint8Array {
  const [descr, size] = DESCR[arr.dtype];
  const n = arr.shape.reduce((a, b) => a * b, 1);
  if (arr.data.length !== n) throw new Error(`encodeNpy: data has ${arr.data.length} elements, shape (${arr.shape.join(',')}) needs ${n}`);
  const shapeText = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + n * size);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const off = 10 + header.length;
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = arr.data[i];
    switch (arr.dtype) {
      case 'float32':
        dv.setFloat32(off + 4 * i, v, true);
        break;
      case 'float64':
        dv.setFloat64(off + 8 * i, v, true);
        break;
      case 'int64':
        dv.setBigInt64(off + 8 * i, BigInt(v), true);
        break;
      case 'int32':
        dv.setInt32(off + 4 * i, v, true);
        break;
      case 'int8':
        dv.setInt8(off + i, v);
        break;
      default:
        dv.setUint8(off + i, v);
    }
  }
  return out;
}
