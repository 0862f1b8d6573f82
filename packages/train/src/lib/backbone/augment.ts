/**
 * AdaFace's training augmentations on backbone input, each applied with its own probability:
 * crop with black fill (a random-resized-crop box of 20-100% of the area, aspect 3/4-4/3, kept in
 * place, the rest black), low resolution (down to 20-100% of the side and back up, bilinear) and
 * photometric jitter (brightness, contrast, saturation factors in [0.5, 1.5], random order).
 * Degraded views of an identity teach the network that they are hard, which is where AdaFace's
 * link between feature norm and image quality comes from.
 *
 * Images are backbone input: [S, S, 3] float32, BGR, (x/255 − 0.5)/0.5, so black is −1.
 */
import type { Rng } from '@facecoreset/common';

export interface BackboneAugmentProbabilities {
  crop: number;
  lowRes: number;
  photometric: number;
}

/** Bilinear resize of an [h, w, 3] image (pixel centres aligned, edges clamped). */
export function resizeBilinear3(src: Float32Array, w: number, h: number, nw: number, nh: number): Float32Array {
  const out = new Float32Array(nw * nh * 3);
  const sx = w / nw;
  const sy = h / nh;
  for (let y = 0; y < nh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const ty = fy - y0;
    for (let x = 0; x < nw; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const tx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const top = src[(y0 * w + x0) * 3 + c] * (1 - tx) + src[(y0 * w + x1) * 3 + c] * tx;
        const bottom = src[(y1 * w + x0) * 3 + c] * (1 - tx) + src[(y1 * w + x1) * 3 + c] * tx;
        out[(y * nw + x) * 3 + c] = top * (1 - ty) + bottom * ty;
      }
    }
  }
  return out;
}

function cropWithBlackFill(img: Float32Array, size: number, rng: Rng): void {
  const area = size * size;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (0.2 + 0.8 * rng.float());
    const ratio = Math.exp(Math.log(3 / 4) + Math.log(16 / 9) * rng.float());
    const cw = Math.round(Math.sqrt(target * ratio));
    const ch = Math.round(Math.sqrt(target / ratio));
    if (cw < 1 || ch < 1 || cw > size || ch > size) continue;
    const top = rng.int(0, size - ch);
    const left = rng.int(0, size - cw);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (y >= top && y < top + ch && x >= left && x < left + cw) continue;
        const o = (y * size + x) * 3;
        img[o] = img[o + 1] = img[o + 2] = -1;
      }
    }
    return;
  }
}

function lowResolution(img: Float32Array, size: number, rng: Rng): void {
  const side = Math.max(1, Math.floor((0.2 + 0.8 * rng.float()) * size));
  if (side >= size) return;
  img.set(resizeBilinear3(resizeBilinear3(img, size, size, side, side), side, side, size, size));
}

/** Brightness, contrast and saturation jitter (factors in [0.5, 1.5]) on [0, 1] values, clamped. */
function photometric(img: Float32Array, rng: Rng): void {
  const order = rng.shuffle([0, 1, 2]);
  const n = img.length / 3;
  // BGR order: luma weights of B, G, R.
  const gray = (o: number) => 0.114 * (img[o] + 1) * 0.5 + 0.587 * (img[o + 1] + 1) * 0.5 + 0.299 * (img[o + 2] + 1) * 0.5;
  for (const op of order) {
    const f = 0.5 + rng.float();
    let meanGray = 0;
    if (op === 1) {
      for (let i = 0; i < n; i++) meanGray += gray(i * 3);
      meanGray /= n;
    }
    for (let i = 0; i < n; i++) {
      const o = i * 3;
      const g = op === 2 ? gray(o) : 0;
      for (let c = 0; c < 3; c++) {
        const u = (img[o + c] + 1) * 0.5;
        const v = op === 0 ? u * f : op === 1 ? meanGray + (u - meanGray) * f : g + (u - g) * f;
        img[o + c] = Math.min(1, Math.max(0, v)) * 2 - 1;
      }
    }
  }
}

/**
 * Augments one backbone input image in place.
 * @param img [S, S, 3] backbone input
 */
export function augmentBackboneInput(img: Float32Array, size: number, p: BackboneAugmentProbabilities, rng: Rng): void {
  // Every draw is taken whether or not the augmentation applies, so that the stream stays aligned.
  const doCrop = rng.float() < p.crop;
  const doLowRes = rng.float() < p.lowRes;
  const doPhotometric = rng.float() < p.photometric;
  if (doCrop) cropWithBlackFill(img, size, rng);
  if (doLowRes) lowResolution(img, size, rng);
  if (doPhotometric) photometric(img, rng);
}
