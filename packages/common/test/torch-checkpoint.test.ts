import * as fs from 'node:fs';
import * as path from 'node:path';
import { readTorchCheckpoint, readTorchCheckpointFile, requireTensor, TorchTensor, TORCH_DTYPE_SIZE, type TorchDtype } from '../src/py/torch-checkpoint';
import { ZipArchive } from '../src/py/zip';
import { readNpy } from '../src/py/npy-file';
import { halfToFloat } from '../src/py/npy';
import { InputError } from '../src/errors';
import { PyDict } from '../src/py/pickle';

const REF = path.resolve(__dirname, '../../../../shared/fixtures/reference');
const FIX = path.resolve(__dirname, 'fixtures');

interface StorageMapEntry {
  zip_entry: string;
  storage_type: string;
  storage_numel: number;
  storage_offset: number;
  shape: number[];
  stride: number[];
}

const STORAGE_DTYPE: Record<string, TorchDtype> = { FloatStorage: 'float32', HalfStorage: 'float16', LongStorage: 'int64', DoubleStorage: 'float64' };

/** Element `flat` (C order) of the view, read straight from the raw storage bytes with the manifest's formula. */
function rawElement(raw: Uint8Array, e: StorageMapEntry, flat: number): number {
  let rem = flat;
  let elem = e.storage_offset;
  for (let k = e.shape.length - 1; k >= 0; k--) {
    elem += (rem % e.shape[k]) * e.stride[k];
    rem = Math.floor(rem / e.shape[k]);
  }
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (STORAGE_DTYPE[e.storage_type]) {
    case 'float32':
      return dv.getFloat32(4 * elem, true);
    case 'float16':
      return halfToFloat(dv.getUint16(2 * elem, true));
    case 'float64':
      return dv.getFloat64(8 * elem, true);
    default:
      return Number(dv.getBigInt64(8 * elem, true));
  }
}

/** Checks every state_dict entry against the manifest: storage, view geometry, and every value. */
function checkAgainstStorageMap(file: string, storageMap: Record<string, StorageMapEntry>) {
  const bytes = fs.readFileSync(file);
  const ck = readTorchCheckpoint(bytes, file);
  const zip = new ZipArchive(bytes, file);
  expect([...ck.stateDict.keys()].sort()).toEqual(Object.keys(storageMap).sort());
  for (const [key, e] of Object.entries(storageMap)) {
    const t = ck.stateDict.get(key)!;
    expect(t).toBeInstanceOf(TorchTensor);
    expect({ key, dtype: t.dtype, shape: t.shape, stride: t.stride, offset: t.storageOffset, entry: `${ck.prefix}/data/${t.storageKey}`, numel: t.storage.numel }).toEqual({
      key,
      dtype: STORAGE_DTYPE[e.storage_type],
      shape: e.shape,
      stride: e.stride,
      offset: e.storage_offset,
      entry: e.zip_entry,
      numel: e.storage_numel,
    });
    const raw = zip.read(e.zip_entry);
    const n = e.shape.reduce((a, b) => a * b, 1);
    expect(t.data.length).toBe(n);
    // Every element for small tensors, a stride of samples for the large ones (values are exact either way).
    const step = n > 20000 ? 997 : 1;
    for (let i = 0; i < n; i += step) {
      if (!Object.is(t.data[i], rawElement(raw, e, i))) throw new Error(`${key}[${i}]: ${t.data[i]} != ${rawElement(raw, e, i)}`);
    }
    expect(t.rawBytes().length).toBe(n * TORCH_DTYPE_SIZE[t.dtype]);
  }
  return ck;
}

