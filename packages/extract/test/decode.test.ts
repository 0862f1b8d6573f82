import { InputError } from '@facecoreset/common';
import { decodeImage, rawRgbImage, requireImageSize } from '../src/lib/decode';
import { encodeJpeg, encodePng, patternRgb } from './helpers';
import { PNG } from 'pngjs';

describe('decodeImage', () => {
  it('decodes PNG to the exact RGB pixels that were encoded', () => {
    const rgb = patternRgb(4, 24);
    const img = decodeImage(encodePng(rgb, 24, 24), { row: 0 });
    expect([img.width, img.height]).toEqual([24, 24]);
    expect(Buffer.from(img.data).equals(Buffer.from(rgb))).toBe(true);
  });

  it('drops PNG alpha and expands grey PNGs to RGB', () => {
    const png = new PNG({ width: 2, height: 1, colorType: 0, inputColorType: 0, inputHasAlpha: false });
    const grey = PNG.sync.write(Object.assign(png, { data: Buffer.from([10, 200]) }), { colorType: 0, inputColorType: 0, inputHasAlpha: false });
    expect(Array.from(decodeImage(new Uint8Array(grey), { row: 0 }).data)).toEqual([10, 10, 10, 200, 200, 200]);
    const rgba = new PNG({ width: 1, height: 1 });
    rgba.data.set([1, 2, 3, 0]);
    expect(Array.from(decodeImage(new Uint8Array(PNG.sync.write(rgba)), { row: 0 }).data)).toEqual([1, 2, 3]);
  });

  it('decodes JPEG to RGB close to the encoded pixels (lossy at quality 95)', () => {
    const rgb = patternRgb(3, 32);
    const img = decodeImage(encodeJpeg(rgb, 32, 32, 95), { row: 0 });
    expect([img.width, img.height, img.data.length]).toEqual([32, 32, 32 * 32 * 3]);
    let err = 0;
    for (let i = 0; i < rgb.length; i++) err += Math.abs(img.data[i] - rgb[i]);
    expect(err / rgb.length).toBeLessThan(6);
  });

  it('refuses bytes that are neither JPEG nor PNG, naming the row and file', () => {
    const call = () => decodeImage(new TextEncoder().encode('GIF89a....'), { row: 17, file: 'images/part-00000.parquet' });
    expect(call).toThrow(InputError);
    expect(call).toThrow('images/part-00000.parquet:row 17: image bytes are not JPEG or PNG (starts with 47 49 46 38)');
    expect(() => decodeImage(new Uint8Array(0), { row: 2 })).toThrow(/row 2: .*empty bytes/);
  });

  it('refuses truncated JPEG and PNG with the row in the message', () => {
    const jpg = encodeJpeg(patternRgb(1, 32), 32, 32);
    expect(() => decodeImage(jpg.subarray(0, jpg.length >> 1), { row: 5 })).toThrow(/row 5: JPEG does not decode/);
    const png = encodePng(patternRgb(1, 32), 32, 32);
    expect(() => decodeImage(png.subarray(0, png.length >> 1), { row: 6 })).toThrow(/row 6: PNG does not decode/);
  });
});

describe('sizes', () => {
  it('refuses an image that is not the backbone input size, naming row and both sizes', () => {
    const img = decodeImage(encodePng(patternRgb(0, 24), 24, 24), { row: 3 });
    expect(() => requireImageSize(img, 112, { row: 3, file: 'x.parquet' })).toThrow('x.parquet:row 3: image is 24x24; the backbone takes aligned 112x112 crops');
    expect(() => requireImageSize(img, 24, { row: 3 })).not.toThrow();
  });

  it('wraps raw aligned RGB and refuses a wrong byte count', () => {
    expect(rawRgbImage(new Uint8Array(4 * 4 * 3), 4, { row: 0 }).width).toBe(4);
    expect(() => rawRgbImage(new Uint8Array(10), 4, { row: 9 })).toThrow(/row 9: aligned crop has 10 bytes; expected 4x4x3 = 48/);
  });
});
