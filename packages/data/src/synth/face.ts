/**
 * The procedural face: an identity is a fixed set of geometry and colours; an appearance adds what
 * changes from picture to picture (pose, expression, lighting, background, glasses on or off).
 * Coordinates are "model units": the 112×112 aligned frame, a frontal face roughly on the ArcFace
 * template. Pose is drawn with a little depth: features at depth z move by z·sin(yaw) when the head
 * turns, so a turned face looks turned after landmark alignment, as real aligned faces do.
 */
import { anyColour, hairColour, irisColour, mix, scaleColour, skinTone } from './colour';
import type { Random } from './random';
import type { Lighting, Rgb } from './raster';
import type { Point } from './similarity';

export const FACE_CENTRE_X = 56;

export interface FaceIdentity {
  head: { cy: number; rx: number; ry: number; chinTaper: number };
  skin: Rgb;
  lip: Rgb;
  hair: {
    colour: Rgb;
    style: 'bald' | 'short' | 'long' | 'volume';
    /** y of the top of the forehead. */
    hairline: number;
    /** Width of the face opening relative to the head. */
    opening: number;
    /** Sideways offset of the parting. */
    parting: number;
    /** Extra size of the hair mass beyond the head (x, y). */
    volume: readonly [number, number];
    sideburn: number;
  };
  eyes: { y: number; halfSpacing: number; rx: number; openness: number; tilt: number; iris: Rgb; irisRatio: number };
  brows: { gap: number; thickness: number; length: number; angle: number; arch: number; colour: Rgb };
  nose: { tipY: number; halfWidth: number; protrusion: number; shade: number };
  mouth: { y: number; halfWidth: number; upper: number; lower: number };
  ears: { rx: number; ry: number; y: number };
  facialHair: { moustache: boolean; beard: 'none' | 'goatee' | 'full'; stubble: number };
  glasses: { wearProbability: number; round: boolean; rx: number; ry: number; rim: number; colour: Rgb };
  marks: Array<{ x: number; y: number; r: number; colour: Rgb; opacity: number }>;
  blush: number;
}

/** What changes between pictures of one identity. */
export interface FaceAppearance {
  yaw: number;
  pitch: number;
  smile: number;
  mouthOpen: number;
  eyeOpen: number;
  browRaise: number;
  gaze: readonly [number, number];
  glasses: boolean;
  light: { azimuth: number; elevation: number; ambient: number; diffuse: number; tint: Rgb };
  background: { from: Rgb; to: Rgb; angle: number; blobs: Array<{ x: number; y: number; rx: number; ry: number; angle: number; colour: Rgb }> };
  clothing: Rgb;
}

