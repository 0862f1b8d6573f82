/**
 * safetensors files: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (`{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}`, offsets
 * relative to the data that follows), then the raw little-endian C-order tensor bytes.
 *
 * The reader treats the file as hostile: the header length, every offset range (against its dtype
 * and shape, against the data size, and against the other ranges: no overlap, no holes) and the
 * metadata types are checked before anything is used. The writer pads the header with spaces so
 * the data starts at a multiple of 8, and orders tensors by element size (largest first) so every
 * tensor is aligned to its element size, as the reference implementation does.
 */
import * as fs from 'node:fs';
import { InputError } from '../errors';
import { writeFileAtomic } from '../atomic';
import { halfToFloat } from './npy';
import type { TorchDtype, TorchTensor } from './torch-checkpoint';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const SAFETENSORS_DTYPE_SIZE: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** The reference implementation's limit on the header size. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** A tensor as stored: raw little-endian C-order bytes. */
export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  /** Tensors in header order. `bytes` are views into the input. */
  tensors: Map<string, SafeTensor>;
  /** The `__metadata__` strings ({} when absent). */
  metadata: Record<string, string>;
}

export type SafeTensorValues = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** A tensor to write: either raw bytes in `dtype`, or values converted to `dtype` (F16/BF16 rounded to nearest even). */
export type SafeTensorInput = SafeTensor | { dtype: SafetensorsDtype; shape: number[]; values: ArrayLike<number> | BigInt64Array };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function numelOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Parses safetensors bytes. `file` labels errors.
 * @throws InputError naming the file and the first problem (header length, JSON, dtype, offsets, holes).
 */
export function decodeSafetensors(bytes: Uint8Array, file = '<safetensors>'): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new InputError(msg, file);
  };
  if (bytes.length < 8) fail(`not a safetensors file: ${bytes.length} bytes, the header length alone needs 8`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`not a safetensors file: header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(`truncated safetensors file: header length ${n} exceeds the ${bytes.length - 8} bytes after it`);
  let text: string;
  try {
    text = utf8.decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('safetensors header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`safetensors header must start with '{', found ${JSON.stringify(text.slice(0, 16))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('safetensors header must be a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
  const ranges: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__['${k}'] must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`tensor '${name}': expected {dtype, shape, data_offsets}`);
    const dtype = e.dtype as SafetensorsDtype;
    if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPE_SIZE)) fail(`tensor '${name}': unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(SAFETENSORS_DTYPE_SIZE).join(' ')})`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return fail(`tensor '${name}': shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isSafeInteger(x) && x >= 0) || off[1] < off[0]) {
      return fail(`tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const need = numelOf(shape) * SAFETENSORS_DTYPE_SIZE[dtype];
    if (end - begin !== need) fail(`tensor '${name}': data_offsets [${begin}, ${end}] span ${end - begin} bytes, ${dtype} ${JSON.stringify(shape)} needs ${need}`);
    if (end > dataLen) fail(`truncated safetensors file: tensor '${name}' ends at data byte ${end}, the data has ${dataLen}`);
    ranges.push({ name, begin, end });
    tensors.set(name, { dtype, shape: [...shape], bytes: bytes.subarray(dataStart + begin, dataStart + end) });
  }
  // The ranges must tile the data exactly: an overlap aliases tensors, a hole hides bytes.
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const r of ranges) {
    if (r.begin < at) fail(`tensor '${r.name}' (data bytes ${r.begin}-${r.end}) overlaps the previous tensor, which ends at ${at}`);
    if (r.begin > at) fail(`data bytes ${at}-${r.begin} before tensor '${r.name}' belong to no tensor`);
    at = r.end;
  }
  if (at !== dataLen) fail(`data has ${dataLen} bytes but the tensors cover ${at}`);
  return { tensors, metadata };
}

/** Float32 -> IEEE binary16 bits, round to nearest even (what numpy and torch do). */
export function floatToHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent, which is right
  return sign | h;
}

/** Float32 -> bfloat16 bits, round to nearest even; NaN stays NaN. */
export function floatToBfloat16(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Values -> raw little-endian bytes of `dtype`. */
function encodeValues(dtype: SafetensorsDtype, values: ArrayLike<number> | BigInt64Array): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * SAFETENSORS_DTYPE_SIZE[dtype]);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    switch (dtype) {
      case 'F64':
        dv.setFloat64(8 * i, Number(v), true);
        break;
      case 'F32':
        dv.setFloat32(4 * i, Number(v), true);
        break;
      case 'F16':
        dv.setUint16(2 * i, floatToHalf(Number(v)), true);
        break;
      case 'BF16':
        dv.setUint16(2 * i, floatToBfloat16(Number(v)), true);
        break;
      case 'I64':
        if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new Error(`I64 value ${v} at ${i} is not an exact integer`);
        dv.setBigInt64(8 * i, BigInt(v), true);
        break;
      case 'I32':
        dv.setInt32(4 * i, Number(v), true);
        break;
      case 'I16':
        dv.setInt16(2 * i, Number(v), true);
        break;
      case 'I8':
        dv.setInt8(i, Number(v));
        break;
      case 'U8':
      case 'BOOL':
        dv.setUint8(i, Number(v));
        break;
    }
  }
  return out;
}

