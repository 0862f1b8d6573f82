/**
 * Backbone input from decoded pixels: AdaFace and FaceCoresetNet feed BGR images scaled as
 * (x/255 − 0.5)/0.5, computed in float32 (bit-identical to torchvision ToTensor + Normalize).
 */

/**
 * @param pixels decoded image, row-major HWC, RGB or RGBA (alpha ignored), 8-bit [H·W·channels]
 * @returns float32 [H, W, 3] in BGR order, values in [−1, 1]
 */
export function backboneInputFromRgb(pixels: ArrayLike<number>, height: number, width: number, channels: 3 | 4 = 3): Float32Array {
  if (pixels.length !== height * width * channels) {
    throw new Error(`backboneInputFromRgb: expected ${height}x${width}x${channels} = ${height * width * channels} values, got ${pixels.length}`);
  }
  const out = new Float32Array(height * width * 3);
  for (let p = 0, q = 0; q < out.length; p += channels, q += 3) {
    out[q] = scale(pixels[p + 2]);
    out[q + 1] = scale(pixels[p + 1]);
    out[q + 2] = scale(pixels[p]);
  }
  return out;
}

/** (x/255 − 0.5)/0.5 with float32 rounding after each step, as torch computes it. */
function scale(v: number): number {
  return Math.fround(Math.fround(v / 255) - 0.5) / 0.5;
}

/**
 * Mirrors images along the width axis (the flip test's second view).
 * @param images float32 [B, H, W, C]
 */
export function flipImagesHorizontally(images: Float32Array, batch: number, height: number, width: number, channels: number): Float32Array {
  const out = new Float32Array(images.length);
  const row = width * channels;
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < height; y++) {
      const base = (b * height + y) * row;
      for (let x = 0; x < width; x++) {
        const src = base + x * channels;
        const dst = base + (width - 1 - x) * channels;
        for (let c = 0; c < channels; c++) out[dst + c] = images[src + c];
      }
    }
  }
  return out;
}

/**
 * Area-averages a square 8-bit image down to `size` x `size` when its side is a whole multiple of
 * `size`; returns it unchanged when the sides already match. Small CPU-demo backbones take e.g.
 * 56x56 input: the aligned 112x112 crops are halved, not re-aligned. Any other size is an error.
 * @param pixels row-major HWC, `channels` per pixel [side·side·channels]
 */
export function areaDownscale(pixels: Uint8Array, side: number, channels: number, size: number): Uint8Array {
  if (side === size) return pixels;
  const k = side / size;
  if (!Number.isInteger(k) || k < 1) throw new Error(`areaDownscale: a ${side}x${side} image cannot be area-averaged to ${size}x${size} (needs a whole multiple)`);
  const out = new Uint8Array(size * size * channels);
  const inv = 1 / (k * k);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let dy = 0; dy < k; dy++) {
          const row = ((y * k + dy) * side + x * k) * channels + c;
          for (let dx = 0; dx < k; dx++) s += pixels[row + dx * channels];
        }
        out[(y * size + x) * channels + c] = Math.round(s * inv);
      }
    }
  }
  return out;
}
