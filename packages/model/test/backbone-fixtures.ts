/**
 * Test helpers for the backbone fixtures (../shared/fixtures/reference/backbone): the float16 IR-18
 * checkpoint's state dict, the .npy expectations and the PNG inputs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import { PNG } from 'pngjs';
import { NpyArray, halfToFloat, readNpy } from '@facecoreset/common';
import type { StateDictEntry } from '../src/backbone';

export const BACKBONE_FIXTURES = path.resolve(__dirname, '../../../../shared/fixtures/reference/backbone');

export function fixtureNpy(rel: string): NpyArray {
  return readNpy(path.join(BACKBONE_FIXTURES, rel));
}

export function fixtureFloats(rel: string): Float32Array {
  const a = fixtureNpy(rel);
  return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number>);
}

/** The four fixture PNGs decoded as RGB (pngjs gives RGBA). */
export function fixtureImages(): { rgba: Uint8Array; width: number; height: number }[] {
  return [0, 1, 2, 3].map((i) => {
    const png = PNG.sync.read(fs.readFileSync(path.join(BACKBONE_FIXTURES, 'images', `img${i}.png`)));
    return { rgba: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length), width: png.width, height: png.height };
  });
}

interface StorageInfo {
  zip_entry: string;
  storage_type: 'HalfStorage' | 'FloatStorage' | 'LongStorage';
  storage_offset: number;
  shape: number[];
  stride: number[];
}

let cached: Map<string, StateDictEntry> | undefined;

/**
 * The checkpoint's state dict read through manifest.json's storage map (contiguous tensors only,
 * which is all this checkpoint has); independent of the project's pickle reader.
 */
export function ir18StateDict(): Map<string, StateDictEntry> {
  if (cached) return cached;
  const manifest = JSON.parse(fs.readFileSync(path.join(BACKBONE_FIXTURES, 'manifest.json'), 'utf8'));
  const map = manifest.checkpoint.storage_map as Record<string, StorageInfo>;
  const entries = unzipSync(fs.readFileSync(path.join(BACKBONE_FIXTURES, 'ir18_random_fp16.ckpt')), {
    filter: (f) => f.name.includes('/data/'),
  });
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = halfToFloat(h);
  const out = new Map<string, StateDictEntry>();
  for (const [key, info] of Object.entries(map)) {
    const raw = entries[info.zip_entry];
    const n = info.shape.reduce((a, b) => a * b, 1);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    if (info.storage_type === 'LongStorage') {
      out.set(key, { dtype: 'int64', shape: info.shape, data: new Float64Array([Number(dv.getBigInt64(info.storage_offset * 8, true))]) });
      continue;
    }
    const data = new Float32Array(n);
    const o = info.storage_offset;
    if (info.storage_type === 'HalfStorage') for (let i = 0; i < n; i++) data[i] = table[dv.getUint16((o + i) * 2, true)];
    else for (let i = 0; i < n; i++) data[i] = dv.getFloat32((o + i) * 4, true);
    out.set(key, { dtype: info.storage_type === 'HalfStorage' ? 'float16' : 'float32', shape: info.shape, data });
  }
  cached = out;
  return out;
}

/** NCHW [B, C, H, W] -> NHWC [B, H, W, C]. */
export function nchwToNhwc(x: Float32Array, [b, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let n = 0; n < b; n++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++) out[((n * h + y) * w + xx) * c + ch] = x[((n * c + ch) * h + y) * w + xx];
  return out;
}

/** max |a − b| / max |b|. */
export function maxRelToMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}
