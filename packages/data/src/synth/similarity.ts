/**
 * 2-D similarity transforms (rotation, uniform scale, translation) for placing drawn faces: the
 * training crops use the transform that maps the face's five landmarks onto the ArcFace template,
 * the IJB loose crops a random one, so that aligning their landmarks recovers the training framing.
 */
import { ARCFACE_TEMPLATE_112, estimateSimilarity as estimateAffine } from '../align';

/** x' = a·x − b·y + tx, y' = b·x + a·y + ty (a = s·cos θ, b = s·sin θ). */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

export type Point = readonly [number, number];

export function applySimilarity(t: Similarity, p: Point): [number, number] {
  return [t.a * p[0] - t.b * p[1] + t.tx, t.b * p[0] + t.a * p[1] + t.ty];
}

export function invertSimilarity(t: Similarity): Similarity {
  const d = t.a * t.a + t.b * t.b;
  const a = t.a / d;
  const b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/** `outer ∘ inner`: first `inner`, then `outer`. */
export function composeSimilarity(outer: Similarity, inner: Similarity): Similarity {
  return {
    a: outer.a * inner.a - outer.b * inner.b,
    b: outer.b * inner.a + outer.a * inner.b,
    tx: outer.a * inner.tx - outer.b * inner.ty + outer.tx,
    ty: outer.b * inner.tx + outer.a * inner.ty + outer.ty,
  };
}

export function similarityScale(t: Similarity): number {
  return Math.hypot(t.a, t.b);
}

export function similarityFromParts(scale: number, rotationRad: number, tx: number, ty: number): Similarity {
  return { a: scale * Math.cos(rotationRad), b: scale * Math.sin(rotationRad), tx, ty };
}

/** Least-squares similarity mapping five (or more) `src` points onto `dst` (the alignment's estimate). */
export function estimateSimilarity(src: readonly Point[], dst: readonly Point[]): Similarity {
  const m = estimateAffine(src.flat(), dst.flat());
  return { a: m[0], b: m[3], tx: m[2], ty: m[5] };
}

/** The ArcFace template as points. */
export const ARCFACE_POINTS: readonly Point[] = [0, 1, 2, 3, 4].map((i) => [ARCFACE_TEMPLATE_112[2 * i], ARCFACE_TEMPLATE_112[2 * i + 1]] as const);
