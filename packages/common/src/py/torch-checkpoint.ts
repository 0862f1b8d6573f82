/**
 * PyTorch zip checkpoints (torch.save >= 1.6, Lightning .ckpt) read without torch and without
 * running the pickle: `<prefix>/data.pkl` goes through the restricted unpickler with an allow-list
 * of the few globals torch writes; storages come from `<prefix>/data/<key>` entries, once per key.
 */
import * as fs from 'node:fs';
import { InputError } from '../errors';
import { halfToFloat } from './npy';
import { PyDict, PyObjectRecord, describePyValue, isPyTuple, pyDictToObject, unpickle, type PyAllowList, type PyTuple } from './pickle';
import { ZipArchive } from './zip';

export type TorchDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** Bytes per element of each dtype as stored. */
export const TORCH_DTYPE_SIZE: Record<TorchDtype, number> = { float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1 };

/** Legacy storage class names (what torch pickles, also for typed storages in torch 2) -> dtype. */
const STORAGE_CLASSES: Record<string, TorchDtype> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

const TORCH_DTYPE_NAMES: Record<string, TorchDtype> = {
  float32: 'float32', float: 'float32', float16: 'float16', half: 'float16', bfloat16: 'bfloat16', float64: 'float64', double: 'float64',
  int64: 'int64', long: 'int64', int32: 'int32', int: 'int32', int16: 'int16', short: 'int16', int8: 'int8', uint8: 'uint8', bool: 'bool',
};

/** A storage class global (e.g. `torch.FloatStorage`) as the unpickler hands it to persistent_load. */
class StorageClass {
  constructor(readonly dtype: TorchDtype) {}
}

/** One storage: raw little-endian elements exactly as in the checkpoint. */
export interface TorchStorage {
  key: string;
  dtype: TorchDtype;
  numel: number;
  /** `numel * TORCH_DTYPE_SIZE[dtype]` raw bytes (a view into the archive). */
  bytes: Uint8Array;
  location: string;
}

export type TorchData = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/**
 * A tensor as a view of a storage (offset and stride in elements, as torch keeps it). `data`
 * materialises C-contiguous values on first use: float16/bfloat16 widen to Float32Array, int64 to
 * Float64Array (refused if not exact), bool to Uint8Array. `rawBytes()` gives the original dtype's
 * bytes, so a writer can save a parameter it does not use unchanged.
 */
export class TorchTensor {
  private cached: TorchData | undefined;
  requiresGrad = false;
  constructor(
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}

  get dtype(): TorchDtype {
    return this.storage.dtype;
  }
  get storageKey(): string {
    return this.storage.key;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  /** True when the tensor covers its storage elements in C order without gaps. */
  get isContiguous(): boolean {
    let expect = 1;
    for (let k = this.shape.length - 1; k >= 0; k--) {
      if (this.shape[k] !== 1 && this.stride[k] !== expect) return false;
      expect *= this.shape[k];
    }
    return true;
  }

  get data(): TorchData {
    this.cached ??= widen(this.rawBytes(), this.dtype, this.storage.key);
    return this.cached;
  }

  /** C-contiguous bytes in the stored dtype (little-endian). */
  rawBytes(): Uint8Array {
    const size = TORCH_DTYPE_SIZE[this.dtype];
    const src = this.storage.bytes;
    const n = this.numel;
    if (this.isContiguous) return Uint8Array.prototype.slice.call(src, this.storageOffset * size, (this.storageOffset + n) * size);
    const out = new Uint8Array(n * size);
    const nd = this.shape.length;
    const idx = new Array<number>(nd).fill(0);
    let srcElem = this.storageOffset;
    for (let i = 0; i < n; i++) {
      out.set(src.subarray(srcElem * size, srcElem * size + size), i * size);
      // Advance the C-order counter, keeping the source element index in step.
      for (let k = nd - 1; k >= 0; k--) {
        idx[k]++;
        srcElem += this.stride[k];
        if (idx[k] < this.shape[k]) break;
        srcElem -= this.stride[k] * this.shape[k];
        idx[k] = 0;
      }
    }
    return out;
  }
}

let halfValues: Float32Array | undefined;
/** Every float16 bit pattern's value: a table lookup is ~20x faster than decoding each element. */
function halfTable(): Float32Array {
  if (!halfValues) {
    halfValues = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfValues[h] = halfToFloat(h);
  }
  return halfValues;
}

/** Raw little-endian elements -> the widened typed array described on {@link TorchTensor}. */
function widen(raw: Uint8Array, dtype: TorchDtype, key: string): TorchData {
  const size = TORCH_DTYPE_SIZE[dtype];
  const n = raw.length / size;
  // `raw` is a fresh copy from rawBytes(), so its buffer starts aligned.
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dtype) {
    case 'float32':
      return new Float32Array(raw.buffer, raw.byteOffset, n);
    case 'float64':
      return new Float64Array(raw.buffer, raw.byteOffset, n);
    case 'int32':
      return new Int32Array(raw.buffer, raw.byteOffset, n);
    case 'int16':
      return new Int16Array(raw.buffer, raw.byteOffset, n);
    case 'int8':
      return new Int8Array(raw.buffer, raw.byteOffset, n);
    case 'uint8':
    case 'bool':
      return raw;
    case 'float16': {
      const table = halfTable();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[raw[2 * i] | (raw[2 * i + 1] << 8)];
      return out;
    }
    case 'bfloat16': {
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'int64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(8 * i, true);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new InputError(`int64 value ${v} in storage ${key} is not exactly representable as a number`);
        out[i] = Number(v);
      }
      return out;
    }
  }
}

