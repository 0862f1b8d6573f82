import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  decodeSafetensors,
  encodeSafetensors,
  floatToBfloat16,
  floatToHalf,
  metadataFromStrings,
  metadataToStrings,
  readSafetensors,
  safeTensorFromTorch,
  safeTensorValues,
  writeSafetensors,
  type SafetensorsDtype,
} from '../src/py/safetensors';
import { halfToFloat } from '../src/py/npy';
import { readTorchCheckpoint } from '../src/py/torch-checkpoint';
import { InputError } from '../src/errors';

const REF = path.resolve(__dirname, '../../../../shared/fixtures/reference');
const FIX = path.resolve(__dirname, 'fixtures');

const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'st_expected.json'), 'utf8')) as {
  tensors: Record<string, { dtype: SafetensorsDtype; shape: number[]; values: string[] }>;
  metadata: Record<string, string>;
};

describe('safetensors', () => {
  for (const name of ['st_aligned.safetensors', 'st_unpadded.safetensors']) {
    it(`reads ${name}, written by hand in Python from the public format description`, () => {
      const f = readSafetensors(path.join(FIX, name));
      expect(f.metadata).toEqual(expected.metadata);
      expect(metadataFromStrings({ facecoreset: f.metadata.facecoreset })).toEqual({ facecoreset: { config: { coreset_size: 3 }, step: 12 } });
      expect([...f.tensors.keys()].sort()).toEqual(Object.keys(expected.tensors).sort());
      for (const [key, e] of Object.entries(expected.tensors)) {
        const t = f.tensors.get(key)!;
        expect({ key, dtype: t.dtype, shape: t.shape }).toEqual({ key, dtype: e.dtype, shape: e.shape });
        const want = e.values.map(Number);
        // F32/F16/BF16 values were chosen exactly representable in their dtype (or compared after rounding to float32).
        const got = Array.from(safeTensorValues(t));
        expect({ key, got }).toEqual({ key, got: e.dtype === 'F32' ? want.map(Math.fround) : want });
      }
    });
  }

  it('round-trips every dtype through encode/decode and a file, with metadata as JSON strings', () => {
    const tensors = {
      a: { dtype: 'F32' as const, shape: [2, 2], values: [1.5, -2, 3.25, 1e-40] },
      b: { dtype: 'F16' as const, shape: [3], values: [0.333251953125, -65504, 2 ** -24] },
      c: { dtype: 'BF16' as const, shape: [1], values: [3.140625] },
      d: { dtype: 'F64' as const, shape: [], values: [Math.E] },
      e: { dtype: 'I64' as const, shape: [2], values: [-(2 ** 53) + 1, 42] },
      f: { dtype: 'I32' as const, shape: [1], values: [-5] },
      g: { dtype: 'U8' as const, shape: [3], values: [0, 7, 255] },
      h: { dtype: 'F32' as const, shape: [0, 3], values: [] },
    };
    const meta = metadataToStrings({ config: { coreset_size: 3, gamma: 0.21 }, note: 'x' });
    const bytes = encodeSafetensors(tensors, meta);
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    const back = decodeSafetensors(bytes, 'rt.safetensors');
    expect(metadataFromStrings(back.metadata)).toEqual({ config: { coreset_size: 3, gamma: 0.21 }, note: 'x' });
    for (const [name, t] of Object.entries(tensors)) {
      const got = back.tensors.get(name)!;
      expect({ name, dtype: got.dtype, shape: got.shape }).toEqual({ name, dtype: t.dtype, shape: t.shape });
      // Every tensor starts at a multiple of its element size within the file.
      expect((got.bytes.byteOffset - bytes.byteOffset) % { F64: 8, F32: 4, I64: 8, I32: 4, F16: 2, BF16: 2, U8: 1 }[t.dtype]).toBe(0);
      const want = t.dtype === 'F32' ? t.values.map(Math.fround) : t.values;
      expect({ name, v: Array.from(safeTensorValues(got)) }).toEqual({ name, v: want });
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-'));
    try {
      writeSafetensors(path.join(dir, 'm.safetensors'), back.tensors, back.metadata);
      expect(Buffer.from(fs.readFileSync(path.join(dir, 'm.safetensors'))).equals(Buffer.from(bytes))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rounds float32 to float16 and bfloat16 to nearest even, like numpy and torch', () => {
    // Exhaustive over float16: every finite half survives float32 -> half unchanged.
    for (let h = 0; h < 0x10000; h++) {
      const v = halfToFloat(h);
      if (Number.isNaN(v)) continue;
      if (floatToHalf(v) !== h) throw new Error(`half 0x${h.toString(16)} (${v}) -> 0x${floatToHalf(v).toString(16)}`);
    }
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie -> even (down)
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds past the largest half -> inf
    expect(floatToHalf(2 ** -25)).toBe(0); // half of the smallest subnormal, tie -> 0
    expect(floatToHalf(3 * 2 ** -26)).toBe(1);
    expect(floatToBfloat16(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(floatToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
  });

  it('saves checkpoint tensors in their original dtype and bytes (float16 backbone, strided aliases)', () => {
    const ck = readTorchCheckpoint(fs.readFileSync(path.join(REF, 'aggregator/facecoresetnet_random.ckpt')));
    const alias = ck.stateDict.get('aggregate_model.decoder_layer1.multihead_attn3.out_proj.weight')!;
    expect(alias.storageOffset).toBeGreaterThan(0);
    const st = safeTensorFromTorch(alias);
    const back = decodeSafetensors(encodeSafetensors({ w: st })).tensors.get('w')!;
    expect(back.shape).toEqual(alias.shape);
    expect(Buffer.from(safeTensorValues(back).buffer).equals(Buffer.from(alias.data.buffer, alias.data.byteOffset, alias.data.byteLength))).toBe(true);
    const bb = readTorchCheckpoint(fs.readFileSync(path.join(REF, 'backbone/ir18_random_fp16.ckpt')));
    const w = bb.stateDict.get('model.input_layer.0.weight')!;
    const s = safeTensorFromTorch(w);
    expect(s.dtype).toBe('F16');
    expect(Array.from(safeTensorValues(s))).toEqual(Array.from(w.data));
  });

  const bad: [string, RegExp][] = [
    ['st_bad_garbage_header.safetensors', /safetensors header must start with '\{', found "\\u0000\\u0001garbage, not j"/],
    ['st_bad_header_len.safetensors', /not a safetensors file: header length 1099511627776 exceeds the 104857600-byte limit/],
    ['st_bad_header_misaligned_len.safetensors', /(not valid JSON|data has \d+ bytes but the tensors cover \d+)/],
    ['st_bad_truncated.safetensors', /truncated safetensors file: tensor '.*' ends at data byte \d+, the data has \d+/],
    ['st_bad_overlap.safetensors', /tensor 'w\.f32' \(data bytes 0-24\) overlaps the previous tensor, which ends at 16/],
    ['st_bad_size.safetensors', /tensor 'w\.i32': data_offsets \[\d+, \d+\] span 8 bytes, I32 \[3\] needs 12/],
    ['st_bad_metadata.safetensors', /__metadata__\['n'\] must be a string, got 3/],
  ];
  for (const [name, re] of bad) {
    it(`refuses ${name} with a one-line reason naming the file`, () => {
      const file = path.join(FIX, name);
      expect(() => readSafetensors(file)).toThrow(InputError);
      expect(() => readSafetensors(file)).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: (?:${re.source})$`));
    });
  }

  it('refuses tiny inputs and a missing file', () => {
    expect(() => decodeSafetensors(new Uint8Array(3), 'x.st')).toThrow('x.st: not a safetensors file: 3 bytes, the header length alone needs 8');
    expect(() => readSafetensors('/nonexistent/a.safetensors')).toThrow('/nonexistent/a.safetensors: file not found');
  });
});
