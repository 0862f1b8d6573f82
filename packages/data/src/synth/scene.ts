/**
 * Paints a posed face (and an optional occluder) onto a canvas, back to front: background, hair
 * mass, ears, neck and clothes, head, blush and marks, beard, eyes, brows, nose, mouth, moustache,
 * front hair, glasses, occluder.
 */
import { mix, scaleColour } from './colour';
import { FACE_CENTRE_X, FacePose, type FaceIdentity } from './face';
import { capsule, ellipse, halfPlaneY, intersect, outline, roundedBox, shapeFromSdf, subtract, union, type Canvas, type Paint, type Shape } from './raster';

/** Shapes (in model units) and their paints; the occluder of an image. */
export interface Occluder {
  parts: Array<{ shape: Shape; paint: Paint }>;
}

/** The head outline: an ellipse whose lower half narrows towards the chin. */
export function headShape(id: FaceIdentity): Shape {
  const { cy, rx, ry, chinTaper } = id.head;
  const cx = FACE_CENTRE_X;
  const base = ellipse(cx, cy, rx, ry);
  return shapeFromSdf(base.bounds, (x, y) => {
    const t = (y - cy) / ry;
    const narrowing = t > 0 ? 1 - chinTaper * t * t : 1;
    return base.sdf(cx + (x - cx) / narrowing, y) * (narrowing < 1 ? 0.5 + 0.5 * narrowing : 1);
  });
}

/** The inner face (eyes to chin) over which occlusion is measured. */
export function innerFaceShape(id: FaceIdentity): Shape {
  const top = id.eyes.y - 10;
  const bottom = id.mouth.y + 10;
  return ellipse(FACE_CENTRE_X, (top + bottom) / 2, id.eyes.halfSpacing + 13, (bottom - top) / 2);
}

export function paintBackground(canvas: Canvas, pose: FacePose): void {
  const bg = pose.appearance.background;
  canvas.gradient(bg.from, bg.to, bg.angle);
  for (const b of bg.blobs) canvas.fill(ellipse(b.x, b.y, b.rx, b.ry, b.angle), { colour: b.colour, softness: 4, opacity: 0.8 });
}

export function paintFace(canvas: Canvas, pose: FacePose, occluder?: Occluder): void {
  const id = pose.identity;
  const a = pose.appearance;
  const head = headShape(id);
  const hairPaint: Paint = { colour: id.hair.colour, lit: true };
  const skinPaint: Paint = { colour: id.skin, lit: true };

  paintBackground(canvas, pose);

  // Hair mass behind the head, and long hair down to the shoulders.
  const hairMass = hairMassShape(id);
  if (hairMass) canvas.fill(hairMass, hairPaint);

  // Clothes and neck.
  canvas.fill(ellipse(FACE_CENTRE_X, 150, 75, 42), { colour: a.clothing, lit: true });
  canvas.fill(roundedBox(FACE_CENTRE_X, id.head.cy + id.head.ry * 0.85, id.head.rx * 0.55, id.head.ry * 0.6, 6), { colour: scaleColour(id.skin, 0.82), lit: true });

  // Ears sit at the sides, slightly behind; the head covers their inner half.
  for (const side of [-1, 1]) {
    const p = pose.project(FACE_CENTRE_X + side * (id.head.rx - 2), id.ears.y, -id.head.rx * 0.15, 0);
    canvas.fill(ellipse(p.x, p.y, id.ears.rx * Math.max(0.4, 1 + side * Math.sin(a.yaw) * 0.6), id.ears.ry), skinPaint);
    canvas.fill(ellipse(p.x + side * 0.8, p.y, id.ears.rx * 0.45, id.ears.ry * 0.6), { colour: scaleColour(id.skin, 0.75), softness: 1, lit: true });
  }

  canvas.fill(head, skinPaint);

  // Blush, moles, freckles, birthmarks follow the surface.
  if (id.blush > 0) {
    for (const side of [-1, 1]) {
      const p = pose.project(FACE_CENTRE_X + side * (id.eyes.halfSpacing + 2), id.eyes.y + 16);
      canvas.fill(intersect(ellipse(p.x, p.y, 7 * p.width, 5), head), { colour: [220, 90, 90], opacity: id.blush, softness: 4, lit: true });
    }
  }
  for (const m of id.marks) {
    const p = pose.project(m.x, m.y);
    canvas.fill(intersect(ellipse(p.x, p.y, m.r * p.width, m.r), head), { colour: m.colour, opacity: m.opacity, softness: m.r > 2 ? 1.5 : 0, lit: true });
  }

  paintBeard(canvas, pose, head);
  paintEyes(canvas, pose);
  paintBrows(canvas, pose);
  paintNose(canvas, pose);
  paintMouth(canvas, pose);

  const frontHair = frontHairShape(pose);
  if (frontHair) canvas.fill(frontHair, hairPaint);
  if (a.glasses) paintGlasses(canvas, pose);
  for (const part of occluder?.parts ?? []) canvas.fill(part.shape, part.paint);
}

