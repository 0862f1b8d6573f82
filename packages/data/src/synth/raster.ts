/**
 * A tiny anti-aliased vector painter: shapes are signed-distance functions in "model" coordinates
 * (the 112×112 aligned-face frame), painted back to front onto a float RGB canvas through a
 * similarity transform (model → pixel). Pixel (x, y) samples the model point that maps to the
 * integer coordinates (x, y), the convention of OpenCV's warpAffine that the IJB alignment uses.
 */
import { scratchF32, scratchF64, scratchU8 } from './scratch';
import { invertSimilarity, similarityScale, type Similarity } from './similarity';

export type Rgb = readonly [number, number, number];

/** A signed distance (negative inside) in model units, with its model-space bounding box. */
export interface Shape {
  sdf(x: number, y: number): number;
  /**
   * The distance at n points (x0 + i·dx, y0 + i·dy) into out[0..n): one call per pixel run, so the
   * painter's per-pixel work is a tight loop rather than a call through the Shape interface.
   */
  sdfRow(x0: number, y0: number, dx: number, dy: number, n: number, out: Float64Array): void;
  /** [minX, minY, maxX, maxY] in model units; nothing outside is covered. */
  bounds: readonly [number, number, number, number];
}

/** A shape from its point distance alone (the row form loops over it). */
export function shapeFromSdf(bounds: Shape['bounds'], sdf: (x: number, y: number) => number): Shape {
  return {
    bounds,
    sdf,
    sdfRow(x0, y0, dx, dy, n, out) {
      for (let i = 0; i < n; i++) out[i] = sdf(x0 + i * dx, y0 + i * dy);
    },
  };
}

/** A growable per-shape temporary row. */
function rowBuffer(): (n: number) => Float64Array {
  let buf = new Float64Array(0);
  return (n) => {
    if (buf.length < n) buf = new Float64Array(Math.max(n, 256));
    return buf;
  };
}

/** Lighting of the face: brightness multiplier from the normal of an ellipsoid around the head. */
export interface Lighting {
  centre: readonly [number, number];
  radii: readonly [number, number];
  /** Unit direction towards the light, z towards the camera. */
  direction: readonly [number, number, number];
  ambient: number;
  diffuse: number;
  /** Per-channel multipliers (colour temperature). */
  tint: Rgb;
}

export interface Paint {
  colour: Rgb;
  /** 0..1. */
  opacity?: number;
  /** Edge width in model units beyond the pixel footprint (soft shading shapes). */
  softness?: number;
  /** Multiply by the face lighting. */
  lit?: boolean;
}

const BLOCK = 4;
const SKIP = 0;
const INSIDE = 1;
const EDGE = 2;
/** Largest distance from a block's centre to one of its pixels. */
const BLOCK_HALF_DIAGONAL = ((BLOCK - 1) / 2) * Math.SQRT2;