export function sampleIdentity(rng: Random): FaceIdentity {
  const rx = rng.uniform(37, 42);
  const ry = rng.uniform(49, 55);
  const cy = rng.uniform(61, 67);
  const skin = skinTone(rng);
  // Hair colours pulled towards one dark brown, for the same reason as the skin tones.
  const hair = mix(hairColour(rng), [60, 42, 30], 0.5);
  const style = (['bald', 'short', 'long', 'volume'] as const)[rng.weighted([0.08, 0.5, 0.3, 0.12])];
  const eyeY = rng.uniform(49, 54);
  const halfSpacing = rng.uniform(14.5, 20.5);
  const marks: FaceIdentity['marks'] = [];
  // Small identity-specific marks: fine detail that blur, noise and low resolution take away.
  const moles = 2 + rng.weighted([0.3, 0.4, 0.3]);
  for (let i = 0; i < moles; i++) {
    marks.push({ x: FACE_CENTRE_X + rng.uniform(-24, 24), y: rng.uniform(eyeY + 6, cy + ry * 0.7), r: rng.uniform(1.2, 2.2), colour: scaleColour(skin, 0.35), opacity: 0.9 });
  }
  if (rng.chance(0.12)) {
    const n = rng.int(8, 16);
    for (let i = 0; i < n; i++) marks.push({ x: FACE_CENTRE_X + rng.uniform(-20, 20), y: rng.uniform(eyeY + 5, eyeY + 22), r: rng.uniform(0.5, 0.9), colour: mix(skin, [120, 60, 30], 0.5), opacity: 0.6 });
  }
  if (rng.chance(0.08)) {
    marks.push({ x: FACE_CENTRE_X + rng.pick([-1, 1]) * rng.uniform(10, 26), y: rng.uniform(eyeY + 8, cy + 30), r: rng.uniform(3, 6), colour: mix(skin, [150, 40, 50], 0.6), opacity: 0.4 });
  }
  const isMale = rng.chance(0.5);
  const beardRoll = isMale ? rng.weighted([0.6, 0.15, 0.25]) : 0;
  return {
    head: { cy, rx, ry, chinTaper: rng.uniform(0.05, 0.4) },
    skin,
    lip: mix(skin, [170, 60, 70], rng.uniform(0.25, 0.6)),
    hair: {
      colour: hair,
      style,
      hairline: rng.uniform(17, 33) + (style === 'bald' ? 0 : rng.chance(0.15) ? rng.uniform(5, 10) : 0),
      opening: rng.uniform(0.8, 0.95),
      parting: rng.uniform(-9, 9),
      volume: [rng.uniform(1, 7) + (style === 'volume' ? rng.uniform(6, 12) : 0), rng.uniform(-1, 6) + (style === 'volume' ? rng.uniform(5, 10) : 0)],
      sideburn: rng.uniform(0, 14),
    },
    eyes: { y: eyeY, halfSpacing, rx: rng.uniform(4.6, 7), openness: rng.uniform(0.42, 0.66), tilt: rng.uniform(-0.15, 0.15), iris: irisColour(rng), irisRatio: rng.uniform(0.75, 0.95) },
    brows: {
      gap: rng.uniform(6.5, 11.5),
      thickness: rng.uniform(0.9, 2.4),
      length: rng.uniform(10, 16),
      angle: rng.uniform(-0.22, 0.22),
      arch: rng.uniform(0, 3.5),
      colour: mix(hair, [30, 22, 16], rng.uniform(0.1, 0.6)),
    },
    nose: { tipY: rng.uniform(68, 76), halfWidth: rng.uniform(5, 9.5), protrusion: rng.uniform(6, 14), shade: rng.uniform(0.1, 0.3) },
    mouth: { y: rng.uniform(87, 96), halfWidth: rng.uniform(10.5, 17), upper: rng.uniform(1.6, 3.4), lower: rng.uniform(2.0, 4.6) },
    ears: { rx: rng.uniform(4, 7), ry: rng.uniform(8, 12.5), y: rng.uniform(58, 68) },
    facialHair: { moustache: isMale && rng.chance(0.2), beard: (['none', 'goatee', 'full'] as const)[beardRoll], stubble: isMale && rng.chance(0.25) ? rng.uniform(0.15, 0.4) : 0 },
    glasses: {
      wearProbability: rng.chance(0.2) ? rng.uniform(0.7, 1) : rng.chance(0.1) ? rng.uniform(0.1, 0.4) : 0,
      round: rng.chance(0.5),
      rx: rng.uniform(8.5, 12),
      ry: rng.uniform(6, 9),
      rim: rng.uniform(0.5, 1.3),
      colour: rng.chance(0.6) ? [rng.uniform(10, 50), rng.uniform(10, 40), rng.uniform(10, 40)] : anyColour(rng),
    },
    marks,
    blush: rng.chance(0.3) ? rng.uniform(0.08, 0.2) : 0,
  };
}

/** Pose, expression, lighting and background of one picture (video frames then jitter around it). */
export function sampleAppearance(rng: Random, identity: FaceIdentity): FaceAppearance {
  const deg = Math.PI / 180;
  return {
    yaw: rng.clippedNormal(0, 13, -32, 32) * deg,
    pitch: rng.clippedNormal(0, 7, -18, 18) * deg,
    smile: rng.chance(0.4) ? rng.uniform(0.2, 1) : rng.uniform(-0.2, 0.2),
    mouthOpen: rng.chance(0.25) ? rng.uniform(0.2, 1) : 0,
    eyeOpen: rng.chance(0.05) ? rng.uniform(0.05, 0.25) : rng.uniform(0.75, 1.1),
    browRaise: rng.uniform(-1.5, 2.5),
    gaze: [rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.2)],
    glasses: rng.chance(identity.glasses.wearProbability),
    light: {
      azimuth: rng.uniform(0, 2 * Math.PI),
      elevation: rng.uniform(0.3, 1.2),
      ambient: rng.uniform(0.55, 0.9),
      diffuse: rng.uniform(0.2, 0.5),
      // White balance varies between pictures, so that colour alone does not give an identity away.
      tint: [rng.uniform(0.78, 1.22), rng.uniform(0.92, 1.08), rng.uniform(0.78, 1.22)],
    },
    background: {
      from: anyColour(rng),
      to: anyColour(rng),
      angle: rng.uniform(0, 2 * Math.PI),
      blobs: Array.from({ length: rng.int(0, 3) }, () => ({
        x: rng.uniform(-10, 122),
        y: rng.uniform(-10, 122),
        rx: rng.uniform(8, 40),
        ry: rng.uniform(8, 40),
        angle: rng.uniform(0, Math.PI),
        colour: anyColour(rng),
      })),
    },
    clothing: anyColour(rng),
  };
}

