/**
 * Image augmentations for training views, after AdaFace / FaceCoresetNet's training pipeline:
 * crop with black fill (RandomResizedCrop scale 0.2-1, ratio 3/4-4/3, pasted back at its place),
 * low resolution (down to 0.2-1 of the side and back up), photometric (brightness, contrast,
 * saturation jitter of 0.5 in random order), each with p = 0.5; plus RandAugment-style ops
 * (rotation, shear, translation, sharpness, posterize, equalize-like autocontrast) and a random flip.
 *
 * Every view is seeded by (seed, row, view), so any shard, rerun or resumed run reproduces it.
 * Images are RGB, interleaved, 8-bit, `size` x `size`.
 */
import { Rng } from '@facecoreset/common';
import { VIEW_FLIP, VIEW_ORIGINAL } from './views';

export interface RgbImage {
  width: number;
  height: number;
  /** RGB interleaved, length width*height*3. */
  data: Uint8Array;
}

export interface AugmentOptions {
  cropProb: number;
  lowResProb: number;
  photometricProb: number;
  /** Number of RandAugment ops applied per augmented view. */
  randAugmentOps: number;
  /** RandAugment magnitude in [0, 30] (torchvision's scale); 9 is its default. */
  randAugmentMagnitude: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = { cropProb: 0.5, lowResProb: 0.5, photometricProb: 0.5, randAugmentOps: 2, randAugmentMagnitude: 9 };

const clamp8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

export function flipHorizontal(img: RgbImage): RgbImage {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3;
      const d = (y * w + (w - 1 - x)) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width: w, height: h, data: out };
}

/**
 * Bilinear sample of all three channels at (x, y), zero outside the image, into out[o..o+2].
 * Per channel the terms are added in a fixed order (top-left, top-right, bottom-left, bottom-right).
 */
function sampleRgbInto(img: RgbImage, x: number, y: number, out: Uint8Array, o: number): void {
  const { width: w, height: h, data } = img;
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  let r = 0;
  let g = 0;
  let b = 0;
  for (let dy = 0; dy <= 1; dy++) {
    const yy = y0 + dy;
    if (yy < 0 || yy >= h) continue;
    const wy = dy ? fy : 1 - fy;
    for (let dx = 0; dx <= 1; dx++) {
      const xx = x0 + dx;
      if (xx < 0 || xx >= w) continue;
      const wxy = wy * (dx ? fx : 1 - fx);
      const s = (yy * w + xx) * 3;
      r += wxy * data[s];
      g += wxy * data[s + 1];
      b += wxy * data[s + 2];
    }
  }
  out[o] = clamp8(r);
  out[o + 1] = clamp8(g);
  out[o + 2] = clamp8(b);
}

/** Resamples through an inverse affine map (output pixel -> source coordinates), zero fill. */
function warpAffine(img: RgbImage, inv: [number, number, number, number, number, number]): RgbImage {
  const { width: w, height: h } = img;
  const out = new Uint8Array(w * h * 3);
  const [a, b, c, d, e, f] = inv;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) sampleRgbInto(img, a * x + b * y + c, d * x + e * y + f, out, (y * w + x) * 3);
  }
  return { width: w, height: h, data: out };
}

/** Resizes with bilinear interpolation (pixel centres aligned, as cv2.INTER_LINEAR). */
export function resizeBilinear(img: RgbImage, nw: number, nh: number): RgbImage {
  const out = new Uint8Array(nw * nh * 3);
  const sx = img.width / nw;
  const sy = img.height / nh;
  for (let y = 0; y < nh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), img.height - 1);
    for (let x = 0; x < nw; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), img.width - 1);
      sampleRgbInto(img, fx, fy, out, (y * nw + x) * 3);
    }
  }
  return { width: nw, height: nh, data: out };
}

function cropWithBlackFill(img: RgbImage, rng: Rng): RgbImage {
  const { width: w, height: h } = img;
  const area = w * h;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (0.2 + 0.8 * rng.float());
    const logRatio = Math.log(3 / 4) + (Math.log(4 / 3) - Math.log(3 / 4)) * rng.float();
    const ratio = Math.exp(logRatio);
    const cw = Math.round(Math.sqrt(target * ratio));
    const ch = Math.round(Math.sqrt(target / ratio));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
      const top = rng.int(0, h - ch);
      const left = rng.int(0, w - cw);
      const out = new Uint8Array(img.data.length);
      for (let y = top; y < top + ch; y++) {
        const o = (y * w + left) * 3;
        out.set(img.data.subarray(o, o + cw * 3), o);
      }
      return { width: w, height: h, data: out };
    }
  }
  return img;
}

function lowResolution(img: RgbImage, rng: Rng): RgbImage {
  const ratio = 0.2 + 0.8 * rng.float();
  const side = Math.max(1, Math.floor(ratio * img.height));
  return resizeBilinear(resizeBilinear(img, side, side), img.width, img.height);
}