export class Canvas {
  /** [height, width, 3]; a scratch buffer, valid until the next Canvas is made. */
  readonly data: Float32Array;
  /** Lighting multiplier per pixel, computed on the first lit fill. */
  private lightMap: Float32Array | undefined;
  private readonly toModel: Similarity;
  /** Pixels per model unit. */
  readonly scale: number;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly modelToPixel: Similarity,
    private readonly lighting?: Lighting,
  ) {
    this.data = scratchF32('canvas', width * height * 3);
    this.toModel = invertSimilarity(modelToPixel);
    this.scale = similarityScale(modelToPixel);
  }

  /** Fills the whole canvas with a linear gradient from `from` to `to` along `angle` (radians). */
  gradient(from: Rgb, to: Rgb, angle: number): void {
    const ux = Math.cos(angle);
    const uy = Math.sin(angle);
    const half = 0.5 * (Math.abs(ux) * this.width + Math.abs(uy) * this.height) || 1;
    const cx = this.width / 2;
    const cy = this.height / 2;
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        const t = Math.min(1, Math.max(0, 0.5 + (0.5 * ((x - cx) * ux + (y - cy) * uy)) / half));
        const o = (y * this.width + x) * 3;
        this.data[o] = from[0] + (to[0] - from[0]) * t;
        this.data[o + 1] = from[1] + (to[1] - from[1]) * t;
        this.data[o + 2] = from[2] + (to[2] - from[2]) * t;
      }
    }
  }

  /**
   * Paints `shape` with `paint` over what is already there. Works in bands of 4 pixel rows split
   * into 4×4 blocks: a block whose centre is far enough inside or outside the shape (distance
   * estimates of our shapes are within a factor 2 of the true distance) is filled or skipped
   * whole; runs of blocks near an edge are evaluated per pixel, one row call per run.
   */
  fill(shape: Shape, paint: Paint): void {
    const [x0, y0, x1, y1] = this.pixelBounds(shape.bounds);
    if (x0 > x1 || y0 > y1) return;
    const inv = this.toModel;
    const opacity = paint.opacity ?? 1;
    const edge = Math.max(1, (paint.softness ?? 0) * this.scale);
    const perModel = this.scale / edge;
    const decided = (2 * BLOCK_HALF_DIAGONAL) / edge + 0.5;
    const blocks = Math.ceil((x1 - x0 + 1) / BLOCK);
    const centres = scratchF64('fill-centres', blocks);
    const state = scratchU8('fill-state', blocks);
    const distances = scratchF64('fill-row', x1 - x0 + 1);
    const light = paint.lit && this.lighting ? this.lighting : undefined;
    const lightMap = light ? this.litMap(light) : undefined;
    const [r, g, b] = paint.colour;
    const tr = light ? r * light.tint[0] : r;
    const tg = light ? g * light.tint[1] : g;
    const tb = light ? b * light.tint[2] : b;
    const data = this.data;
    const width = this.width;
    const blend = (px: number, py: number, alpha: number): void => {
      const k = lightMap ? lightMap[py * width + px] : 1;
      const o = (py * width + px) * 3;
      data[o] += (tr * k - data[o]) * alpha;
      data[o + 1] += (tg * k - data[o + 1]) * alpha;
      data[o + 2] += (tb * k - data[o + 2]) * alpha;
    };
    for (let by = y0; by <= y1; by += BLOCK) {
      const cx = x0 + (BLOCK - 1) / 2;
      const cy = by + (BLOCK - 1) / 2;
      shape.sdfRow(inv.a * cx - inv.b * cy + inv.tx, inv.b * cx + inv.a * cy + inv.ty, BLOCK * inv.a, BLOCK * inv.b, blocks, centres);
      let any = false;
      for (let k = 0; k < blocks; k++) {
        const d = centres[k] * perModel;
        state[k] = d >= decided ? SKIP : d <= -decided ? INSIDE : EDGE;
        any ||= state[k] !== SKIP;
      }
      if (!any) continue;
      const rowEnd = Math.min(by + BLOCK - 1, y1);
      for (let py = by; py <= rowEnd; py++) {
        let k = 0;
        while (k < blocks) {
          if (state[k] === SKIP) {
            k++;
            continue;
          }
          const start = x0 + k * BLOCK;
          if (state[k] === INSIDE) {
            const end = Math.min(start + BLOCK - 1, x1);
            for (let px = start; px <= end; px++) blend(px, py, opacity);
            k++;
            continue;
          }
          let e = k;
          while (e < blocks && state[e] === EDGE) e++;
          const end = Math.min(x0 + e * BLOCK - 1, x1);
          const n = end - start + 1;
          shape.sdfRow(inv.a * start - inv.b * py + inv.tx, inv.b * start + inv.a * py + inv.ty, inv.a, inv.b, n, distances);
          for (let i = 0; i < n; i++) {
            const coverage = 0.5 - distances[i] * perModel;
            if (coverage > 0) blend(start + i, py, coverage < 1 ? coverage * opacity : opacity);
          }
          k = e;
        }
      }
    }
  }

  private litMap(light: Lighting): Float32Array {
    if (!this.lightMap) {
      const map = scratchF32('canvas-light', this.width * this.height);
      const inv = this.toModel;
      for (let py = 0; py < this.height; py++) {
        for (let px = 0; px < this.width; px++) map[py * this.width + px] = brightness(light, inv.a * px - inv.b * py + inv.tx, inv.b * px + inv.a * py + inv.ty);
      }
      this.lightMap = map;
    }
    return this.lightMap;
  }

  /** Pixel rectangle (inclusive) covering a model-space box, clipped to the canvas. */
  private pixelBounds(b: readonly [number, number, number, number]): [number, number, number, number] {
    const t = this.modelToPixel;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const [x, y] of [
      [b[0], b[1]],
      [b[2], b[1]],
      [b[0], b[3]],
      [b[2], b[3]],
    ]) {
      const px = t.a * x - t.b * y + t.tx;
      const py = t.b * x + t.a * y + t.ty;
      if (px < minX) minX = px;
      if (px > maxX) maxX = px;
      if (py < minY) minY = py;
      if (py > maxY) maxY = py;
    }
    return [Math.max(0, Math.floor(minX) - 1), Math.max(0, Math.floor(minY) - 1), Math.min(this.width - 1, Math.ceil(maxX) + 1), Math.min(this.height - 1, Math.ceil(maxY) + 1)];
  }
}

