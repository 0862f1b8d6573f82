import * as path from 'node:path';
import { readNpy } from '@facecoreset/common';
import { PNG } from 'pngjs';
import { alignFace, ARCFACE_TEMPLATE_112, decodeRgb, estimateSimilarity, invertAffine, warpAffineBilinear } from '../src/align';

const FIX = path.resolve(__dirname, 'fixtures/alignment');
const image = readNpy(path.join(FIX, 'image.npy'));
const landmarks = readNpy(path.join(FIX, 'landmarks.npy'));
const matrices = readNpy(path.join(FIX, 'matrices.npy'));
const warped = readNpy(path.join(FIX, 'warped.npy'));
const sets = landmarks.shape[0];
const raster = { width: image.shape[1], height: image.shape[0], channels: 3, data: image.data as Uint8Array };

describe('alignment against an independent numpy computation (skimage _umeyama + bilinear warp, border 0)', () => {
  test('similarity transform: every landmark set, incl. mirrored and off-image, to 1e-9', () => {
    for (let s = 0; s < sets; s++) {
      const src = (landmarks.data as Float64Array).subarray(s * 10, s * 10 + 10);
      const m = estimateSimilarity(src, ARCFACE_TEMPLATE_112);
      const want = (matrices.data as Float64Array).subarray(s * 6, s * 6 + 6);
      for (let i = 0; i < 6; i++) expect(Math.abs(m[i] - want[i])).toBeLessThan(1e-9);
    }
  });

  test('warped 112x112 crops equal numpy rounded half up, except by 1 at .5 ties (|frac - 0.5| < 1e-6 in numpy)', () => {
    const nearHalfBits = readNpy(path.join(FIX, 'near_half.npy')).data as Uint8Array;
    const plane = 112 * 112 * 3;
    let ties = 0;
    for (let s = 0; s < sets; s++) {
      const out = alignFace(raster, (landmarks.data as Float64Array).subarray(s * 10, s * 10 + 10));
      expect([out.width, out.height, out.channels]).toEqual([112, 112, 3]);
      const want = (warped.data as Uint8Array).subarray(s * plane, (s + 1) * plane);
      const bad: number[] = [];
      for (let i = 0; i < plane; i++) {
        const g = s * plane + i;
        const tie = (nearHalfBits[g >> 3] >> (7 - (g & 7))) & 1;
        const d = Math.abs(out.data[i] - want[i]);
        if (tie && d === 1) ties++;
        else if (d !== 0) bad.push(i);
      }
      expect(bad).toEqual([]);
    }
    // Ties do occur (pure-scale sets); only they may differ, and by at most 1.
    expect(ties).toBeLessThanOrEqual(3084);
  });

  test('the off-image set leaves a 0 border; the template maps onto itself', () => {
    const last = alignFace(raster, (landmarks.data as Float64Array).subarray((sets - 1) * 10, sets * 10));
    expect(last.data.some((v) => v === 0)).toBe(true);
    const id = estimateSimilarity(ARCFACE_TEMPLATE_112, ARCFACE_TEMPLATE_112);
    [1, 0, 0, 0, 1, 0].forEach((v, i) => expect(Math.abs(id[i] - v)).toBeLessThan(1e-12));
    const inv = invertAffine(Float64Array.of(2, 0.5, 3, -0.5, 2, 1));
    const round = [inv[0] * 2 + inv[1] * -0.5, inv[0] * 0.5 + inv[1] * 2];
    expect(round[0]).toBeCloseTo(1, 12);
    expect(round[1]).toBeCloseTo(0, 12);
  });

  test('identity warp copies the image; PNG decode gives RGB', () => {
    const same = warpAffineBilinear(raster, Float64Array.of(1, 0, 0, 0, 1, 0), raster.width, raster.height);
    expect(Buffer.from(same.data).equals(Buffer.from(raster.data))).toBe(true);
    const png = new PNG({ width: 2, height: 1 });
    png.data.set([10, 20, 30, 255, 40, 50, 60, 255]);
    const back = decodeRgb(PNG.sync.write(png));
    expect(Array.from(back.data)).toEqual([10, 20, 30, 40, 50, 60]);
  });
});