export interface TorchCheckpoint {
  /** The unpickled top-level object (a dict for Lightning checkpoints). */
  top: unknown;
  /** `top['state_dict']` for Lightning checkpoints, or the top dict itself when it holds tensors. */
  stateDict: Map<string, TorchTensor>;
  /** `top['hyper_parameters']` as plain data ({} when absent). */
  hyperParameters: Record<string, unknown>;
  /** Every storage read, by key (tensors sharing a key share the storage). */
  storages: Map<string, TorchStorage>;
  /** The archive folder name (e.g. 'archive'). */
  prefix: string;
}

/** Module roots never tolerated as inert data: a checkpoint naming these is refused outright. */
const UNSAFE_MODULE_ROOTS = new Set([
  'os', 'posix', 'nt', 'subprocess', 'sys', 'builtins', '__builtin__', 'importlib', 'runpy', 'shutil', 'socket', 'ctypes', 'pty', 'code', 'codeop',
  'webbrowser', 'pickle', '_pickle', 'marshal', 'types', 'operator', 'functools', 'io', '_io', 'multiprocessing', 'signal', 'asyncio', 'threading', 'eval', 'exec',
]);

/** Default policy for unknown globals in checkpoints: inert data, except obviously dangerous modules. */
export function tolerableCheckpointGlobal(qualifiedName: string): boolean {
  return !UNSAFE_MODULE_ROOTS.has(qualifiedName.split('.')[0]);
}

export interface ReadTorchCheckpointOptions {
  /**
   * Unknown globals (e.g. `argparse.Namespace` in hyper_parameters): true/predicate = inert
   * {@link PyObjectRecord}s, false = refuse. Default {@link tolerableCheckpointGlobal}.
   */
  tolerateUnknown?: boolean | ((qualifiedName: string) => boolean);
}

function torchAllowList(): PyAllowList {
  const allow: PyAllowList = {
    'collections.OrderedDict': (args) => {
      const d = new PyDict();
      if (args.length > 0 && Array.isArray(args[0])) for (const pair of args[0] as unknown[][]) d.set(pair[0], pair[1]);
      return d;
    },
    'torch._utils._rebuild_tensor_v2': (args) => rebuildTensor(args),
    'torch._utils._rebuild_tensor': (args) => rebuildTensor(args),
    'torch._utils._rebuild_parameter': (args) => rebuildParameter(args),
    'torch._utils._rebuild_parameter_with_state': (args) => rebuildParameter(args),
    'torch.device': (args) => String(args[0]) + (args.length > 1 && args[1] !== null ? `:${String(args[1])}` : ''),
    'torch.Size': (args) => [...((args[0] as unknown[]) ?? [])],
  };
  for (const [cls, dtype] of Object.entries(STORAGE_CLASSES)) allow[`torch.${cls}`] = { constant: new StorageClass(dtype) };
  for (const [name, dtype] of Object.entries(TORCH_DTYPE_NAMES)) allow[`torch.${name}`] = { constant: dtype };
  return allow;
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) throw new Error(`${what} must be a tuple of ints, got ${describePyValue(v)}`);
  return [...(v as number[])];
}