function hairMassShape(id: FaceIdentity): Shape | undefined {
  if (id.hair.style === 'bald') return undefined;
  const { cy, rx, ry } = id.head;
  const [vx, vy] = id.hair.volume;
  const mass = ellipse(FACE_CENTRE_X, cy - 4 - vy / 2, rx + vx, ry * 0.78 + vy);
  if (id.hair.style !== 'long') return intersect(mass, halfPlaneY(cy + ry * 0.3));
  return union(mass, roundedBox(FACE_CENTRE_X, cy + ry * 0.55, rx + vx, ry * 0.9, 10));
}

/** Hair in front of the head: the hair mass minus the face opening, shifted with the turn. */
function frontHairShape(pose: FacePose): Shape | undefined {
  const id = pose.identity;
  if (id.hair.style === 'bald') return undefined;
  const { cy, rx, ry } = id.head;
  const [vx, vy] = id.hair.volume;
  const mass = id.hair.style === 'long' ? union(ellipse(FACE_CENTRE_X, cy - 4 - vy / 2, rx + vx, ry * 0.78 + vy), roundedBox(FACE_CENTRE_X, cy + ry * 0.55, rx + vx, ry * 0.9, 10)) : ellipse(FACE_CENTRE_X, cy - 4 - vy / 2, rx + vx, ry * 0.78 + vy);
  const top = pose.project(FACE_CENTRE_X + id.hair.parting * 0.3, id.hair.hairline);
  const openingRx = rx * id.hair.opening;
  const openingRy = (cy + ry + 6 - id.hair.hairline) / 2;
  const opening = ellipse(top.x, id.hair.hairline + openingRy, openingRx, openingRy, id.hair.parting * 0.006);
  const cut = id.hair.style === 'long' ? halfPlaneY(1e4) : halfPlaneY(id.ears.y - 6 + id.hair.sideburn);
  return intersect(subtract(mass, opening), cut);
}

function paintBeard(canvas: Canvas, pose: FacePose, head: Shape): void {
  const id = pose.identity;
  const fh = id.facialHair;
  if (fh.beard === 'none' && fh.stubble === 0) return;
  const corners = pose.mouthCorners(pose.appearance);
  const mouthCentre = pose.project(FACE_CENTRE_X, id.mouth.y);
  const mouthHole = ellipse(mouthCentre.x, mouthCentre.y + 1, (corners.right.x - corners.left.x) / 2 + 1.5, id.mouth.upper + id.mouth.lower + 1.5 + 4 * pose.appearance.mouthOpen);
  if (fh.stubble > 0 || fh.beard === 'full') {
    // Jaw and chin: the lower head minus the cheeks (an ellipse ending just above the mouth).
    const cheekCentre = pose.project(FACE_CENTRE_X, id.ears.y);
    const cheeks = ellipse(cheekCentre.x, cheekCentre.y, id.head.rx * 0.74, id.mouth.y - id.ears.y - 1);
    const region = subtract(intersect(head, halfPlaneY(id.ears.y + 2, true)), cheeks, mouthHole);
    canvas.fill(region, { colour: id.hair.colour, opacity: fh.beard === 'full' ? 0.92 : fh.stubble, softness: 2.5, lit: true });
  }
  if (fh.beard === 'goatee') {
    const chin = pose.project(FACE_CENTRE_X, id.mouth.y + 11);
    canvas.fill(subtract(intersect(ellipse(chin.x, chin.y, 9 * chin.width, 10), head), mouthHole), { colour: id.hair.colour, opacity: 0.92, softness: 1, lit: true });
  }
}

