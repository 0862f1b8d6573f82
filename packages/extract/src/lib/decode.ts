/**
 * Images as extraction receives them: encoded bytes from an images table (JPEG or PNG, exactly as
 * the source stored them) or raw aligned RGB crops from the IJB aligned table. Both become an
 * RgbImage checked against the backbone's input size; the backbone does not resize, because a
 * crop that is not already aligned to the 112x112 template would give a meaningless feature.
 */
import { InputError } from '@facecoreset/common';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { RgbImage } from './augment';

/** Where an image came from, for error messages: the table row and the file it was read from. */
export interface ImageLocation {
  row: number;
  file?: string;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Decoded images larger than this are refused before allocating (a corrupt header can claim gigapixels). */
const MAX_DECODED_MEGAPIXELS = 16;

function where(loc: ImageLocation): string {
  return `row ${loc.row}`;
}

function describeHead(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'empty bytes';
  return `starts with ${Array.from(bytes.subarray(0, 4), (v) => v.toString(16).padStart(2, '0')).join(' ')}`;
}

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((v, i) => bytes[i] === v);
}

/** Drops the alpha channel of RGBA pixels (as cv2.imread and PIL's convert('RGB') do for face crops). */
function rgbaToRgb(rgba: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let p = 0, q = 0; q < out.length; p += 4, q += 3) {
    out[q] = rgba[p];
    out[q + 1] = rgba[p + 1];
    out[q + 2] = rgba[p + 2];
  }
  return out;
}

/**
 * Decodes JPEG or PNG bytes to 8-bit RGB. Grey and palette PNGs are expanded, 16-bit PNGs rescaled
 * to 8 bits, alpha dropped.
 * @throws InputError naming the row for any other format or undecodable bytes.
 */
export function decodeImage(bytes: Uint8Array, loc: ImageLocation): RgbImage {
  if (isJpeg(bytes)) {
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxResolutionInMP: MAX_DECODED_MEGAPIXELS });
    } catch (e) {
      throw new InputError(`JPEG does not decode (${e instanceof Error ? e.message : String(e)})`, loc.file, where(loc));
    }
    if (img.width <= 0 || img.height <= 0 || img.data.length !== img.width * img.height * 3) {
      throw new InputError(`JPEG decoded to ${img.width}x${img.height} with ${img.data.length} bytes; expected RGB pixels`, loc.file, where(loc));
    }
    return { width: img.width, height: img.height, data: img.data };
  }
  if (isPng(bytes)) {
    let img: PNG;
    try {
      img = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new InputError(`PNG does not decode (${e instanceof Error ? e.message : String(e)})`, loc.file, where(loc));
    }
    if (img.width * img.height > MAX_DECODED_MEGAPIXELS * 1e6) throw new InputError(`PNG of ${img.width}x${img.height} is too large`, loc.file, where(loc));
    return { width: img.width, height: img.height, data: rgbaToRgb(img.data, img.width * img.height) };
  }
  throw new InputError(`image bytes are not JPEG or PNG (${describeHead(bytes)}); expected an encoded face crop`, loc.file, where(loc));
}

/**
 * Wraps raw RGB bytes (row-major HWC, as the IJB aligned table stores them) of a `size` x `size` crop.
 * @throws InputError naming the row when the byte count is not size*size*3.
 */
export function rawRgbImage(bytes: Uint8Array, size: number, loc: ImageLocation): RgbImage {
  if (bytes.length !== size * size * 3) {
    throw new InputError(`aligned crop has ${bytes.length} bytes; expected ${size}x${size}x3 = ${size * size * 3} raw RGB bytes`, loc.file, where(loc));
  }
  return { width: size, height: size, data: bytes };
}

/** @throws InputError naming the row and both sizes when the image is not `size` x `size`. */
export function requireImageSize(img: RgbImage, size: number, loc: ImageLocation): void {
  if (img.width !== size || img.height !== size) {
    throw new InputError(
      `image is ${img.width}x${img.height}; the backbone takes aligned ${size}x${size} crops (align or resize the dataset first, e.g. fcn ingest ijb --align)`,
      loc.file,
      where(loc),
    );
  }
}
