/**
 * Pixel-level degradations on float RGB images ([height, width, 3], 0..255): exposure, Gaussian
 * blur, down-scaling (area average down, bilinear up) and sensor noise.
 */
import { Random } from './random';
import { scratchF32, scratchF64 } from './scratch';

export interface FloatImage {
  data: Float32Array;
  width: number;
  height: number;
}

/** Multiplies by 2^(stops) and clips: over-exposure saturates, under-exposure crushes to black. */
export function applyExposure(img: FloatImage, stops: number): void {
  if (stops === 0) return;
  const gain = Math.pow(2, stops);
  const d = img.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i] * gain;
    d[i] = v > 255 ? 255 : v;
  }
}

export const MIN_BLUR_SIGMA = 0.25;

/**
 * Gaussian blur with clamped borders: a direct separable convolution for small sigma, from sigma 1
 * up the recursive filter of Young & van Vliet (1995), whose cost does not grow with sigma. That
 * filter's impulse response is wider than the sigma it is designed for (by 10-25%), so its design
 * sigma is chosen by bisection to make the response's standard deviation exactly `sigma`.
 * Both passes sweep memory in order (the vertical one row by row, all columns at once).
 */
export function gaussianBlur(img: FloatImage, sigma: number): void {
  // Below this a neighbour's weight is under 0.04% (less than 0.1 of a grey level): nothing to do.
  if (sigma < MIN_BLUR_SIGMA) return;
  if (sigma < 1) directBlur(img, sigma);
  else recursiveBlur(img, recursiveDesignSigma(sigma));
}

function directBlur(img: FloatImage, sigma: number): void {
  const { width: w, height: h, data } = img;
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const taps = 2 * radius + 1;
  const kernel = new Float64Array(taps);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < taps; i++) kernel[i] /= sum;
  const row = w * 3;
  // Horizontal, one padded row at a time (borders repeated), into `tmp`.
  const padded = scratchF64('blur-row', (w + 2 * radius) * 3);
  const tmp = scratchF32('blur-direct', data.length);
  for (let y = 0; y < h; y++) {
    const base = y * row;
    for (let x = -radius; x < w + radius; x++) {
      const src = base + (x < 0 ? 0 : x >= w ? w - 1 : x) * 3;
      const dst = (x + radius) * 3;
      padded[dst] = data[src];
      padded[dst + 1] = data[src + 1];
      padded[dst + 2] = data[src + 2];
    }
    for (let i = 0; i < row; i++) {
      let acc = 0;
      for (let k = 0, p = i; k < taps; k++, p += 3) acc += padded[p] * kernel[k];
      tmp[base + i] = acc;
    }
  }
  // Vertical: whole rows at a time (borders clamped), back into `data`.
  for (let y = 0; y < h; y++) {
    const out = y * row;
    for (let i = 0; i < row; i++) data[out + i] = 0;
    for (let k = 0; k < taps; k++) {
      const sy = y + k - radius;
      const src = (sy < 0 ? 0 : sy >= h ? h - 1 : sy) * row;
      const wk = kernel[k];
      for (let i = 0; i < row; i++) data[out + i] += tmp[src + i] * wk;
    }
  }
}

interface RecursiveCoefficients {
  gain: number;
  b1: number;
  b2: number;
  b3: number;
}

function recursiveCoefficients(design: number): RecursiveCoefficients {
  const q = design >= 2.5 ? 0.98711 * design - 0.9633 : 3.97156 - 4.14554 * Math.sqrt(1 - 0.26891 * design);
  const q2 = q * q;
  const q3 = q2 * q;
  const b0 = 1.57825 + 2.44413 * q + 1.4281 * q2 + 0.422205 * q3;
  const b1 = (2.44413 * q + 2.85619 * q2 + 1.26661 * q3) / b0;
  const b2 = -(1.4281 * q2 + 1.26661 * q3) / b0;
  const b3 = (0.422205 * q3) / b0;
  return { gain: 1 - (b1 + b2 + b3), b1, b2, b3 };
}

/**
 * Causal then anti-causal recursive filtering of `length` samples spaced `step` apart, starting at
 * `offset`, in place; `line` holds the causal result. Each pass starts in the steady state of its
 * first input (clamped border).
 */
function recursiveLine(data: Float32Array, offset: number, step: number, length: number, c: RecursiveCoefficients, line: Float64Array): void {
  const { gain, b1, b2, b3 } = c;
  let w1 = data[offset];
  let w2 = w1;
  let w3 = w1;
  for (let n = 0, at = offset; n < length; n++, at += step) {
    const v = gain * data[at] + b1 * w1 + b2 * w2 + b3 * w3;
    line[n] = v;
    w3 = w2;
    w2 = w1;
    w1 = v;
  }
  w1 = line[length - 1];
  w2 = w1;
  w3 = w1;
  for (let n = length - 1, at = offset + (length - 1) * step; n >= 0; n--, at -= step) {
    const v = gain * line[n] + b1 * w1 + b2 * w2 + b3 * w3;
    data[at] = v;
    w3 = w2;
    w2 = w1;
    w1 = v;
  }
}