function paintEyes(canvas: Canvas, pose: FacePose): void {
  const id = pose.identity;
  const a = pose.appearance;
  const e = id.eyes;
  for (const side of [-1, 1]) {
    const c = pose.project(FACE_CENTRE_X + side * e.halfSpacing, e.y, -2);
    const rx = e.rx * c.width;
    const ry = Math.max(0.35, e.rx * e.openness * a.eyeOpen);
    const tilt = side * e.tilt;
    // Socket shadow, then the eye white, iris and pupil clipped to it, then the lid line.
    canvas.fill(ellipse(c.x, c.y - 0.5, rx + 2.5, ry + 2.5, tilt), { colour: scaleColour(id.skin, 0.8), softness: 2.5, opacity: 0.6, lit: true });
    if (a.eyeOpen > 0.25) {
      const white = ellipse(c.x, c.y, rx, ry, tilt);
      canvas.fill(white, { colour: [235, 232, 226], lit: true });
      const irisR = e.rx * 0.55 * e.irisRatio;
      const ix = c.x + a.gaze[0] * rx * 0.5 + Math.sin(a.yaw) * rx * 0.2;
      const iy = c.y + a.gaze[1] * ry * 0.5;
      canvas.fill(intersect(ellipse(ix, iy, irisR * c.width, irisR), white), { colour: e.iris });
      canvas.fill(intersect(ellipse(ix, iy, irisR * 0.45 * c.width, irisR * 0.45), white), { colour: [12, 10, 10] });
      canvas.fill(ellipse(ix + irisR * 0.3, iy - irisR * 0.35, 0.55, 0.55), { colour: [255, 255, 255], opacity: 0.8 });
    }
    const lidY = c.y - ry * 0.85;
    canvas.fill(capsule(c.x - rx, c.y - Math.sin(tilt) * rx, c.x, lidY, 0.55, 0.75), { colour: [30, 22, 20] });
    canvas.fill(capsule(c.x, lidY, c.x + rx, c.y + Math.sin(tilt) * rx, 0.75, 0.55), { colour: [30, 22, 20] });
  }
}

function paintBrows(canvas: Canvas, pose: FacePose): void {
  const id = pose.identity;
  const b = id.brows;
  const e = id.eyes;
  for (const side of [-1, 1]) {
    const y = e.y - b.gap - pose.appearance.browRaise;
    const innerX = FACE_CENTRE_X + side * (e.halfSpacing - b.length * 0.45);
    const outerX = FACE_CENTRE_X + side * (e.halfSpacing + b.length * 0.55);
    const inner = pose.project(innerX, y + side * 0 + b.angle * b.length * 0.5);
    const mid = pose.project((innerX + outerX) / 2, y - b.arch);
    const outer = pose.project(outerX, y - b.angle * b.length * 0.5 + 1);
    const paint: Paint = { colour: b.colour, lit: true };
    canvas.fill(capsule(inner.x, inner.y, mid.x, mid.y, b.thickness, b.thickness * 0.9), paint);
    canvas.fill(capsule(mid.x, mid.y, outer.x, outer.y, b.thickness * 0.9, b.thickness * 0.45), paint);
  }
}

function paintNose(canvas: Canvas, pose: FacePose): void {
  const id = pose.identity;
  const n = id.nose;
  const shadow = scaleColour(id.skin, 1 - n.shade * 1.5);
  const top = pose.project(FACE_CENTRE_X, id.eyes.y + 3, 1);
  const tip = pose.project(FACE_CENTRE_X, n.tipY, n.protrusion);
  const side = Math.sign(Math.sin(pose.appearance.yaw)) || 1;
  // The side of the bridge away from the camera is darker.
  canvas.fill(capsule(top.x + side * 2.5, top.y, tip.x + side * (n.halfWidth * 0.5), tip.y - 2, 1.2, 2.2), { colour: shadow, opacity: 0.55, softness: 2.5, lit: true });
  canvas.fill(ellipse(tip.x, tip.y, n.halfWidth * 0.55 * tip.width, 3.2), { colour: mix(id.skin, [255, 240, 230], 0.12), softness: 2, opacity: 0.7, lit: true });
  for (const s of [-1, 1]) {
    const nostril = pose.project(FACE_CENTRE_X + s * n.halfWidth * 0.55, n.tipY + 2, n.protrusion * 0.5);
    canvas.fill(ellipse(nostril.x, nostril.y, 1.6 * nostril.width, 1.0, s * 0.3), { colour: scaleColour(id.skin, 0.35), opacity: 0.9, softness: 0.4 });
    const wing = pose.project(FACE_CENTRE_X + s * n.halfWidth, n.tipY, n.protrusion * 0.3);
    canvas.fill(outline(ellipse(wing.x, wing.y, 2.2 * wing.width, 3), 0.5), { colour: shadow, opacity: 0.5, softness: 0.6, lit: true });
  }
}

