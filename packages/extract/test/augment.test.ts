import { augmentView, flipHorizontal, renderView, resizeBilinear, type RgbImage } from '../src/lib/augment';
import { parseViews } from '../src/lib/views';

function gradientImage(size = 32): RgbImage {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      data[o] = (x * 255) / (size - 1);
      data[o + 1] = (y * 255) / (size - 1);
      data[o + 2] = ((x + y) * 127) / (size - 1);
    }
  }
  return { width: size, height: size, data };
}

describe('views', () => {
  it('parses original, flip and aug:N into sorted view ids', () => {
    expect(parseViews('original,flip,aug:3')).toEqual([0, 1, 2, 3, 4]);
    expect(parseViews('aug:2, original')).toEqual([0, 2, 3]);
  });
  it('rejects unknown views and empty specs with the spec in the message', () => {
    expect(() => parseViews('original,rotate')).toThrow(/bad view 'rotate' in --views 'original,rotate'/);
    expect(() => parseViews('aug:0')).toThrow(/aug:N/);
    expect(() => parseViews(' , ')).toThrow(/names no view/);
  });
});

describe('augment', () => {
  it('flips horizontally and flipping twice is the identity', () => {
    const img = gradientImage(8);
    const f = flipHorizontal(img);
    expect(Array.from(f.data.subarray(0, 3))).toEqual(Array.from(img.data.subarray(7 * 3, 8 * 3)));
    expect(flipHorizontal(f).data).toEqual(img.data);
  });

  it('reproduces a view exactly from (seed, row, view) and differs across views and seeds', () => {
    const img = gradientImage();
    const a = augmentView(img, 7, 123, 2);
    const b = augmentView(img, 7, 123, 2);
    expect(b.data).toEqual(a.data);
    const differs = (x: RgbImage, y: RgbImage) => x.data.some((v, i) => v !== y.data[i]);
    const others = [augmentView(img, 7, 123, 3), augmentView(img, 7, 124, 2), augmentView(img, 8, 123, 2)];
    expect(others.filter((o) => differs(o, a)).length).toBeGreaterThanOrEqual(2);
  });

  it('keeps original and flip views free of augmentation', () => {
    const img = gradientImage();
    expect(renderView(img, 1, 5, 0).data).toBe(img.data);
    expect(renderView(img, 1, 5, 1).data).toEqual(flipHorizontal(img).data);
  });

  it('crop-only augmentation leaves black outside a crop rectangle and the pixels inside untouched', () => {
    const img = gradientImage();
    for (let row = 0; row < 20; row++) {
      const out = augmentView(img, 3, row, 2, { cropProb: 1, lowResProb: 0, photometricProb: 0, randAugmentOps: 0, randAugmentMagnitude: 0 });
      // Every pixel is either untouched or its flipped counterpart (a random flip precedes the crop), or black.
      const flipped = flipHorizontal(img);
      let black = 0;
      for (let i = 0; i < out.data.length; i += 3) {
        const px = Array.from(out.data.subarray(i, i + 3));
        if (px.every((v) => v === 0)) black++;
        else expect([Array.from(img.data.subarray(i, i + 3)), Array.from(flipped.data.subarray(i, i + 3))]).toContainEqual(px);
      }
      // scale >= 0.2 of the area survives
      expect(black).toBeLessThanOrEqual(0.8 * 32 * 32 + 1);
    }
  });

  it('bilinear resize keeps a constant image constant and the output size', () => {
    const data = new Uint8Array(10 * 10 * 3).fill(77);
    const r = resizeBilinear({ width: 10, height: 10, data }, 4, 6);
    expect(r.width).toBe(4);
    expect(r.height).toBe(6);
    expect(r.data.every((v) => v === 77)).toBe(true);
  });
});
