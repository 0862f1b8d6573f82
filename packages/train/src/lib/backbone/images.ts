/**
 * Training images as backbone input: JPEG (or any encoding jpeg-js reads) decoded to RGB, turned
 * into BGR (x/255 − 0.5)/0.5 (the official preprocessing, via the model package), optionally
 * mirrored; batches are NHWC float32.
 */
import { areaDownscale, backboneInputFromRgb } from '@facecoreset/model';
import * as jpeg from 'jpeg-js';

/** Decodes one encoded image to backbone input [S, S, 3]; errors name the image. */
export function decodeBackboneInput(bytes: Uint8Array, size: number, where: string): Float32Array {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 64 });
  } catch (e) {
    throw new Error(`${where}: cannot decode the image (${e instanceof Error ? e.message : String(e)}); expected a JPEG`);
  }
  // Small demo backbones take a whole fraction of the aligned crop (e.g. 56 of 112): area-averaged.
  const ok = decoded.width === decoded.height && decoded.width % size === 0;
  if (!ok) throw new Error(`${where}: image is ${decoded.width}x${decoded.height}, the backbone takes ${size}x${size} aligned crops (or a whole multiple)`);
  return backboneInputFromRgb(areaDownscale(decoded.data, decoded.width, 4, size), size, size, 4);
}

/** Mirrors one [S, S, 3] image along the width axis, in place. */
export function flipInPlace(image: Float32Array, size: number): void {
  for (let y = 0; y < size; y++) {
    const row = y * size * 3;
    for (let x = 0; x < size >> 1; x++) {
      const a = row + x * 3;
      const b = row + (size - 1 - x) * 3;
      for (let c = 0; c < 3; c++) {
        const t = image[a + c];
        image[a + c] = image[b + c];
        image[b + c] = t;
      }
    }
  }
}

/**
 * Assembles a batch [B, S, S, 3] from encoded images, mirroring those whose flag is set.
 * @param encoded encoded bytes of each image [B]
 * @param flips mirror image b when flips[b]
 * @param augment changes image b [S, S, 3] in place after the flip (training augmentations)
 */
export function imageBatch(
  encoded: readonly Uint8Array[],
  flips: ArrayLike<boolean>,
  size: number,
  names: readonly string[],
  augment?: (image: Float32Array, b: number) => void,
): Float32Array {
  const per = size * size * 3;
  const out = new Float32Array(encoded.length * per);
  encoded.forEach((bytes, b) => {
    const img = decodeBackboneInput(bytes, size, names[b]);
    if (flips[b]) flipInPlace(img, size);
    augment?.(img, b);
    out.set(img, b * per);
  });
  return out;
}