function rebuildTensor(args: PyTuple): TorchTensor {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!isStorage(storage)) throw new Error(`expected a storage as first argument, got ${describePyValue(storage)}`);
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw new Error(`bad storage offset ${String(offset)}`);
  const shape = intList(size, 'size');
  const strides = intList(stride, 'stride');
  if (shape.length !== strides.length) throw new Error(`size (${shape}) and stride (${strides}) differ in length`);
  if (shape.some((d) => d < 0) || strides.some((s) => s < 0)) throw new Error(`negative size or stride: size (${shape}), stride (${strides})`);
  if (!shape.includes(0)) {
    const last = offset + shape.reduce((acc, d, k) => acc + (d - 1) * strides[k], 0);
    if (last >= storage.numel) throw new Error(`tensor view (offset ${offset}, size (${shape}), stride (${strides})) reaches element ${last} of storage ${storage.key}, which has ${storage.numel}`);
  }
  const t = new TorchTensor(storage, offset, shape, strides);
  t.requiresGrad = requiresGrad === true;
  return t;
}

function rebuildParameter(args: PyTuple): TorchTensor {
  const [data, requiresGrad] = args;
  if (!(data instanceof TorchTensor)) throw new Error(`parameter data must be a tensor, got ${describePyValue(data)}`);
  data.requiresGrad = requiresGrad === true;
  return data;
}

function isStorage(v: unknown): v is TorchStorage {
  return typeof v === 'object' && v !== null && 'bytes' in v && 'numel' in v && 'key' in v;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/**
 * Reads a PyTorch zip checkpoint from memory. `file` labels errors.
 * @throws InputError for the legacy (pre-1.6) format, a missing data.pkl or storage, a refused
 *   global, or a state_dict entry that is not a tensor.
 */
export function readTorchCheckpoint(bytes: Uint8Array, file = '<checkpoint>', options: ReadTorchCheckpointOptions = {}): TorchCheckpoint {
  if (!ZIP_MAGIC.every((b, i) => bytes[i] === b)) {
    if (bytes[0] === 0x80) throw new InputError('legacy torch.save format (not a zip archive); re-save with torch>=1.6', file);
    throw new InputError('not a PyTorch checkpoint: expected a zip archive (torch.save >= 1.6)', file);
  }
  const zip = new ZipArchive(bytes, file);
  const pkl = zip.entries.find((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
  if (!pkl) throw new InputError('zip archive has no data.pkl entry: not a PyTorch checkpoint', file);
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length).replace(/\/$/, '');
  const folder = prefix ? `${prefix}/` : '';
  const byteorder = zip.get(`${folder}byteorder`);
  if (byteorder && new TextDecoder().decode(zip.read(byteorder.name)).trim() !== 'little') {
    throw new InputError('checkpoint storages are big-endian; only little-endian checkpoints are supported', file);
  }
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: unknown): TorchStorage => {
    if (!isPyTuple(pid) || pid[0] !== 'storage' || pid.length < 5) throw new Error(`expected ('storage', class, key, location, numel), got ${describePyValue(pid)}`);
    const [, cls, key, location, numel] = pid;
    if (!(cls instanceof StorageClass)) throw new Error(`storage type ${describePyValue(cls)} is not a known storage class`);
    if (typeof key !== 'string' || typeof numel !== 'number') throw new Error('storage key must be a str and numel an int');
    const known = storages.get(key);
    if (known) {
      if (known.dtype !== cls.dtype) throw new Error(`storage ${key} is used as ${known.dtype} and ${cls.dtype}`);
      return known;
    }
    const name = `${folder}data/${key}`;
    if (!zip.get(name)) throw new InputError(`checkpoint names storage '${key}' but the archive has no entry '${name}'`, file);
    const raw = zip.read(name);
    const need = numel * TORCH_DTYPE_SIZE[cls.dtype];
    if (raw.length < need) throw new InputError(`storage entry '${name}' has ${raw.length} bytes, ${cls.dtype} x ${numel} needs ${need}`, file);
    const s: TorchStorage = { key, dtype: cls.dtype, numel, bytes: raw.subarray(0, need), location: String(location) };
    storages.set(key, s);
    return s;
  };
  const top = unpickle(zip.read(pkl.name), {
    allow: torchAllowList(),
    persistentLoad,
    tolerateUnknown: options.tolerateUnknown ?? tolerableCheckpointGlobal,
    file: `${file}:${pkl.name}`,
  });
  return { top, stateDict: collectStateDict(top, file), hyperParameters: collectHyperParameters(top, file), storages, prefix };
}

/** Reads a checkpoint file; a missing file is an InputError naming it. */
export function readTorchCheckpointFile(file: string, options: ReadTorchCheckpointOptions = {}): TorchCheckpoint {
  if (!fs.existsSync(file)) throw new InputError('file not found', file);
  return readTorchCheckpoint(fs.readFileSync(file), file, options);
}

function collectStateDict(top: unknown, file: string): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  if (!(top instanceof PyDict)) return out;
  const sd = top.get('state_dict');
  const source = sd instanceof PyDict ? sd : [...top.values()].some((v) => v instanceof TorchTensor) ? top : undefined;
  if (sd !== undefined && !(sd instanceof PyDict)) throw new InputError(`'state_dict' is ${describePyValue(sd)}, expected a dict of tensors`, file);
  if (!source) return out;
  for (const [k, v] of source) {
    if (typeof k !== 'string') throw new InputError(`state_dict key ${describePyValue(k)} is not a str`, file);
    if (!(v instanceof TorchTensor)) throw new InputError(`state_dict entry '${k}' is ${describePyValue(v)}, expected a tensor`, file);
    out.set(k, v);
  }
  return out;
}