function rawOf(name: string, t: SafeTensorInput): SafeTensor {
  if (!(t.dtype in SAFETENSORS_DTYPE_SIZE)) throw new Error(`encodeSafetensors: tensor '${name}' has unsupported dtype ${t.dtype}`);
  const n = numelOf(t.shape);
  const bytes = 'bytes' in t ? t.bytes : encodeValues(t.dtype, t.values);
  if (bytes.length !== n * SAFETENSORS_DTYPE_SIZE[t.dtype]) {
    throw new Error(`encodeSafetensors: tensor '${name}' has ${bytes.length} bytes, ${t.dtype} ${JSON.stringify(t.shape)} needs ${n * SAFETENSORS_DTYPE_SIZE[t.dtype]}`);
  }
  return { dtype: t.dtype, shape: t.shape, bytes };
}

/** Serialises tensors (and string metadata) as safetensors bytes. */
export function encodeSafetensors(tensors: Map<string, SafeTensorInput> | Record<string, SafeTensorInput>, metadata: Record<string, string> = {}): Uint8Array {
  const entries = [...(tensors instanceof Map ? tensors : Object.entries(tensors))].map(([name, t]) => ({ name, t: rawOf(name, t) }));
  if (entries.some((e) => e.name === '__metadata__')) throw new Error("encodeSafetensors: '__metadata__' is not a tensor name");
  // Largest elements first keeps every tensor aligned to its element size.
  entries.sort((a, b) => SAFETENSORS_DTYPE_SIZE[b.t.dtype] - SAFETENSORS_DTYPE_SIZE[a.t.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new Error(`encodeSafetensors: metadata '${k}' must be a string`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const { name, t } of entries) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  const headerBytesLen = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + headerBytesLen) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const { t } of entries) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

/**
 * A tensor's values, widened where JS has no type: F16/BF16 -> Float32Array, I64 -> Float64Array
 * (refused when not exact), BOOL/U8 -> Uint8Array. Always a fresh, aligned copy.
 */
export function safeTensorValues(t: SafeTensor): SafeTensorValues {
  const raw = Uint8Array.prototype.slice.call(t.bytes);
  const n = numelOf(t.shape);
  const dv = new DataView(raw.buffer);
  switch (t.dtype) {
    case 'F64':
      return new Float64Array(raw.buffer);
    case 'F32':
      return new Float32Array(raw.buffer);
    case 'I32':
      return new Int32Array(raw.buffer);
    case 'I16':
      return new Int16Array(raw.buffer);
    case 'I8':
      return new Int8Array(raw.buffer);
    case 'U8':
    case 'BOOL':
      return raw;
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'I64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(8 * i, true);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error(`I64 value ${v} at ${i} is not exactly representable`);
        out[i] = Number(v);
      }
      return out;
    }
  }
}

/** Metadata values as JSON strings (safetensors metadata is str -> str). */
export function metadataToStrings(meta: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) out[k] = JSON.stringify(v);
  return out;
}

/** The inverse of {@link metadataToStrings}; a value that is not JSON is an InputError naming the key. */
export function metadataFromStrings(meta: Record<string, string>, file?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta)) {
    try {
      out[k] = JSON.parse(v);
    } catch {
      throw new InputError(`__metadata__['${k}'] is not JSON: ${JSON.stringify(v.slice(0, 40))}`, file);
    }
  }
  return out;
}

export function readSafetensors(file: string): SafetensorsFile {
  if (!fs.existsSync(file)) throw new InputError('file not found', file);
  return decodeSafetensors(fs.readFileSync(file), file);
}

/** Writes a safetensors file atomically (temp name + rename). */
export function writeSafetensors(file: string, tensors: Map<string, SafeTensorInput> | Record<string, SafeTensorInput>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

const FROM_TORCH: Record<TorchDtype, SafetensorsDtype> = { float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL' };

/** A checkpoint tensor in its original dtype and bytes (C-contiguous), e.g. to save an unused parameter unchanged. */
export function safeTensorFromTorch(t: TorchTensor): SafeTensor {
  return { dtype: FROM_TORCH[t.dtype], shape: [...t.shape], bytes: t.rawBytes() };
}
