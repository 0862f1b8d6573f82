/**
 * Each degradation's severity moves a measurable image statistic the right way on the same picture,
 * and the quality ground truth falls with every severity.
 */
import * as jpeg from 'jpeg-js';
import { DEGRADATIONS, NO_DEGRADATION, QUALITY_WEIGHTS, qualityOf, type DegradationName, type Severity } from '../src/synth/degrade';
import { sampleAppearance, sampleIdentity } from '../src/synth/face';
import { Random } from '../src/synth/random';
import { describeImage, renderAligned } from '../src/synth/render';
import { drawTrainImage, trainIdentity } from '../src/synth/train-set';
import { innerFaceShape } from '../src/synth/scene';

const IDENTITY_JITTER = { a: 1, b: 0, tx: 0, ty: 0 };
const SEVERITIES = [0, 0.25, 0.5, 0.75, 1];

/** The same picture (identity, pose, noise stream, occluder plan) at a chosen severity. */
function render(name: DegradationName | 'none', severity: number, exposureSign: 1 | -1 = 1) {
  const identity = sampleIdentity(Random.stream(7, 'degrade-test-identity'));
  const rng = Random.stream(7, 'degrade-test-image');
  const appearance = sampleAppearance(rng, identity);
  const s: Severity = { ...NO_DEGRADATION };
  if (name !== 'none') s[name] = severity;
  const spec = describeImage(rng, identity, appearance, { severity: s, exposureSign });
  return { spec, image: renderAligned(spec, IDENTITY_JITTER) };
}

function luma(rgb: ArrayLike<number>, p: number): number {
  return 0.299 * rgb[p * 3] + 0.587 * rgb[p * 3 + 1] + 0.114 * rgb[p * 3 + 2];
}

/** Mean squared 4-neighbour Laplacian of luma: high-frequency energy. */
function highFrequencyEnergy(rgb: Uint8Array, size = 112): number {
  let e = 0;
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      const p = y * size + x;
      const lap = 4 * luma(rgb, p) - luma(rgb, p - 1) - luma(rgb, p + 1) - luma(rgb, p - size) - luma(rgb, p + size);
      e += lap * lap;
    }
  }
  return e / ((size - 2) * (size - 2));
}

function meanLuma(rgb: Uint8Array): number {
  let s = 0;
  for (let p = 0; p < rgb.length / 3; p++) s += luma(rgb, p);
  return (s * 3) / rgb.length;
}

function residualStd(a: Uint8Array, b: Uint8Array): number {
  let s2 = 0;
  for (let i = 0; i < a.length; i++) s2 += (a[i] - b[i]) ** 2;
  return Math.sqrt(s2 / a.length);
}

function expectStrictlyDecreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]);
}

function expectStrictlyIncreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]);
}

describe('degradation severities', () => {
  it('blur: more severity, less high-frequency energy', () => {
    expectStrictlyDecreasing(SEVERITIES.map((s) => highFrequencyEnergy(render('blur', s).image.rgb)));
  });

  it('down-scaling: more severity, less high-frequency energy', () => {
    expectStrictlyDecreasing(SEVERITIES.map((s) => highFrequencyEnergy(render('downscale', s).image.rgb)));
  });

  it('noise: more severity, larger deviation from the clean picture', () => {
    const clean = render('none', 0).image.rgb;
    expectStrictlyIncreasing(SEVERITIES.map((s) => residualStd(render('noise', s).image.rgb, clean)));
  });

  it('exposure, over and under: more severity, mean brightness further from the clean picture', () => {
    const clean = meanLuma(render('none', 0).image.rgb);
    const over = SEVERITIES.map((s) => meanLuma(render('exposure', s, 1).image.rgb) - clean);
    const under = SEVERITIES.map((s) => clean - meanLuma(render('exposure', s, -1).image.rgb));
    expectStrictlyIncreasing(over);
    expectStrictlyIncreasing(under);
  });

  it('compression: more severity, lower PSNR of the stored JPEG against its pixels', () => {
    const psnrs = SEVERITIES.map((s) => {
      const { image } = render('compression', s);
      const decoded = jpeg.decode(image.jpeg, { useTArray: true, formatAsRGBA: false }).data;
      return -20 * Math.log10(residualStd(decoded, image.rgb) / 255);
    });
    expectStrictlyDecreasing(psnrs);
  });

  it('occlusion: the fitted occluder covers about the requested share, and more severity changes more of the inner face', () => {
    const clean = render('none', 0);
    const inner = innerFaceShape(clean.spec.identity);
    const changed = SEVERITIES.map((s) => {
      const { spec, image } = render('occlusion', s);
      if (s > 0) expect(Math.abs(spec.degradation.severity.occlusion - s)).toBeLessThan(0.1);
      // Share of inner-face pixels (frontal model units ≈ aligned pixels) that the occluder changed.
      let inside = 0;
      let diff = 0;
      for (let y = 0; y < 112; y++) {
        for (let x = 0; x < 112; x++) {
          if (inner.sdf(x, y) > 0) continue;
          inside++;
          const p = (y * 112 + x) * 3;
          if (Math.abs(image.rgb[p] - clean.image.rgb[p]) + Math.abs(image.rgb[p + 1] - clean.image.rgb[p + 1]) + Math.abs(image.rgb[p + 2] - clean.image.rgb[p + 2]) > 30) diff++;
        }
      }
      return diff / inside;
    });
    expect(changed[0]).toBe(0);
    expectStrictlyIncreasing(changed);
  });
});

