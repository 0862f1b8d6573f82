/** Colour helpers for the drawn faces (0..255 RGB). */
import type { Random } from './random';
import type { Rgb } from './raster';

export function hsl(h: number, s: number, l: number): Rgb {
  const hue = ((h % 360) + 360) % 360;
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((hue / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] = hue < 60 ? [c, x, 0] : hue < 120 ? [x, c, 0] : hue < 180 ? [0, c, x] : hue < 240 ? [0, x, c] : hue < 300 ? [x, 0, c] : [c, 0, x];
  return [255 * (r + m), 255 * (g + m), 255 * (b + m)];
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function scaleColour(c: Rgb, k: number): Rgb {
  return [c[0] * k, c[1] * k, c[2] * k];
}

/** Skin tones along a dark-to-light axis with a warm/cool tint. */
export function skinTone(rng: Random): Rgb {
  const dark: Rgb = [72, 46, 32];
  const light: Rgb = [246, 214, 190];
  // A middle band of the axis: with a demo's few identities, flat colour alone must not tell them
  // apart (it survives blur and low resolution, which should take identity away).
  const base = mix(dark, light, 0.25 + 0.5 * Math.pow(rng.float(), 0.8));
  const warm = rng.uniform(-8, 8);
  return [base[0] + warm, base[1] + rng.uniform(-6, 6), base[2] - warm * 0.8];
}

/** Hair colours: black, browns, blond, red, grey/white. */
export function hairColour(rng: Random): Rgb {
  const kind = rng.weighted([0.3, 0.3, 0.15, 0.08, 0.1, 0.07]);
  switch (kind) {
    case 0:
      return hsl(rng.uniform(20, 40), rng.uniform(0.1, 0.3), rng.uniform(0.04, 0.12)); // black
    case 1:
      return hsl(rng.uniform(18, 35), rng.uniform(0.3, 0.6), rng.uniform(0.14, 0.32)); // brown
    case 2:
      return hsl(rng.uniform(38, 50), rng.uniform(0.4, 0.7), rng.uniform(0.5, 0.72)); // blond
    case 3:
      return hsl(rng.uniform(8, 22), rng.uniform(0.55, 0.8), rng.uniform(0.3, 0.45)); // red
    case 4:
      return hsl(rng.uniform(20, 40), rng.uniform(0.0, 0.1), rng.uniform(0.45, 0.8)); // grey
    default:
      return hsl(rng.uniform(200, 340), rng.uniform(0.4, 0.7), rng.uniform(0.35, 0.6)); // dyed
  }
}

export function irisColour(rng: Random): Rgb {
  const kind = rng.weighted([0.45, 0.2, 0.15, 0.1, 0.1]);
  switch (kind) {
    case 0:
      return hsl(rng.uniform(20, 35), rng.uniform(0.4, 0.7), rng.uniform(0.12, 0.28)); // brown
    case 1:
      return hsl(rng.uniform(195, 220), rng.uniform(0.4, 0.7), rng.uniform(0.35, 0.55)); // blue
    case 2:
      return hsl(rng.uniform(90, 140), rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.45)); // green
    case 3:
      return hsl(rng.uniform(30, 50), rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.45)); // hazel
    default:
      return hsl(rng.uniform(200, 220), rng.uniform(0.05, 0.15), rng.uniform(0.4, 0.6)); // grey
  }
}

/** Any saturated or neutral colour (backgrounds, clothing, occluders). */
export function anyColour(rng: Random): Rgb {
  return rng.chance(0.3) ? hsl(0, 0, rng.uniform(0.1, 0.9)) : hsl(rng.uniform(0, 360), rng.uniform(0.2, 0.9), rng.uniform(0.15, 0.8));
}
