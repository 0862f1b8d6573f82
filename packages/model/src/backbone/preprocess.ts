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
