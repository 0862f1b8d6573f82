/**
 * Image degradations of known severity and the ground-truth quality derived from them.
 *
 * Each severity is in [0, 1]; at 1 the degradation removes most identity detail from a 112×112
 * aligned face. Units below are aligned-crop pixels; a loose crop drawn at `pixelScale` pixels per
 * aligned pixel scales them so that the aligned result is degraded the same way.
 */
import { anyColour, mix, skinTone } from './colour';
import { FACE_CENTRE_X, type FaceIdentity } from './face';
import type { Random } from './random';
import { capsule, ellipse, roundedBox, type Shape } from './raster';
import { innerFaceShape, occludedFraction, type Occluder } from './scene';

export const DEGRADATIONS = ['blur', 'noise', 'downscale', 'occlusion', 'exposure', 'compression'] as const;
export type DegradationName = (typeof DEGRADATIONS)[number];

export type Severity = Record<DegradationName, number>;

/** Over (+1) or under (−1) exposure. */
export interface DegradationSpec {
  severity: Severity;
  exposureSign: 1 | -1;
}

/**
 * How much each degradation at severity 1 takes from the quality (product form below): the quality
 * follows what takes identity away. Compression and occlusion weigh little: at the demo backbone's
 * input resolution (area-averaged to 56 px) even JPEG quality 6 leaves identity about as
 * recognisable as a clean picture, and so does a muted occluder over half the inner face (measured:
 * the identity margin of a trained demo backbone does not fall with their severity; occluded faces
 * also get feature norms at or above clean ones).
 */
export const QUALITY_WEIGHTS: Readonly<Severity> = { blur: 0.8, noise: 0.7, downscale: 0.8, occlusion: 0.1, exposure: 0.7, compression: 0.1 };

/** Ground-truth quality: Π (1 − w_k · severity_k), in [0, 1]. */
export function qualityOf(severity: Severity): number {
  let q = 1;
  for (const k of DEGRADATIONS) q *= 1 - QUALITY_WEIGHTS[k] * severity[k];
  return q;
}

/** Physical parameters of each severity, in aligned pixels. */
export const BLUR_SIGMA_AT_1 = 10;
export const NOISE_STD_AT_1 = 55;
/**
 * Down-scaling factor is 1 + DOWNSCALE_AT_1 · severity (112 px → 9 px at 1). Blur and low
 * resolution reach far enough that the worst pictures keep only a face-coloured blob: a network's
 * feature norm then falls with them (measured on the demo backbone: stronger extremes raised the
 * held-out norm–quality Spearman correlation from about 0.16 to 0.36).
 */
export const DOWNSCALE_AT_1 = 11;
/** log2 of the exposure gain at severity 1. */
export const EXPOSURE_STOPS_AT_1 = 2;
/** Share of the inner face covered at occlusion severity 1. */
export const OCCLUSION_AT_1 = 0.55;
export const JPEG_QUALITY_AT_0 = 95;
export const JPEG_QUALITY_AT_1 = 6;

export function jpegQualityOf(compression: number): number {
  return Math.round(JPEG_QUALITY_AT_0 + (JPEG_QUALITY_AT_1 - JPEG_QUALITY_AT_0) * compression);
}

/** Every severity 0. */
export const NO_DEGRADATION: Readonly<Severity> = Object.freeze({ blur: 0, noise: 0, downscale: 0, occlusion: 0, exposure: 0, compression: 0 });

function zeroSeverity(): Severity {
  return { ...NO_DEGRADATION };
}

/** A clean picture: only the mild blur, noise and compression every camera adds. */
export function sampleCleanSeverity(rng: Random): DegradationSpec {
  const s = zeroSeverity();
  s.blur = rng.uniform(0, 0.08);
  s.noise = rng.uniform(0, 0.08);
  s.compression = rng.uniform(0, 0.15);
  return { severity: s, exposureSign: rng.chance(0.5) ? 1 : -1 };
}

/**
 * A mix of pictures: by default (the benchmark's stills) 40% clean, else one to three degradations
 * at uniform severity in [minSeverity, 1].
 */
export interface SeverityMix {
  /** Share of clean pictures. */
  cleanShare?: number;
  /** Lowest severity of an active degradation. */
  minSeverity?: number;
  /** Relative frequency of 1, 2, 3 active degradations. */
  activeWeights?: readonly [number, number, number];
  /** Relative frequency of each degradation. */
  weights?: Partial<Severity>;
}

export function sampleSeverity(rng: Random, options: SeverityMix = {}): DegradationSpec {
  const spec = sampleCleanSeverity(rng);
  if (rng.chance(options.cleanShare ?? 0.4)) return spec;
  const w = { blur: 0.25, downscale: 0.2, noise: 0.18, occlusion: 0.12, exposure: 0.14, compression: 0.11, ...options.weights };
  const active = 1 + rng.weighted(options.activeWeights ?? [0.6, 0.3, 0.1]);
  const names = [...DEGRADATIONS];
  const weights = names.map((n) => w[n]);
  const lo = options.minSeverity ?? 0.1;
  for (let i = 0; i < active; i++) {
    const k = rng.weighted(weights);
    spec.severity[names[k]] = Math.max(spec.severity[names[k]], rng.uniform(lo, 1));
    weights[k] = 0;
    if (weights.every((x) => x === 0)) break;
  }
  return spec;
}