/** A small change of an appearance (the next frame of a video). */
export function jitterAppearance(rng: Random, base: FaceAppearance, amount: number): FaceAppearance {
  const deg = Math.PI / 180;
  return {
    ...base,
    yaw: base.yaw + rng.normal(0, 2.5 * amount) * deg,
    pitch: base.pitch + rng.normal(0, 1.5 * amount) * deg,
    smile: base.smile + rng.normal(0, 0.08 * amount),
    mouthOpen: Math.max(0, base.mouthOpen + rng.normal(0, 0.1 * amount)),
    eyeOpen: rng.chance(0.03 * amount) ? 0.1 : Math.max(0.05, base.eyeOpen + rng.normal(0, 0.05 * amount)),
    browRaise: base.browRaise + rng.normal(0, 0.3 * amount),
    gaze: [base.gaze[0] + rng.normal(0, 0.05 * amount), base.gaze[1] + rng.normal(0, 0.05 * amount)],
  };
}

/** A point on the face surface, projected under the appearance's pose; `width` shrinks with turning. */
export interface Projected {
  x: number;
  y: number;
  /** Foreshortening of horizontal extents at this point, 0.2..1. */
  width: number;
}

export class FacePose {
  private readonly cosYaw: number;
  private readonly sinYaw: number;
  private readonly cosPitch: number;
  private readonly sinPitch: number;

  constructor(
    readonly identity: FaceIdentity,
    readonly appearance: FaceAppearance,
  ) {
    this.cosYaw = Math.cos(appearance.yaw);
    this.sinYaw = Math.sin(appearance.yaw);
    this.cosPitch = Math.cos(appearance.pitch);
    this.sinPitch = Math.sin(appearance.pitch);
  }

  /** Depth of the head surface (an ellipsoid as deep as it is wide) at a frontal point. */
  surfaceDepth(x: number, y: number): number {
    const h = this.identity.head;
    const nx = (x - FACE_CENTRE_X) / h.rx;
    const ny = (y - h.cy) / h.ry;
    return h.rx * Math.sqrt(Math.max(0, 1 - nx * nx - ny * ny));
  }

  /** Projects the frontal point (x, y) lifted by `extraDepth` above the surface. */
  project(x: number, y: number, extraDepth = 0, depthScale = 1): Projected {
    const h = this.identity.head;
    const lx = x - FACE_CENTRE_X;
    const ly = y - h.cy;
    const z = (this.surfaceDepth(x, y) * depthScale + extraDepth) * 0.9;
    const x1 = lx * this.cosYaw + z * this.sinYaw;
    const z1 = -lx * this.sinYaw + z * this.cosYaw;
    const y2 = ly * this.cosPitch - z1 * this.sinPitch;
    const phi = Math.atan2(lx, Math.max(z, 1e-6));
    const width = Math.max(0.2, Math.cos(phi + this.appearance.yaw) / Math.max(0.2, Math.cos(phi)));
    return { x: FACE_CENTRE_X + x1, y: h.cy + y2, width: Math.min(1, width) };
  }

  /** The five landmarks (eye centres, nose tip, mouth corners) in model units, ArcFace order. */
  landmarks(): [Point, Point, Point, Point, Point] {
    const id = this.identity;
    const a = this.appearance;
    const le = this.project(FACE_CENTRE_X - id.eyes.halfSpacing, id.eyes.y, -2);
    const re = this.project(FACE_CENTRE_X + id.eyes.halfSpacing, id.eyes.y, -2);
    const nose = this.project(FACE_CENTRE_X, id.nose.tipY, id.nose.protrusion);
    const corners = this.mouthCorners(a);
    return [
      [le.x, le.y],
      [re.x, re.y],
      [nose.x, nose.y],
      [corners.left.x, corners.left.y],
      [corners.right.x, corners.right.y],
    ];
  }

  mouthCorners(a: FaceAppearance): { left: Projected; right: Projected } {
    const m = this.identity.mouth;
    const hw = m.halfWidth * (1 + 0.08 * a.smile);
    const lift = 2.2 * a.smile;
    return { left: this.project(FACE_CENTRE_X - hw, m.y - lift, -1), right: this.project(FACE_CENTRE_X + hw, m.y - lift, -1) };
  }

  /** The lighting of this picture, in model units. */
  lighting(): Lighting {
    const l = this.appearance.light;
    const h = this.identity.head;
    const ce = Math.cos(l.elevation);
    return {
      centre: [FACE_CENTRE_X, h.cy],
      radii: [h.rx * 1.05, h.ry * 1.05],
      direction: [ce * Math.cos(l.azimuth), ce * Math.sin(l.azimuth), Math.sin(l.elevation)],
      ambient: l.ambient,
      diffuse: l.diffuse,
      tint: l.tint,
    };
  }
}