function grayMean(img: RgbImage): number {
  let s = 0;
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) s += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
  return s / (d.length / 3);
}

function photometric(img: RgbImage, rng: Rng): RgbImage {
  const factor = () => 0.5 + rng.float();
  const order = rng.shuffle([0, 1, 2]);
  let out = img;
  for (const op of order) {
    const f = factor();
    const d = new Uint8Array(out.data.length);
    if (op === 0) {
      for (let i = 0; i < d.length; i++) d[i] = clamp8(out.data[i] * f);
    } else if (op === 1) {
      const m = grayMean(out);
      for (let i = 0; i < d.length; i++) d[i] = clamp8(m + (out.data[i] - m) * f);
    } else {
      for (let i = 0; i < d.length; i += 3) {
        const g = 0.299 * out.data[i] + 0.587 * out.data[i + 1] + 0.114 * out.data[i + 2];
        for (let c = 0; c < 3; c++) d[i + c] = clamp8(g + (out.data[i + c] - g) * f);
      }
    }
    out = { width: img.width, height: img.height, data: d };
  }
  return out;
}

function randAugmentOp(img: RgbImage, rng: Rng, magnitude: number): RgbImage {
  const m = magnitude / 30;
  const sign = rng.float() < 0.5 ? -1 : 1;
  const { width: w, height: h } = img;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  switch (rng.int(0, 5)) {
    case 0: {
      // rotate by up to 30 degrees about the centre
      const t = sign * m * (Math.PI / 6);
      const cos = Math.cos(t);
      const sin = Math.sin(t);
      return warpAffine(img, [cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy]);
    }
    case 1: {
      // shear x by up to 0.3
      const s = sign * m * 0.3;
      return warpAffine(img, [1, s, -s * cy, 0, 1, 0]);
    }
    case 2: {
      // translate by up to 45% of the side scaled down to a face crop (at most ~15 px at 112)
      const t = sign * m * 0.135 * w;
      return rng.float() < 0.5 ? warpAffine(img, [1, 0, -t, 0, 1, 0]) : warpAffine(img, [1, 0, 0, 0, 1, -t]);
    }
    case 3: {
      // posterize: keep 8 - 4m bits
      const bits = Math.max(1, Math.round(8 - 4 * m));
      const mask = (0xff << (8 - bits)) & 0xff;
      const d = new Uint8Array(img.data.length);
      for (let i = 0; i < d.length; i++) d[i] = img.data[i] & mask;
      return { width: w, height: h, data: d };
    }
    case 4: {
      // autocontrast per channel
      const d = new Uint8Array(img.data.length);
      for (let c = 0; c < 3; c++) {
        let lo = 255;
        let hi = 0;
        for (let i = c; i < d.length; i += 3) {
          lo = Math.min(lo, img.data[i]);
          hi = Math.max(hi, img.data[i]);
        }
        const scale = hi > lo ? 255 / (hi - lo) : 1;
        for (let i = c; i < d.length; i += 3) d[i] = hi > lo ? clamp8((img.data[i] - lo) * scale) : img.data[i];
      }
      return { width: w, height: h, data: d };
    }
    default: {
      // sharpness: blend with a 3x3 smoothed copy (factor 1 + sign * 0.9m)
      const f = 1 + sign * 0.9 * m;
      const d = new Uint8Array(img.data.length);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          for (let c = 0; c < 3; c++) {
            const o = (y * w + x) * 3 + c;
            if (x === 0 || y === 0 || x === w - 1 || y === h - 1) {
              d[o] = img.data[o];
              continue;
            }
            let s = 0;
            for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += img.data[o + (dy * w + dx) * 3] * (dx === 0 && dy === 0 ? 5 : 1);
            const smooth = s / 13;
            d[o] = clamp8(smooth + (img.data[o] - smooth) * f);
          }
        }
      }
      return { width: w, height: h, data: d };
    }
  }
}

/** One augmented copy, determined by (seed, row, view). */
export function augmentView(img: RgbImage, seed: number, row: number, view: number, opts: AugmentOptions = DEFAULT_AUGMENT): RgbImage {
  const rng = Rng.stream(seed, 'view', row, view);
  let out = img;
  for (let i = 0; i < opts.randAugmentOps; i++) out = randAugmentOp(out, rng, opts.randAugmentMagnitude);
  if (rng.float() < 0.5) out = flipHorizontal(out);
  if (rng.float() < opts.cropProb) out = cropWithBlackFill(out, rng);
  if (rng.float() < opts.lowResProb) out = lowResolution(out, rng);
  if (rng.float() < opts.photometricProb) out = photometric(out, rng);
  return out;
}

/** The image for a view id: the original, its flip, or an augmented copy. */
export function renderView(img: RgbImage, seed: number, row: number, view: number, opts: AugmentOptions = DEFAULT_AUGMENT): RgbImage {
  if (view === VIEW_ORIGINAL) return img;
  if (view === VIEW_FLIP) return flipHorizontal(img);
  return augmentView(img, seed, row, view, opts);
}