function collectHyperParameters(top: unknown, file: string): Record<string, unknown> {
  if (!(top instanceof PyDict)) return {};
  const hp = top.get('hyper_parameters');
  if (hp === undefined || hp === null) return {};
  if (hp instanceof PyDict) return pyDictToObject(hp);
  // Lightning's AttributeDict and argparse.Namespace arrive as inert records when tolerated.
  if (hp instanceof PyObjectRecord) {
    if (hp.items) return pyDictToObject(hp.items);
    if (hp.state instanceof PyDict) return pyDictToObject(hp.state);
  }
  throw new InputError(`'hyper_parameters' is ${describePyValue(hp)}, expected a dict`, file);
}

/**
 * The state_dict entry `key`, checked against the expected shape (null = any).
 * @throws InputError naming the file and key when it is missing (with close names) or mis-shaped.
 */
export function requireTensor(stateDict: Map<string, TorchTensor>, key: string, expectedShape: number[] | null, file?: string): TorchTensor {
  const t = stateDict.get(key);
  if (!t) {
    // Usual causes: a prefix differs ('model.', 'module.') or the module path changed.
    const tail = key.split('.').slice(-2).join('.');
    const keys = [...stateDict.keys()];
    const prefixed = keys.filter((k) => k.endsWith(`.${key}`) || key.endsWith(`.${k}`));
    const similar = (prefixed.length ? prefixed : keys.filter((k) => k.endsWith(tail))).slice(0, 3);
    const hint = similar.length ? `; similar keys: ${similar.join(', ')}` : `; it has ${stateDict.size} entries`;
    throw new InputError(`checkpoint has no state_dict entry '${key}'${hint}`, file);
  }
  if (expectedShape && (t.shape.length !== expectedShape.length || t.shape.some((d, i) => d !== expectedShape[i]))) {
    throw new InputError(`state_dict entry '${key}' has shape [${t.shape.join(', ')}], expected [${expectedShape.join(', ')}]`, file);
  }
  return t;
}
