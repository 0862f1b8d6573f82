import { areaDownscale } from '../src/backbone/preprocess';

describe('areaDownscale', () => {
  it('averages k x k blocks per channel (rounded) and keeps the channel layout', () => {
    // 4x4 RGB image, each 2x2 block holds the values b, b+1, b+2, b+3 in channel 0.
    const side = 4;
    const px = new Uint8Array(side * side * 3);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const block = (y >> 1) * 2 + (x >> 1);
        const within = (y & 1) * 2 + (x & 1);
        const o = (y * side + x) * 3;
        px[o] = block * 10 + within; // mean = block*10 + 1.5 -> rounds to block*10 + 2
        px[o + 1] = 200;
        px[o + 2] = within * 2; // mean 3
      }
    }
    const out = areaDownscale(px, side, 3, 2);
    expect(Array.from(out)).toEqual([2, 200, 3, 12, 200, 3, 22, 200, 3, 32, 200, 3]);
  });

  it('returns the same pixels when the sizes match, and refuses a size that is not a whole fraction', () => {
    const px = new Uint8Array(6 * 6 * 4);
    expect(areaDownscale(px, 6, 4, 6)).toBe(px);
    expect(() => areaDownscale(px, 6, 4, 4)).toThrow(/6x6 image cannot be area-averaged to 4x4/);
  });
});
