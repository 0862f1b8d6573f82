import { Rng } from '@facecoreset/common';
import { augmentBackboneInput, resizeBilinear3 } from '../../src/lib/backbone/augment';

const S = 16;

/** A deterministic backbone-input image [S, S, 3] in [-0.9, 0.9] with fine detail. */
function testImage(): Float32Array {
  const rng = Rng.stream(3, 'augment-test-image');
  return Float32Array.from({ length: S * S * 3 }, () => rng.float() * 1.8 - 0.9);
}

/** Sum of squared differences of horizontally adjacent pixels (fine detail). */
function detailEnergy(img: Float32Array): number {
  let e = 0;
  for (let y = 0; y < S; y++) for (let x = 0; x < S - 1; x++) for (let c = 0; c < 3; c++) e += (img[(y * S + x + 1) * 3 + c] - img[(y * S + x) * 3 + c]) ** 2;
  return e;
}

const NONE = { crop: 0, lowRes: 0, photometric: 0 };

describe('augmentBackboneInput', () => {
  it('leaves the image unchanged when every probability is 0', () => {
    const img = testImage();
    augmentBackboneInput(img, S, NONE, Rng.stream(1, 'a'));
    expect(img).toEqual(testImage());
  });

  it('is reproducible from the stream', () => {
    const p = { crop: 0.5, lowRes: 0.5, photometric: 0.5 };
    const a = testImage();
    const b = testImage();
    augmentBackboneInput(a, S, p, Rng.stream(9, 'augment', 4));
    augmentBackboneInput(b, S, p, Rng.stream(9, 'augment', 4));
    expect(a).toEqual(b);
  });

  it('crop keeps one box of pixels in place and paints the rest black (-1)', () => {
    const original = testImage();
    for (let seed = 0; seed < 5; seed++) {
      const img = testImage();
      augmentBackboneInput(img, S, { ...NONE, crop: 1 }, Rng.stream(seed, 'crop'));
      let kept = 0;
      let black = 0;
      for (let i = 0; i < S * S; i++) {
        const same = [0, 1, 2].every((c) => img[i * 3 + c] === original[i * 3 + c]);
        const isBlack = [0, 1, 2].every((c) => img[i * 3 + c] === -1);
        if (same) kept++;
        else if (isBlack) black++;
      }
      expect(kept + black).toBe(S * S);
      // RandomResizedCrop's area range: 20-100% of the image.
      expect(kept).toBeGreaterThanOrEqual(Math.floor(0.2 * S * S * 0.8));
    }
  });

  it('low resolution removes fine detail and keeps the mean', () => {
    const original = testImage();
    const img = testImage();
    augmentBackboneInput(img, S, { ...NONE, lowRes: 1 }, Rng.stream(2, 'low-res'));
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(detailEnergy(img)).toBeLessThan(detailEnergy(original));
    expect(Math.abs(mean(img) - mean(original))).toBeLessThan(0.05);
  });

  it('photometric jitter stays in the input range [-1, 1]', () => {
    for (let seed = 0; seed < 5; seed++) {
      const img = testImage();
      augmentBackboneInput(img, S, { ...NONE, photometric: 1 }, Rng.stream(seed, 'photometric'));
      expect(img).not.toEqual(testImage());
      for (const v of img) {
        expect(v).toBeGreaterThanOrEqual(-1);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
  });
});

describe('resizeBilinear3', () => {
  it('is the identity at the same size and averages a 2x2 block when halving', () => {
    const img = testImage();
    expect(resizeBilinear3(img, S, S, S, S)).toEqual(img);
    const half = resizeBilinear3(img, S, S, S / 2, S / 2);
    // Halving samples at the centre of each 2x2 block: the mean of its four pixels.
    for (let c = 0; c < 3; c++) {
      const expected = (img[c] + img[3 + c] + img[S * 3 + c] + img[(S + 1) * 3 + c]) / 4;
      expect(half[c]).toBeCloseTo(expected, 5);
    }
  });
});
