/**
 * The demo generator's baseline JPEG encoder, read back by an independent decoder (jpeg-js).
 */
import * as jpeg from 'jpeg-js';
import { encodeJpeg } from '../src/synth/jpeg-encoder';

/** A smooth colour image: gradients and a soft disc (chroma varies slowly, as in photos). */
function smoothImage(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const d = Math.hypot(x - width / 2, y - height / 2) / Math.max(width, height);
      const disc = 1 / (1 + Math.exp((d - 0.25) * 40));
      const o = (y * width + x) * 3;
      rgb[o] = Math.round(60 + 150 * disc + 40 * (x / width));
      rgb[o + 1] = Math.round(90 + 80 * disc * (y / height));
      rgb[o + 2] = Math.round(160 - 100 * disc);
    }
  }
  return rgb;
}

function luma(rgb: ArrayLike<number>, i: number): number {
  return 0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2];
}

function psnr(a: ArrayLike<number>, b: ArrayLike<number>, pick: (rgb: ArrayLike<number>, i: number) => number, n: number): number {
  let se = 0;
  for (let i = 0; i < n; i++) {
    const d = pick(a, i * 3) - pick(b, i * 3);
    se += d * d;
  }
  return 10 * Math.log10((255 * 255) / (se / n));
}

describe('encodeJpeg', () => {
  it.each([
    [112, 112],
    [150, 171],
    [37, 21],
    [1, 1],
    [16, 8],
  ])('writes a %ix%i baseline JPEG that jpeg-js decodes to the same size', (w, h) => {
    const src = smoothImage(w, h);
    const bytes = encodeJpeg(src, w, h, { quality: 90 });
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
    expect([bytes[bytes.length - 2], bytes[bytes.length - 1]]).toEqual([0xff, 0xd9]);
    const out = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
    expect(out.width).toBe(w);
    expect(out.height).toBe(h);
    expect(out.data.length).toBe(w * h * 3);
  });

  it('reproduces a smooth image: luma PSNR > 40 dB at quality 95, colour PSNR > 33 dB', () => {
    const w = 112;
    const h = 112;
    const src = smoothImage(w, h);
    const out = jpeg.decode(encodeJpeg(src, w, h, { quality: 95 }), { useTArray: true, formatAsRGBA: false });
    expect(psnr(src, out.data, luma, w * h)).toBeGreaterThan(40);
    for (let c = 0; c < 3; c++) expect(psnr(src, out.data, (rgb, i) => rgb[i + c], w * h)).toBeGreaterThan(33);
  });

  it('loses more as quality drops: fewer bytes and lower PSNR', () => {
    const w = 96;
    const h = 80;
    const src = smoothImage(w, h);
    for (let i = 0; i < src.length; i++) src[i] = Math.min(255, src[i] + ((i * 7919) % 23)); // texture
    const results = [95, 60, 25, 5].map((quality) => {
      const bytes = encodeJpeg(src, w, h, { quality });
      const out = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
      return { size: bytes.length, psnr: psnr(src, out.data, luma, w * h) };
    });
    for (let i = 1; i < results.length; i++) {
      expect(results[i].size).toBeLessThan(results[i - 1].size);
      expect(results[i].psnr).toBeLessThan(results[i - 1].psnr);
    }
  });

  it('encodes extreme values (saturated colours, 0xFF-stuffed bytes) losslessly enough', () => {
    const w = 32;
    const h = 32;
    const src = new Uint8Array(w * h * 3);
    for (let i = 0; i < src.length; i++) src[i] = (i >> 4) % 2 === 0 ? 255 : 0;
    const out = jpeg.decode(encodeJpeg(src, w, h, { quality: 100 }), { useTArray: true, formatAsRGBA: false });
    expect(psnr(src, out.data, luma, w * h)).toBeGreaterThan(30);
  });

  it('is deterministic', () => {
    const src = smoothImage(40, 30);
    expect(Buffer.from(encodeJpeg(src, 40, 30, { quality: 77 })).equals(Buffer.from(encodeJpeg(src, 40, 30, { quality: 77 })))).toBe(true);
  });

  it('rejects a size that does not match the pixel count', () => {
    expect(() => encodeJpeg(new Uint8Array(10), 2, 2, { quality: 90 })).toThrow(/expected 12 RGB bytes for 2×2, got 10/);
    expect(() => encodeJpeg(new Uint8Array(0), 0, 0, { quality: 90 })).toThrow(/1..65535/);
  });
});
