/**
 * Loose crops of the demo benchmark: aligning them with their five landmarks (the data package's
 * own aligner, as the official pipeline does) recovers the training framing.
 */
import { alignFace, decodeRgb, estimateSimilarity, ARCFACE_TEMPLATE_112 } from '../src/align';
import { drawIjbRow, ijbIdentity, ijbRowSpec } from '../src/synth/ijb-write';
import { planIjb, type PlannedMedia } from '../src/synth/ijb-plan';
import { NO_DEGRADATION } from '../src/synth/degrade';
import { renderAligned, renderLooseCrop } from '../src/synth/render';

const SEED = 5;
const plan = planIjb({ seed: SEED, subjects: 2, templatesPerSubject: 3, maxVideoFrames: 16, impostorPairs: 10 });
const rows = plan.templates.flatMap((t) => t.items.map((item) => ({ subjectIndex: t.subjectIndex, media: item.media, frame: item.frame })));

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** The row's picture without degradations, with its placement (loose crop) unchanged. */
function cleanRow(row: { subjectIndex: number; media: PlannedMedia; frame: number }) {
  const identity = ijbIdentity(SEED, row.subjectIndex);
  const { spec, placement } = ijbRowSpec(SEED, identity, row.media, row.frame);
  return { spec: { ...spec, occluder: undefined, degradation: { ...spec.degradation, severity: { ...NO_DEGRADATION } } }, placement, identity };
}

describe('IJB loose crops', () => {
  it('true landmarks align the crop exactly onto the training frame: estimate ∘ placement = identity', () => {
    for (const row of rows.slice(0, 20)) {
      const drawn = drawIjbRow(SEED, ijbIdentity(SEED, row.subjectIndex), row.media, row.frame);
      const m = estimateSimilarity(drawn.truth.trueLandmarks.flat(), ARCFACE_TEMPLATE_112); // crop -> aligned
      const p = drawn.truth.placement; // aligned -> crop
      const rad = (p.rotationDeg * Math.PI) / 180;
      const a = p.scale * Math.cos(rad);
      const b = p.scale * Math.sin(rad);
      // m ∘ p applied to the aligned frame's corners and centre must give the same points back.
      for (const [x, y] of [
        [0, 0],
        [111, 0],
        [56, 56],
        [0, 111],
        [111, 111],
      ]) {
        const cx = a * x - b * y + p.tx;
        const cy = b * x + a * y + p.ty;
        expect(m[0] * cx + m[1] * cy + m[2]).toBeCloseTo(x, 2);
        expect(m[3] * cx + m[4] * cy + m[5]).toBeCloseTo(y, 2);
      }
    }
  });

  it('the written (detector) landmarks stay within a few pixels of the true ones', () => {
    for (const row of rows.slice(0, 30)) {
      const drawn = drawIjbRow(SEED, ijbIdentity(SEED, row.subjectIndex), row.media, row.frame);
      const worst = Math.max(...drawn.landmarks.map(([x, y], k) => Math.hypot(x - drawn.truth.trueLandmarks[k][0], y - drawn.truth.trueLandmarks[k][1])));
      expect(worst).toBeLessThan(8);
    }
  });

  it('the aligned crop of a clean picture matches the same picture drawn directly at 112x112', () => {
    const stills = rows.filter((r) => r.media.kind === 'still').slice(0, 3);
    expect(stills.length).toBe(3);
    const direct = stills.map((r) => {
      const { spec } = cleanRow(r);
      return renderAligned(spec, { a: 1, b: 0, tx: 0, ty: 0 }).rgb;
    });
    stills.forEach((r, i) => {
      const { spec, placement } = cleanRow(r);
      // Draw the loose crop of the clean picture through the real path, then align it.
      const crop = renderLooseCrop(spec, placement);
      const aligned = alignFace(decodeRgb(crop.jpeg), crop.landmarks.flat());
      const same = meanAbsDiff(aligned.data, direct[i]);
      const other = meanAbsDiff(aligned.data, direct[(i + 1) % direct.length]);
      // Resampling, JPEG and corners outside the crop (filled with 0) leave a few grey levels
      // (3.7-4.9 here); another face is far away (35-77).
      expect(same).toBeLessThan(8);
      expect(other).toBeGreaterThan(4 * same);
    });
  });
});