function paintMouth(canvas: Canvas, pose: FacePose): void {
  const id = pose.identity;
  const a = pose.appearance;
  const m = id.mouth;
  const { left, right } = pose.mouthCorners(a);
  const centre = pose.project(FACE_CENTRE_X, m.y + 0.8 * a.smile, -1);
  const open = 5 * a.mouthOpen;
  const halfW = (right.x - left.x) / 2;
  const midX = (left.x + right.x) / 2 + (centre.x - (left.x + right.x) / 2);
  const tilt = Math.atan2(right.y - left.y, right.x - left.x);
  const lipPaint: Paint = { colour: id.lip, lit: true };
  canvas.fill(ellipse(midX, centre.y - m.upper * 0.6, halfW * 0.95, m.upper, tilt), lipPaint);
  canvas.fill(ellipse(midX, centre.y + m.lower * 0.6 + open, halfW * 0.85, m.lower, tilt), lipPaint);
  if (open > 0.4) {
    const inside = ellipse(midX, centre.y + open / 2, halfW * 0.8, open / 2 + 0.6, tilt);
    canvas.fill(inside, { colour: [60, 20, 25] });
    if (a.smile > 0.3) canvas.fill(intersect(inside, halfPlaneY(centre.y + open * 0.35)), { colour: [235, 232, 220], lit: true });
  }
  const lineColour: Paint = { colour: scaleColour(id.lip, 0.45), opacity: 0.9 };
  canvas.fill(capsule(left.x, left.y, midX, centre.y + open * 0.1, 0.55), lineColour);
  canvas.fill(capsule(midX, centre.y + open * 0.1, right.x, right.y, 0.55), lineColour);
  if (id.facialHair.moustache) {
    const lt = pose.project(FACE_CENTRE_X - m.halfWidth * 0.95, m.y - m.upper - 2.5);
    const rt = pose.project(FACE_CENTRE_X + m.halfWidth * 0.95, m.y - m.upper - 2.5);
    const mid = pose.project(FACE_CENTRE_X, m.y - m.upper - 3.6);
    canvas.fill(union(capsule(lt.x, lt.y + 1.5, mid.x, mid.y, 1.6, 2.4), capsule(mid.x, mid.y, rt.x, rt.y + 1.5, 2.4, 1.6)), { colour: id.hair.colour, opacity: 0.95, softness: 0.8, lit: true });
  }
}

function paintGlasses(canvas: Canvas, pose: FacePose): void {
  const id = pose.identity;
  const g = id.glasses;
  const centres = [-1, 1].map((side) => pose.project(FACE_CENTRE_X + side * id.eyes.halfSpacing, id.eyes.y + 1, 3));
  const rims = centres.map((c) => (g.round ? ellipse(c.x, c.y, g.rx * c.width, g.ry) : roundedBox(c.x, c.y, g.rx * c.width, g.ry, 2.5)));
  const paint: Paint = { colour: g.colour };
  for (const rim of rims) {
    canvas.fill(rim, { colour: [200, 215, 230], opacity: 0.12 });
    canvas.fill(outline(rim, g.rim), paint);
  }
  const [l, r] = centres;
  canvas.fill(capsule(l.x + g.rx * l.width, l.y - 1, r.x - g.rx * r.width, r.y - 1, g.rim * 0.8), paint);
  for (const [c, side] of [
    [l, -1],
    [r, 1],
  ] as const) {
    const ear = pose.project(FACE_CENTRE_X + side * (id.head.rx - 1), id.ears.y - 4, -2);
    const start = c.x + side * g.rx * c.width;
    if ((ear.x - start) * side > 0) canvas.fill(capsule(start, c.y - 1, ear.x, ear.y, g.rim * 0.8), paint);
  }
}

/** Fraction of the inner face covered by an occluder (a grid count in model units). */
export function occludedFraction(id: FaceIdentity, occluder: Occluder, steps = 24): number {
  const inner = innerFaceShape(id);
  const [x0, y0, x1, y1] = inner.bounds;
  let inside = 0;
  let covered = 0;
  for (let i = 0; i < steps; i++) {
    for (let j = 0; j < steps; j++) {
      const x = x0 + ((i + 0.5) / steps) * (x1 - x0);
      const y = y0 + ((j + 0.5) / steps) * (y1 - y0);
      if (inner.sdf(x, y) > 0) continue;
      inside++;
      if (occluder.parts.some((p) => p.shape.sdf(x, y) <= 0 && (p.paint.opacity ?? 1) > 0.5)) covered++;
    }
  }
  return inside > 0 ? covered / inside : 0;
}