function brightness(l: Lighting, x: number, y: number): number {
  let nx = (x - l.centre[0]) / l.radii[0];
  let ny = (y - l.centre[1]) / l.radii[1];
  const r2 = nx * nx + ny * ny;
  if (r2 > 0.95) {
    const s = Math.sqrt(0.95 / r2);
    nx *= s;
    ny *= s;
  }
  const nz = Math.sqrt(Math.max(0, 1 - nx * nx - ny * ny));
  const lambert = nx * l.direction[0] + ny * l.direction[1] + nz * l.direction[2];
  return l.ambient + l.diffuse * (lambert > 0 ? lambert : 0);
}

/* ---------------------------------------------------------------- shapes */

/** Ellipse with semi-axes rx, ry rotated by `angle`; distance from Quilez's first-order estimate. */
export function ellipse(cx: number, cy: number, rx: number, ry: number, angle = 0): Shape {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const rmin = Math.min(rx, ry);
  const ex = Math.abs(rx * c) + Math.abs(ry * s);
  const ey = Math.abs(rx * s) + Math.abs(ry * c);
  const irx = 1 / rx;
  const iry = 1 / ry;
  const at = (x: number, y: number): number => {
    const dx = x - cx;
    const dy = y - cy;
    const ax = (dx * c + dy * s) * irx;
    const ay = (-dx * s + dy * c) * iry;
    const k0 = Math.sqrt(ax * ax + ay * ay);
    const bx = ax * irx;
    const by = ay * iry;
    const k1 = Math.sqrt(bx * bx + by * by);
    return k1 > 1e-9 ? (k0 * (k0 - 1)) / k1 : -rmin;
  };
  return {
    bounds: [cx - ex, cy - ey, cx + ex, cy + ey],
    sdf: at,
    sdfRow(x0, y0, dx, dy, n, out) {
      for (let i = 0; i < n; i++) out[i] = at(x0 + i * dx, y0 + i * dy);
    },
  };
}

/** Segment from a to b whose radius goes linearly from ra to rb (brows, lines, arms of glasses). */
export function capsule(ax: number, ay: number, bx: number, by: number, ra: number, rb = ra): Shape {
  const vx = bx - ax;
  const vy = by - ay;
  const len2 = vx * vx + vy * vy || 1e-12;
  const r = Math.max(ra, rb);
  const at = (x: number, y: number): number => {
    const px = x - ax;
    const py = y - ay;
    let h = (px * vx + py * vy) / len2;
    h = h < 0 ? 0 : h > 1 ? 1 : h;
    const qx = px - vx * h;
    const qy = py - vy * h;
    return Math.sqrt(qx * qx + qy * qy) - (ra + (rb - ra) * h);
  };
  return {
    bounds: [Math.min(ax, bx) - r, Math.min(ay, by) - r, Math.max(ax, bx) + r, Math.max(ay, by) + r],
    sdf: at,
    sdfRow(x0, y0, dx, dy, n, out) {
      for (let i = 0; i < n; i++) out[i] = at(x0 + i * dx, y0 + i * dy);
    },
  };
}

/** Box with half sizes hw, hh, corner radius, rotated by `angle`. */
export function roundedBox(cx: number, cy: number, hw: number, hh: number, radius: number, angle = 0): Shape {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const ex = Math.abs(hw * c) + Math.abs(hh * s);
  const ey = Math.abs(hw * s) + Math.abs(hh * c);
  const rr = Math.min(radius, hw, hh);
  const at = (x: number, y: number): number => {
    const dx = x - cx;
    const dy = y - cy;
    const qx = Math.abs(dx * c + dy * s) - hw + rr;
    const qy = Math.abs(-dx * s + dy * c) - hh + rr;
    const ox = qx > 0 ? qx : 0;
    const oy = qy > 0 ? qy : 0;
    return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0) - rr;
  };
  return {
    bounds: [cx - ex, cy - ey, cx + ex, cy + ey],
    sdf: at,
    sdfRow(x0, y0, dx, dy, n, out) {
      for (let i = 0; i < n; i++) out[i] = at(x0 + i * dx, y0 + i * dy);
    },
  };
}

