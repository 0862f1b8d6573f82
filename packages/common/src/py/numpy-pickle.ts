/**
 * NumPy arrays inside pickles (e.g. the official IJB features pickle), read with the restricted
 * unpickler: only numpy's own array/dtype/scalar reconstruction globals are allowed, and they build
 * NpyArray values ({dtype, shape, data}, C order) instead of running numpy.
 *
 * Accepted: numeric and bool dtypes of either byte order (big-endian is swapped), C- or
 * Fortran-ordered data (Fortran is transposed to C), 0-d and empty arrays, protocol 5 in-band
 * buffers. Refused: object arrays, structured/sub-array dtypes, strings, out-of-band buffers.
 */
import * as fs from 'node:fs';
import { InputError } from '../errors';
import type { NpyArray, NpyDtype } from './npy';
import { halfToFloat } from './npy';
import { describePyValue, unpickle, type PyAllowList, type PyTuple, type UnpickleOptions } from './pickle';

/** A numpy dtype as its pickle describes it: type string such as 'f4' and byte order. */
export class NumpyDtype {
  byteorder = '=';
  /** Set when the dtype is structured or a sub-array (refused when data is decoded). */
  unsupported: string | undefined;
  constructor(readonly typestr: string) {}
}

/** `numpy.ndarray` as a value: the subtype argument of `_reconstruct`. */
const NDARRAY = Object.freeze({ numpyClass: 'ndarray' });

interface Decoded {
  dtype: NpyDtype;
  data: NpyArray['data'];
}

const ITEM_SIZE: Record<string, number> = { f2: 2, f4: 4, f8: 8, i1: 1, u1: 1, b1: 1, i2: 2, u2: 2, i4: 4, u4: 4, i8: 8, u8: 8 };

/** Decodes `n` elements of raw bytes into the NpyArray representation (float16 -> float32, int64 -> exact float64). */
function decodeElements(raw: Uint8Array, dt: NumpyDtype, n: number): Decoded {
  if (dt.unsupported) throw new Error(dt.unsupported);
  const size = ITEM_SIZE[dt.typestr];
  if (size === undefined) throw new Error(`numpy dtype '${dt.typestr}' is not supported (supported: f2 f4 f8 i1 u1 b1 i4 i8)`);
  if (raw.length !== n * size) throw new Error(`array data has ${raw.length} bytes, ${n} elements of '${dt.typestr}' need ${n * size}`);
  // A fresh, aligned copy (byte-swapped for big-endian data) that the typed array can own.
  const bytes = Uint8Array.prototype.slice.call(raw);
  if (dt.byteorder === '>' && size > 1) {
    for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  }
  const buf = bytes.buffer;
  switch (dt.typestr) {
    case 'f4':
      return { dtype: 'float32', data: new Float32Array(buf) };
    case 'f8':
      return { dtype: 'float64', data: new Float64Array(buf) };
    case 'i4':
      return { dtype: 'int32', data: new Int32Array(buf) };
    case 'i1':
      return { dtype: 'int8', data: new Int8Array(buf) };
    case 'u1':
      return { dtype: 'uint8', data: bytes };
    case 'b1':
      return { dtype: 'bool', data: bytes };
    case 'f2': {
      const h = new Uint16Array(buf);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(h[i]);
      return { dtype: 'float32', data: out };
    }
    case 'i8': {
      const big = new BigInt64Array(buf);
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        if (big[i] > BigInt(Number.MAX_SAFE_INTEGER) || big[i] < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error(`int64 element ${i} (${big[i]}) is not exactly representable`);
        out[i] = Number(big[i]);
      }
      return { dtype: 'int64', data: out };
    }
    default:
      throw new Error(`numpy dtype '${dt.typestr}' is not supported (supported: f2 f4 f8 i1 u1 b1 i4 i8)`);
  }
}

/** Reorders Fortran-ordered (first index fastest) elements into C order. */
function fortranToC(data: NpyArray['data'], shape: number[]): NpyArray['data'] {
  const out = new (data.constructor as new (n: number) => NpyArray['data'])(data.length);
  const nd = shape.length;
  const fStride = new Array<number>(nd);
  for (let k = 0, s = 1; k < nd; k++) {
    fStride[k] = s;
    s *= shape[k];
  }
  const idx = new Array<number>(nd).fill(0);
  let src = 0;
  for (let i = 0; i < data.length; i++) {
    out[i] = data[src];
    for (let k = nd - 1; k >= 0; k--) {
      idx[k]++;
      src += fStride[k];
      if (idx[k] < shape[k]) break;
      src -= fStride[k] * shape[k];
      idx[k] = 0;
    }
  }
  return out;
}

function toBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  // Python 2 pickles carry array data as a latin-1 str.
  if (typeof v === 'string') return Uint8Array.from(v, (c) => c.charCodeAt(0) & 0xff);
  if (Array.isArray(v)) throw new Error(`${what} is a list of Python objects (an object array?); only numeric arrays are supported`);
  throw new Error(`${what} must be bytes, got ${describePyValue(v)}`);
}

