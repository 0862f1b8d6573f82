/**
 * Face alignment of IJB loose crops: the 5-point similarity transform to the ArcFace template
 * (as skimage's SimilarityTransform.estimate, i.e. Umeyama's least squares with no reflection),
 * then a bilinear warp into 112x112 with border value 0 (as cv2.warpAffine(img, M, (112, 112),
 * borderValue=0) in the official code).
 */
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/** ArcFace's 5-point template for 112x112 crops (the 96x112 template with x + 8), x1 y1 ... x5 y5. */
export const ARCFACE_TEMPLATE_112: readonly number[] = [38.2946, 51.6963, 73.5318, 51.5014, 56.0252, 71.7366, 41.5493, 92.3655, 70.7299, 92.2041];

/** HWC uint8 pixels. */
export interface RasterImage {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** A 2x3 affine matrix [a, b, tx, c, d, ty]: x' = a x + b y + tx, y' = c x + d y + ty. */
export type Affine2x3 = Float64Array;

/**
 * The similarity transform (rotation, uniform scale, translation) that maps `src` points onto `dst`
 * in the least-squares sense: Umeyama (1991) as skimage implements it. For 2-D points its
 * SVD reduces to closed form: with A = cov(dst, src), the optimal proper rotation has angle
 * atan2(A10 - A01, A00 + A11) and scale |(A00 + A11, A10 - A01)| / var(src); the same result as the
 * SVD route in every case where the estimate is defined (src points not all equal).
 * @param src [K * 2] x1 y1 x2 y2 ...
 * @param dst [K * 2]
 */
export function estimateSimilarity(src: ArrayLike<number>, dst: ArrayLike<number>): Affine2x3 {
  const k = src.length / 2;
  if (!Number.isInteger(k) || k < 2 || dst.length !== src.length) throw new RangeError(`estimateSimilarity: need matching [K*2] point lists with K >= 2, got ${src.length} and ${dst.length} values`);
  let sx = 0;
  let sy = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < k; i++) {
    sx += src[2 * i];
    sy += src[2 * i + 1];
    dx += dst[2 * i];
    dy += dst[2 * i + 1];
  }
  sx /= k;
  sy /= k;
  dx /= k;
  dy /= k;
  // A = dst_demeanᵀ · src_demean / k, and the variance of src.
  let a00 = 0;
  let a01 = 0;
  let a10 = 0;
  let a11 = 0;
  let varSrc = 0;
  for (let i = 0; i < k; i++) {
    const px = src[2 * i] - sx;
    const py = src[2 * i + 1] - sy;
    const qx = dst[2 * i] - dx;
    const qy = dst[2 * i + 1] - dy;
    a00 += qx * px;
    a01 += qx * py;
    a10 += qy * px;
    a11 += qy * py;
    varSrc += px * px + py * py;
  }
  a00 /= k;
  a01 /= k;
  a10 /= k;
  a11 /= k;
  varSrc /= k;
  if (varSrc === 0) throw new RangeError('estimateSimilarity: all source points coincide');
  const e = (a00 + a11) / 2;
  const h = (a10 - a01) / 2;
  const q = Math.hypot(e, h);
  // Trace of S·d in Umeyama's notation is 2q; the rotation is the proper one closest to A.
  const scale = (2 * q) / varSrc;
  const cos = q > 0 ? e / q : 1;
  const sin = q > 0 ? h / q : 0;
  const a = scale * cos;
  const b = -scale * sin;
  const c = scale * sin;
  const d = scale * cos;
  return Float64Array.of(a, b, dx - (a * sx + b * sy), c, d, dy - (c * sx + d * sy));
}

export function invertAffine(m: Affine2x3): Affine2x3 {
  const [a, b, tx, c, d, ty] = m;
  const det = a * d - b * c;
  if (det === 0) throw new RangeError('invertAffine: singular matrix');
  const ia = d / det;
  const ib = -b / det;
  const ic = -c / det;
  const id = a / det;
  return Float64Array.of(ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty));
}

/**
 * Warps `image` by `m` (source -> destination pixel coordinates, pixel centres at integers) into
 * an outWidth x outHeight image: bilinear, neighbours outside the source count as 0, rounded
 * half up to uint8.
 */
export function warpAffineBilinear(image: RasterImage, m: Affine2x3, outWidth: number, outHeight: number): RasterImage {
  const { width: w, height: hgt, channels: ch, data } = image;
  const inv = invertAffine(m);
  const out = new Uint8Array(outWidth * outHeight * ch);
  const px = new Float64Array(ch);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const sx = inv[0] * x + inv[1] * y + inv[2];
      const sy = inv[3] * x + inv[4] * y + inv[5];
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      px.fill(0);
      for (let j = 0; j < 2; j++) {
        const yy = y0 + j;
        if (yy < 0 || yy >= hgt) continue;
        const wy = j === 0 ? 1 - fy : fy;
        for (let i = 0; i < 2; i++) {
          const xx = x0 + i;
          if (xx < 0 || xx >= w) continue;
          const wgt = wy * (i === 0 ? 1 - fx : fx);
          const base = (yy * w + xx) * ch;
          for (let c = 0; c < ch; c++) px[c] += wgt * data[base + c];
        }
      }
      const o = (y * outWidth + x) * ch;
      for (let c = 0; c < ch; c++) out[o + c] = Math.min(255, Math.max(0, Math.round(px[c])));
    }
  }
  return { width: outWidth, height: outHeight, channels: ch, data: out };
}

/** Decodes JPEG or PNG bytes to RGB. */
export function decodeRgb(bytes: Uint8Array): RasterImage {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
    return { width: img.width, height: img.height, channels: 3, data: img.data };
  }
  if (bytes[0] === 0x89 && bytes[1] === 0x50) {
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const rgb = new Uint8Array(png.width * png.height * 3);
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
      rgb[i] = png.data[j];
      rgb[i + 1] = png.data[j + 1];
      rgb[i + 2] = png.data[j + 2];
    }
    return { width: png.width, height: png.height, channels: 3, data: rgb };
  }
  throw new Error('not a JPEG or PNG image');
}

/**
 * Aligns a loose crop to the ArcFace template.
 * @param landmarks [10] x1 y1 ... x5 y5 in the crop's pixel coordinates
 */
export function alignFace(image: RasterImage, landmarks: ArrayLike<number>, size = 112): RasterImage {
  const template = size === 112 ? ARCFACE_TEMPLATE_112 : ARCFACE_TEMPLATE_112.map((v) => (v * size) / 112);
  return warpAffineBilinear(image, estimateSimilarity(landmarks, template), size, size);
}