/** The same filter down the columns, all columns of a row at once (memory in order). */
function recursiveColumns(img: FloatImage, c: RecursiveCoefficients): void {
  const { width: w, height: h, data } = img;
  const { gain, b1, b2, b3 } = c;
  const row = w * 3;
  const w1 = scratchF64('blur-w1', row);
  const w2 = scratchF64('blur-w2', row);
  const w3 = scratchF64('blur-w3', row);
  const forward = scratchF64('blur-forward', row * h);
  for (let i = 0; i < row; i++) w1[i] = w2[i] = w3[i] = data[i];
  for (let y = 0; y < h; y++) {
    const at = y * row;
    for (let i = 0; i < row; i++) {
      const v = gain * data[at + i] + b1 * w1[i] + b2 * w2[i] + b3 * w3[i];
      forward[at + i] = v;
      w3[i] = w2[i];
      w2[i] = w1[i];
      w1[i] = v;
    }
  }
  const last = (h - 1) * row;
  for (let i = 0; i < row; i++) w1[i] = w2[i] = w3[i] = forward[last + i];
  for (let y = h - 1; y >= 0; y--) {
    const at = y * row;
    for (let i = 0; i < row; i++) {
      const v = gain * forward[at + i] + b1 * w1[i] + b2 * w2[i] + b3 * w3[i];
      data[at + i] = v;
      w3[i] = w2[i];
      w2[i] = w1[i];
      w1[i] = v;
    }
  }
}

function recursiveBlur(img: FloatImage, design: number): void {
  const { width: w, height: h, data } = img;
  const c = recursiveCoefficients(design);
  const line = scratchF64('blur-line', w);
  for (let y = 0; y < h; y++) for (let ch = 0; ch < 3; ch++) recursiveLine(data, y * w * 3 + ch, 3, w, c, line);
  recursiveColumns(img, c);
}

/** Standard deviation of the recursive filter's impulse response for design sigma `design`. */
function recursiveResponseStd(design: number): number {
  const n = 2 * Math.ceil(10 * design) + 1;
  const data = scratchF32('blur-impulse', n).fill(0);
  data[(n - 1) / 2] = 1;
  recursiveLine(data, 0, 1, n, recursiveCoefficients(design), scratchF64('blur-impulse-line', n));
  let mass = 0;
  let m1 = 0;
  let m2 = 0;
  for (let i = 0; i < n; i++) {
    mass += data[i];
    m1 += i * data[i];
    m2 += i * i * data[i];
  }
  const mean = m1 / mass;
  return Math.sqrt(m2 / mass - mean * mean);
}

/** The design sigma whose response has standard deviation `sigma` (≥ 1). */
function recursiveDesignSigma(sigma: number): number {
  let lo = 0.5 * sigma;
  let hi = sigma;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (recursiveResponseStd(mid) < sigma) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Below this factor a picture is not worth drawing at a lower resolution. */
export const MIN_DOWNSCALE = 1.001;

/**
 * Scales a picture drawn at 1/`factor` of the resolution back up to width×height, bilinearly
 * (clamped borders). Low-resolution pixel j is centred on full-resolution (j + 0.5)·factor − 0.5.
 * The result is a scratch buffer, valid until the next call.
 */
export function upsampleBilinear(small: FloatImage, width: number, height: number, factor: number): FloatImage {
  const { width: sw, height: sh, data: src } = small;
  const out = scratchF32('upsampled', width * height * 3);
  const offset = (factor - 1) / 2;
  for (let y = 0; y < height; y++) {
    const sy = Math.min(sh - 1, Math.max(0, (y - offset) / factor));
    const y0 = Math.floor(sy);
    const y1 = Math.min(sh - 1, y0 + 1);
    const ty = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(sw - 1, Math.max(0, (x - offset) / factor));
      const x0 = Math.floor(sx);
      const x1 = Math.min(sw - 1, x0 + 1);
      const tx = sx - x0;
      const o = (y * width + x) * 3;
      const p00 = (y0 * sw + x0) * 3;
      const p01 = (y0 * sw + x1) * 3;
      const p10 = (y1 * sw + x0) * 3;
      const p11 = (y1 * sw + x1) * 3;
      for (let c = 0; c < 3; c++) {
        const top = src[p00 + c] + (src[p01 + c] - src[p00 + c]) * tx;
        const bottom = src[p10 + c] + (src[p11 + c] - src[p10 + c]) * tx;
        out[o + c] = top + (bottom - top) * ty;
      }
    }
  }
  return { data: out, width, height };
}

/** 65,536 standard-normal values drawn once from a fixed seed: two per 32-bit draw afterwards. */
const NORMAL_TABLE = (() => {
  const rng = Random.stream(0x5eed, 'normal-table');
  return Float32Array.from({ length: 65536 }, () => rng.normal());
})();

/**
 * Adds luminance noise (std `std`) plus weaker per-channel colour noise. The per-pixel draws come
 * from a mulberry32 generator seeded by one draw of `rng` (fast enough for every pixel).
 */
export function addNoise(img: FloatImage, std: number, rng: Random): void {
  if (std <= 0) return;
  const d = img.data;
  const chroma = 0.35 * std;
  let state = rng.u32();
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  for (let i = 0; i < d.length; i += 3) {
    const u = next();
    const v = next();
    const lum = NORMAL_TABLE[u & 0xffff] * std;
    d[i] += lum + NORMAL_TABLE[u >>> 16] * chroma;
    d[i + 1] += lum + NORMAL_TABLE[v & 0xffff] * chroma;
    d[i + 2] += lum + NORMAL_TABLE[v >>> 16] * chroma;
  }
}

/** Rounds (half to even) and clips to bytes. */
export function toBytes(img: FloatImage): Uint8Array {
  const clamped = new Uint8ClampedArray(img.data.length);
  clamped.set(img.data);
  return new Uint8Array(clamped.buffer);
}