function shapeOf(v: unknown): number[] {
  if (!Array.isArray(v) || !v.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) throw new Error(`array shape must be a tuple of non-negative ints, got ${describePyValue(v)}`);
  return [...(v as number[])];
}

function makeArray(raw: unknown, dtype: unknown, shapeValue: unknown, fortran: boolean, target?: NpyArray): NpyArray {
  if (!(dtype instanceof NumpyDtype)) throw new Error(`array dtype must be a numpy dtype, got ${describePyValue(dtype)}`);
  if (dtype.typestr === 'O8' || dtype.typestr === 'O4' || dtype.typestr === 'O') throw new Error('object arrays (dtype=object) are not supported: they hold arbitrary Python objects');
  const shape = shapeOf(shapeValue);
  const n = shape.reduce((a, b) => a * b, 1);
  const dec = decodeElements(toBytes(raw, 'array data'), dtype, n);
  const data = fortran && shape.length > 1 ? fortranToC(dec.data, shape) : dec.data;
  const out = target ?? ({} as NpyArray);
  out.dtype = dec.dtype;
  out.shape = shape;
  out.data = data;
  return out;
}

const reconstruct = {
  construct: (args: PyTuple) => {
    if (args[0] !== NDARRAY) throw new Error(`only plain numpy.ndarray can be reconstructed, got ${describePyValue(args[0])}`);
    // Filled in place by BUILD, so memo references to this object see the finished array.
    return { dtype: 'float64', shape: [0], data: new Float64Array(0) } as NpyArray;
  },
  setState: (obj: unknown, state: unknown) => {
    if (!Array.isArray(state)) throw new Error(`ndarray state must be a tuple, got ${describePyValue(state)}`);
    // (version, shape, dtype, is_fortran, data) since numpy 1.0; older pickles omit the version.
    const s = state.length === 5 ? state.slice(1) : state;
    if (s.length !== 4) throw new Error(`ndarray state tuple has ${state.length} items, expected 4 or 5`);
    makeArray(s[3], s[1], s[0], s[2] === true, obj as NpyArray);
  },
};

const frombuffer = (args: PyTuple) => {
  const [buf, dtype, shape, order] = args;
  return makeArray(buf, dtype, shape, order === 'F');
};

const dtypeHandler = {
  construct: (args: PyTuple) => {
    if (typeof args[0] !== 'string') throw new Error(`numpy.dtype needs a type string, got ${describePyValue(args[0])}`);
    return new NumpyDtype(args[0]);
  },
  setState: (obj: unknown, state: unknown) => {
    if (!Array.isArray(state) || state.length < 8) throw new Error(`dtype state must be a tuple of 8 or 9, got ${describePyValue(state)}`);
    const d = obj as NumpyDtype;
    const order = state[1];
    if (order !== '<' && order !== '>' && order !== '|' && order !== '=') throw new Error(`bad dtype byte order ${describePyValue(order)}`);
    d.byteorder = order;
    if (state[2] !== null) d.unsupported = `sub-array dtype '${d.typestr}' is not supported`;
    if (state[3] !== null) d.unsupported = `structured dtype '${d.typestr}' is not supported`;
  },
};

/** numpy scalars (`np.float32(1.5)`, `np.int64(3)`) become JS numbers (bool for np.bool_). */
const scalar = (args: PyTuple) => {
  const [dtype, raw] = args;
  const dec = makeArray(raw, dtype, [], false);
  return dec.dtype === 'bool' ? dec.data[0] !== 0 : dec.data[0];
};

/** Allow-list for numpy array pickles (numpy 1.x `numpy.core` and numpy 2.x `numpy._core` names). */
export function numpyAllowList(): PyAllowList {
  const allow: PyAllowList = { 'numpy.ndarray': { constant: NDARRAY }, 'numpy.dtype': dtypeHandler };
  for (const core of ['numpy.core', 'numpy._core']) {
    allow[`${core}.multiarray._reconstruct`] = reconstruct;
    allow[`${core}.multiarray.scalar`] = scalar;
    allow[`${core}.numeric._frombuffer`] = frombuffer;
  }
  return allow;
}

/**
 * Unpickles bytes whose arrays were pickled by numpy; arrays come back as NpyArray. Containers
 * are PyDict / arrays / frozen-array tuples as {@link unpickle} makes them. `file` labels errors.
 * @throws InputError for any global outside numpy's reconstruction helpers (e.g. os.system),
 *   unsupported dtypes, object arrays, or truncated/corrupt bytes.
 */
export function readNumpyPickle(bytes: Uint8Array, file = '<pickle>', options: Omit<UnpickleOptions, 'file'> = {}): unknown {
  return unpickle(bytes, { ...options, allow: { ...numpyAllowList(), ...(options.allow ?? {}) }, file });
}

/** Reads a numpy pickle file; a missing file is an InputError naming it. */
export function readNumpyPickleFile(file: string): unknown {
  if (!fs.existsSync(file)) throw new InputError('file not found', file);
  return readNumpyPickle(fs.readFileSync(file), file);
}

export function isNpyArray(v: unknown): v is NpyArray {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'shape' in v && 'data' in v && ArrayBuffer.isView((v as NpyArray).data);
}