describe('qualityOf', () => {
  it('is 1 for a clean picture and falls with every severity', () => {
    expect(qualityOf({ ...NO_DEGRADATION })).toBe(1);
    for (const name of DEGRADATIONS) {
      const q = SEVERITIES.map((s) => qualityOf({ ...NO_DEGRADATION, [name]: s }));
      expectStrictlyDecreasing(q);
      expect(q[4]).toBeGreaterThanOrEqual(0);
    }
  });
});

/** Spearman rank correlation (no ties expected in continuous values). */
function spearman(a: number[], b: number[]): number {
  const rank = (v: number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(v.length);
    order.forEach(([, i], k) => (r[i] = k));
    return r;
  };
  const ra = rank(a);
  const rb = rank(b);
  const n = a.length;
  const d2 = ra.reduce((s, r, i) => s + (r - rb[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

describe('quality ground truth of the training images', () => {
  it('ranks like the fidelity of the stored JPEG to the same picture drawn clean (Spearman > 0.6)', () => {
    const quality: number[] = [];
    const psnr: number[] = [];
    for (let k = 0; k < 48; k++) {
      const label = k % 6;
      const identity = trainIdentity(3, label);
      const degraded = drawTrainImage(3, identity, label, k);
      const clean = drawTrainImage(3, identity, label, k, true);
      const stored = jpeg.decode(degraded.jpeg, { useTArray: true, formatAsRGBA: false }).data;
      quality.push(degraded.truth.quality);
      psnr.push(-20 * Math.log10(Math.max(residualStd(stored, clean.rgb), 1e-3) / 255));
    }
    expect(spearman(quality, psnr)).toBeGreaterThan(0.6);
  });
});

describe('degradations take identity away', () => {
  /**
   * Two identities drawn in the same picture conditions (pose, expression, lighting, background,
   * clothing, noise stream) at one severity: the mean absolute pixel difference between them is the
   * identity signal that a recogniser could still use.
   */
  function identityDistance(name: DegradationName, severity: number): number {
    const a = sampleIdentity(Random.stream(11, 'identity-signal', 0));
    const b = sampleIdentity(Random.stream(11, 'identity-signal', 1));
    const appearance = sampleAppearance(Random.stream(11, 'identity-signal-appearance'), a);
    const s: Severity = { ...NO_DEGRADATION, [name]: severity };
    const draw = (id: typeof a) => renderAligned(describeImage(Random.stream(11, 'identity-signal-image'), id, { ...appearance, glasses: false }, { severity: s, exposureSign: 1 }), IDENTITY_JITTER).rgb;
    const pa = draw(a);
    const pb = draw(b);
    let d = 0;
    for (let i = 0; i < pa.length; i++) d += Math.abs(pa[i] - pb[i]);
    return d / pa.length;
  }

  // (Exposure scales pixel differences before clipping, so a pixel distance does not measure it.)
  it.each(['blur', 'downscale'] as const)('%s: more severity, two identities look more alike', (name) => {
    expectStrictlyDecreasing(SEVERITIES.map((s) => identityDistance(name, s)));
  });

  it('quality weighs the degradations that take identity away more than those that do not', () => {
    const light = Math.max(QUALITY_WEIGHTS.occlusion, QUALITY_WEIGHTS.compression);
    for (const name of ['blur', 'downscale', 'noise'] as const) expect(QUALITY_WEIGHTS[name]).toBeGreaterThan(4 * light);
  });
});
