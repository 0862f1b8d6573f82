/**
 * Test helpers for the backbone fixtures (../shared/fixtures/reference/backbone): the float16 IR-18
 * checkpoint's state dict, the .npy expectations and the PNG inputs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { NpyArray, readNpy, readTorchCheckpointFile } from '@facecoreset/common';
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

let cached: Map<string, StateDictEntry> | undefined;

/** The fixture checkpoint's state dict, read from the .ckpt bytes by the project's reader. */
export function ir18StateDict(): Map<string, StateDictEntry> {
  cached ??= readTorchCheckpointFile(path.join(BACKBONE_FIXTURES, 'ir18_random_fp16.ckpt')).stateDict;
  return cached;
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