/** The next video frame: the same degradations, slightly varied. */
export function jitterSeverity(rng: Random, base: DegradationSpec, amount: number): DegradationSpec {
  const s = { ...base.severity };
  for (const k of DEGRADATIONS) if (s[k] > 0) s[k] = Math.min(1, Math.max(0, s[k] + rng.normal(0, amount)));
  return { severity: s, exposureSign: base.exposureSign };
}

/* ----------------------------------------------------------------- occlusion */

type OccluderKind = 'bar' | 'hand' | 'mask' | 'sunglasses' | 'hat';

/** Unscaled description of an occluder; `build(scale)` gives its shapes. */
export interface OccluderPlan {
  kind: OccluderKind;
  build(scale: number): Occluder;
}

export function planOccluder(rng: Random, id: FaceIdentity): OccluderPlan {
  const kind = (['bar', 'hand', 'mask', 'sunglasses', 'hat'] as const)[rng.weighted([0.3, 0.25, 0.2, 0.15, 0.1])];
  const inner = innerFaceShape(id).bounds;
  const cx = rng.uniform(inner[0] + 6, inner[2] - 6);
  const cy = rng.uniform(inner[1] + 6, inner[3] - 6);
  const angle = rng.uniform(-0.6, 0.6);
  // Muted colours: an occluder hides the face; a vivid patch would also be an outlier input that a
  // briefly trained network answers with large features (high norm) instead of uncertainty.
  const colour = kind === 'hand' ? skinTone(rng) : mix(anyColour(rng), [128, 128, 128], 0.5);
  const solid = { colour, lit: kind === 'hand' };
  switch (kind) {
    case 'bar': {
      const aspect = rng.uniform(0.25, 0.8);
      return { kind, build: (s) => ({ parts: [{ shape: roundedBox(cx, cy, 14 * s, 14 * s * aspect, 3 * s, angle), paint: solid }] }) };
    }
    case 'hand': {
      const side = rng.chance(0.5) ? -1 : 1;
      return {
        kind,
        build: (s) => {
          const px = cx + side * 4 * s;
          const parts: Shape[] = [ellipse(px, cy + 6 * s, 9 * s, 11 * s, angle)];
          for (let f = 0; f < 4; f++) {
            const fx = px - 6 * s + f * 4 * s;
            parts.push(capsule(fx, cy, fx - side * 3 * s, cy - (12 + (f === 1 || f === 2 ? 3 : 0)) * s, 1.8 * s));
          }
          return { parts: parts.map((shape) => ({ shape, paint: solid })) };
        },
      };
    }
    case 'mask': {
      const top = id.nose.tipY - rng.uniform(6, 12);
      return { kind, build: (s) => ({ parts: [{ shape: roundedBox(FACE_CENTRE_X + (cx - FACE_CENTRE_X) * 0.2, top + 12 * s, 26 * Math.min(s, 1.4), 12 * s, 6), paint: solid }] }) };
    }
    case 'sunglasses': {
      const dark = { colour: [rng.uniform(5, 40), rng.uniform(5, 40), rng.uniform(5, 40)] as const };
      return {
        kind,
        build: (s) => ({
          parts: [-1, 1].map((side) => ({ shape: ellipse(FACE_CENTRE_X + side * id.eyes.halfSpacing, id.eyes.y + 1 + (s - 1) * 4, 9 * s, 6.5 * s), paint: dark })),
        }),
      };
    }
    case 'hat':
      return { kind, build: (s) => ({ parts: [{ shape: roundedBox(FACE_CENTRE_X, id.eyes.y - 14 + 10 * s, 60, 14 * s, 3, angle * 0.1), paint: solid }] }) };
  }
}

/**
 * Scales the planned occluder (bisection) until it covers `OCCLUSION_AT_1 · severity` of the inner
 * face; returns it with the severity it actually reaches (the ground truth).
 */
export function fitOccluder(plan: OccluderPlan, id: FaceIdentity, severity: number): { occluder: Occluder; severity: number } {
  const target = OCCLUSION_AT_1 * severity;
  let lo = 0.05;
  let hi = 8;
  for (let i = 0; i < 16; i++) {
    const mid = (lo + hi) / 2;
    if (occludedFraction(id, plan.build(mid), 20) < target) lo = mid;
    else hi = mid;
  }
  const occluder = plan.build(hi);
  return { occluder, severity: Math.min(1, occludedFraction(id, occluder, 20) / OCCLUSION_AT_1) };
}