describe('readTorchCheckpoint', () => {
  const aggManifest = JSON.parse(fs.readFileSync(path.join(REF, 'aggregator/manifest.json'), 'utf8'));

  it('reads the aggregator .ckpt exactly as manifest.json -> checkpoint.storage_map describes it', () => {
    const ck = checkAgainstStorageMap(path.join(REF, 'aggregator/facecoresetnet_random.ckpt'), aggManifest.checkpoint.storage_map);
    expect(ck.prefix).toBe('archive');
    // Shared storages are loaded once per key.
    expect(ck.storages.size).toBe(aggManifest.checkpoint.zip_entries.filter((n: string) => n.startsWith('archive/data/')).length);
    expect(ck.hyperParameters).toEqual(aggManifest.hyper_parameters);
  });

  it('materialises aliases (views with non-zero offsets) as the rows of their source tensor', () => {
    const ck = readTorchCheckpoint(fs.readFileSync(path.join(REF, 'aggregator/facecoresetnet_random.ckpt')));
    const aliases = aggManifest.checkpoint.aliases as Record<string, { source: string; rows: [number, number] | null }>;
    let withOffset = 0;
    for (const [name, a] of Object.entries(aliases)) {
      const t = ck.stateDict.get(name)!;
      const src = ck.stateDict.get(a.source)!;
      expect(t.storageKey).toBe(src.storageKey);
      const rowLen = src.shape.length > 1 ? src.shape[1] : 1;
      const from = a.rows ? a.rows[0] * rowLen : 0;
      const part = src.data.subarray(from, from + t.data.length);
      expect(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(part.buffer, part.byteOffset, part.byteLength))).toBe(true);
      if (t.storageOffset > 0) withOffset++;
    }
    expect(withOffset).toBe(2);
  });

  it('equals weights_npy/*.npy bit for bit', () => {
    const ck = readTorchCheckpoint(fs.readFileSync(path.join(REF, 'aggregator/facecoresetnet_random.ckpt')));
    const dir = path.join(REF, 'aggregator/weights_npy');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.npy'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const npy = readNpy(path.join(dir, f));
      const t = ck.stateDict.get(f.replace(/\.npy$/, ''));
      expect(t).toBeDefined();
      expect(t!.shape).toEqual(npy.shape);
      expect(Buffer.from(t!.rawBytes())).toEqual(Buffer.from(npy.data.buffer, npy.data.byteOffset, npy.data.byteLength));
    }
  });

  it('reads the float16 IR-18 backbone checkpoint as its manifest describes it', () => {
    const m = JSON.parse(fs.readFileSync(path.join(REF, 'backbone/manifest.json'), 'utf8'));
    const ck = checkAgainstStorageMap(path.join(REF, 'backbone/ir18_random_fp16.ckpt'), m.checkpoint.storage_map);
    const tensors = [...ck.stateDict.values()];
    expect(tensors.filter((t) => t.dtype === 'float16').length).toBe(m.checkpoint.n_float16_tensors);
    expect(tensors.filter((t) => t.dtype === 'int64').length).toBe(m.checkpoint.n_int64_tensors);
    expect(tensors.filter((t) => t.dtype === 'float16').reduce((a, t) => a + t.numel, 0)).toBe(m.checkpoint.n_float_values);
    for (const [key, info] of Object.entries(m.state_dict_keys as Record<string, { shape: number[]; dtype: string }>)) {
      expect({ key, shape: ck.stateDict.get(key)!.shape, dtype: ck.stateDict.get(key)!.dtype }).toEqual({ key, ...info });
    }
    expect(ck.hyperParameters.arch).toBe('ir_18');
  });

  it('reads a torch-style checkpoint written without torch: strided views, Parameter, every storage dtype', () => {
    const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'torch_like_expected.json'), 'utf8')) as Record<
      string,
      { storage: string; storage_type: string; offset: number; shape: number[]; stride: number[]; requires_grad: boolean; values: string[] }
    >;
    const ck = readTorchCheckpoint(fs.readFileSync(path.join(FIX, 'torch_like.ckpt')), 'tiny.ckpt');
    expect(ck.prefix).toBe('tiny');
    expect([...ck.stateDict.keys()]).toEqual(Object.keys(expected));
    const dtypes: Record<string, TorchDtype> = { FloatStorage: 'float32', DoubleStorage: 'float64', LongStorage: 'int64', IntStorage: 'int32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16' };
    for (const [key, e] of Object.entries(expected)) {
      const t = ck.stateDict.get(key)!;
      expect({ key, storage: t.storageKey, dtype: t.dtype, offset: t.storageOffset, shape: t.shape, stride: t.stride, requiresGrad: t.requiresGrad }).toEqual({
        key,
        storage: e.storage,
        dtype: dtypes[e.storage_type],
        offset: e.offset,
        shape: e.shape,
        stride: e.stride,
        requiresGrad: e.requires_grad,
      });
      expect({ key, values: Array.from(t.data) }).toEqual({ key, values: e.values.map(Number) });
      // rawBytes() widened the same way gives the same values: the writer side keeps the dtype.
      expect(t.rawBytes().length).toBe(t.numel * TORCH_DTYPE_SIZE[t.dtype]);
    }
    expect(ck.stateDict.get('w_t')!.isContiguous).toBe(false);
    expect(ck.storages.size).toBe(6);
    expect(ck.hyperParameters).toEqual({ dtype: 'float32', milestones: [20] });
    const sd = (ck.top as PyDict).get('state_dict') as PyDict;
    expect(sd.attributes?.get('_metadata')).toBeInstanceOf(PyDict);
  });

  it('names the file and key for a missing or mis-shaped state_dict entry', () => {
    const ck = readTorchCheckpoint(fs.readFileSync(path.join(FIX, 'torch_like.ckpt')), 'tiny.ckpt');
    expect(requireTensor(ck.stateDict, 'w', [4, 6], 'tiny.ckpt').shape).toEqual([4, 6]);
    expect(() => requireTensor(ck.stateDict, 'w', [6, 4], 'tiny.ckpt')).toThrow("tiny.ckpt: state_dict entry 'w' has shape [4, 6], expected [6, 4]");
    expect(() => requireTensor(ck.stateDict, 'model.w_t', null, 'tiny.ckpt')).toThrow("tiny.ckpt: checkpoint has no state_dict entry 'model.w_t'; similar keys: w_t");
  });

  it('refuses big-endian storages', () => {
    expect(() => readTorchCheckpoint(fs.readFileSync(path.join(FIX, 'torch_like_big_endian.ckpt')), 'be.ckpt')).toThrow('be.ckpt: checkpoint storages are big-endian; only little-endian checkpoints are supported');
  });

  it('tolerates unknown classes in hyper_parameters as inert data', () => {
    const ck = readTorchCheckpoint(fs.readFileSync(path.join(FIX, 'hparams_unknown_classes.ckpt')), 'h.ckpt');
    expect(ck.stateDict.size).toBe(0);
    const hp = ck.hyperParameters as any;
    expect(hp.lr).toBe(1e-4);
    expect(hp.args.__class__).toBe('argparse.Namespace');
    expect(hp.args.state).toEqual({ lr: 1e-4, arch: 'ir_101', milestones: [20], data_root: { __class__: 'pathlib.PurePosixPath', args: ['/', 'data', 'webface4m'], state: null } });
    expect(hp.output_dir.__class__).toBe('pathlib.PurePosixPath');
    expect(() => readTorchCheckpoint(fs.readFileSync(path.join(FIX, 'hparams_unknown_classes.ckpt')), 'h.ckpt', { tolerateUnknown: false })).toThrow(
      /h\.ckpt:model\/data\.pkl:byte \d+: pickle refers to global '(argparse\.Namespace|pathlib\.PurePosixPath)', which is not allowed/,
    );
  });

  it("reads hyper_parameters kept in Lightning's AttributeDict (a dict subclass) as a plain object", () => {
    const ck = readTorchCheckpoint(fs.readFileSync(path.join(FIX, 'hparams_attribute_dict.ckpt')), 'a.ckpt');
    expect(ck.hyperParameters).toEqual({ lr: 0.1, arch: 'ir_18' });
  });

  it('refuses a checkpoint whose pickle names os.system, naming file, offset and global', () => {
    const bytes = fs.readFileSync(path.join(FIX, 'evil_os_system.ckpt'));
    expect(() => readTorchCheckpoint(bytes, 'evil.ckpt')).toThrow(InputError);
    expect(() => readTorchCheckpoint(bytes, 'evil.ckpt')).toThrow(/^evil\.ckpt:model\/data\.pkl:byte 34: pickle refers to global 'posix\.system', which is not allowed \(allowed: collections\.OrderedDict, /);
  });

  it('refuses the legacy format, non-zip bytes and a truncated archive clearly', () => {
    expect(() => readTorchCheckpoint(fs.readFileSync(path.join(FIX, 'plain_p2.pickle')), 'old.pt')).toThrow(/old\.pt: legacy torch\.save format.*re-save with torch>=1\.6/);
    expect(() => readTorchCheckpoint(new Uint8Array([1, 2, 3]), 'x.ckpt')).toThrow(/x\.ckpt: not a PyTorch checkpoint/);
    expect(() => readTorchCheckpointFile('/nonexistent/m.ckpt')).toThrow('/nonexistent/m.ckpt: file not found');
    const good = fs.readFileSync(path.join(REF, 'aggregator/facecoresetnet_random.ckpt'));
    expect(() => readTorchCheckpoint(good.subarray(0, good.length - 100), 't.ckpt')).toThrow(/t\.ckpt: .*truncated/);
  });
});
