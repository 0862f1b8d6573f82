/**
 * Plain float64 JavaScript forwards and central finite differences, the independent reference for
 * the training tests.
 */
import { seededNormal } from '../src/backbone';

export type Arr = Float64Array;
export const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

export function randArr(shape: number[], seed: number): Arr {
  const normal = seededNormal(seed);
  return Float64Array.from({ length: size(shape) }, () => normal());
}

/** NHWC conv, HWIO filter, symmetric zero padding. */
export function convRef(x: Arr, [B, H, W, I]: number[], w: Arr, k: number, O: number, stride: number, pad: number): { y: Arr; shape: number[] } {
  const h = Math.floor((H + 2 * pad - k) / stride) + 1;
  const ww = Math.floor((W + 2 * pad - k) / stride) + 1;
  const y = new Float64Array(B * h * ww * O);
  for (let b = 0; b < B; b++)
    for (let oy = 0; oy < h; oy++)
      for (let ox = 0; ox < ww; ox++)
        for (let o = 0; o < O; o++) {
          let acc = 0;
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const iy = oy * stride + ky - pad;
              const ix = ox * stride + kx - pad;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              for (let i = 0; i < I; i++) acc += x[((b * H + iy) * W + ix) * I + i] * w[((ky * k + kx) * I + i) * O + o];
            }
          y[((b * h + oy) * ww + ox) * O + o] = acc;
        }
  return { y, shape: [B, h, ww, O] };
}

/** Training-mode BatchNorm over all axes but the last. */
export function bnRef(x: Arr, C: number, g?: Arr, b?: Arr): { y: Arr; mean: Arr; variance: Arr } {
  const n = x.length / C;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let i = 0; i < x.length; i++) mean[i % C] += x[i] / n;
  for (let i = 0; i < x.length; i++) variance[i % C] += (x[i] - mean[i % C]) ** 2 / n;
  const y = x.map((v, i) => {
    const c = i % C;
    const z = (v - mean[c]) / Math.sqrt(variance[c] + 1e-5);
    return g && b ? z * g[c] + b[c] : z;
  });
  return { y, mean, variance };
}

export const dot = (a: Arr, r: Arr) => a.reduce((s, v, i) => s + v * r[i], 0);

/** Central differences of f at `at` (modified in place and restored). */
export function numericGrad(f: () => number, at: Arr, h = 1e-5): Float32Array {
  const g = new Float32Array(at.length);
  for (let i = 0; i < at.length; i++) {
    const v = at[i];
    at[i] = v + h;
    const up = f();
    at[i] = v - h;
    const down = f();
    at[i] = v;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