/**
 * Beyond this distance (model units) outside a shape nothing is painted, even with soft edges, so
 * combinations stop evaluating their other parts there.
 */
const FAR_OUTSIDE = 6;

function overlap(shapes: readonly Shape[]): [number, number, number, number] {
  return [Math.max(...shapes.map((s) => s.bounds[0])), Math.max(...shapes.map((s) => s.bounds[1])), Math.min(...shapes.map((s) => s.bounds[2])), Math.min(...shapes.map((s) => s.bounds[3]))];
}

/** Points inside every shape. */
export function intersect(first: Shape, ...rest: Shape[]): Shape {
  const tmp = rowBuffer();
  return {
    bounds: overlap([first, ...rest]),
    sdf(x, y) {
      let d = first.sdf(x, y);
      if (d > FAR_OUTSIDE) return d;
      for (const s of rest) {
        const e = s.sdf(x, y);
        if (e > d) d = e;
      }
      return d;
    },
    sdfRow(x0, y0, dx, dy, n, out) {
      first.sdfRow(x0, y0, dx, dy, n, out);
      const t = tmp(n);
      for (const s of rest) {
        s.sdfRow(x0, y0, dx, dy, n, t);
        for (let i = 0; i < n; i++) if (t[i] > out[i]) out[i] = t[i];
      }
    },
  };
}

/** Points inside `base` and outside every cut. */
export function subtract(base: Shape, ...cuts: Shape[]): Shape {
  const tmp = rowBuffer();
  return {
    bounds: base.bounds,
    sdf(x, y) {
      let d = base.sdf(x, y);
      if (d > FAR_OUTSIDE) return d;
      for (const s of cuts) {
        const e = -s.sdf(x, y);
        if (e > d) d = e;
      }
      return d;
    },
    sdfRow(x0, y0, dx, dy, n, out) {
      base.sdfRow(x0, y0, dx, dy, n, out);
      const t = tmp(n);
      for (const s of cuts) {
        s.sdfRow(x0, y0, dx, dy, n, t);
        for (let i = 0; i < n; i++) if (-t[i] > out[i]) out[i] = -t[i];
      }
    },
  };
}

export function union(...shapes: Shape[]): Shape {
  const tmp = rowBuffer();
  return {
    bounds: [Math.min(...shapes.map((s) => s.bounds[0])), Math.min(...shapes.map((s) => s.bounds[1])), Math.max(...shapes.map((s) => s.bounds[2])), Math.max(...shapes.map((s) => s.bounds[3]))],
    sdf(x, y) {
      let d = Infinity;
      for (const s of shapes) {
        const e = s.sdf(x, y);
        if (e < d) d = e;
      }
      return d;
    },
    sdfRow(x0, y0, dx, dy, n, out) {
      shapes[0].sdfRow(x0, y0, dx, dy, n, out);
      const t = tmp(n);
      for (let k = 1; k < shapes.length; k++) {
        shapes[k].sdfRow(x0, y0, dx, dy, n, t);
        for (let i = 0; i < n; i++) if (t[i] < out[i]) out[i] = t[i];
      }
    },
  };
}

/** The band of width 2·halfWidth around the outline of `shape` (rims of glasses). */
export function outline(shape: Shape, halfWidth: number): Shape {
  const [a, b, c, d] = shape.bounds;
  return {
    bounds: [a - halfWidth, b - halfWidth, c + halfWidth, d + halfWidth],
    sdf: (x, y) => Math.abs(shape.sdf(x, y)) - halfWidth,
    sdfRow(x0, y0, dx, dy, n, out) {
      shape.sdfRow(x0, y0, dx, dy, n, out);
      for (let i = 0; i < n; i++) out[i] = Math.abs(out[i]) - halfWidth;
    },
  };
}

/** The half-plane y ≤ limit (or ≥ when `below`), used to cut shapes horizontally. */
export function halfPlaneY(limit: number, below = false): Shape {
  return shapeFromSdf([-1e4, below ? limit : -1e4, 1e4, below ? 1e4 : limit], below ? (_x, y) => limit - y : (_x, y) => y - limit);
}
