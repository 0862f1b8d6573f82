/**
 * A structural check of encoded JPEG/PNG bytes, cheap enough to run on every image at ingest
 * speed: the container must be complete (segments/chunks inside the data, an end marker after the
 * image data) and the header must give a positive size. Truncated and garbled files fail here;
 * a fully valid container with damaged entropy-coded data is only caught by decoding.
 */
export type ImageFormat = 'jpeg' | 'png';

export type ImageCheck = { ok: true; format: ImageFormat; width: number; height: number } | { ok: false; reason: string };

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function checkJpeg(b: Uint8Array): ImageCheck {
  let p = 2;
  let width = 0;
  let height = 0;
  while (p < b.length) {
    if (b[p] !== 0xff) return { ok: false, reason: `JPEG: expected a marker at byte ${p}, found 0x${b[p].toString(16)}` };
    while (p < b.length && b[p] === 0xff) p++; // fill bytes
    if (p >= b.length) break;
    const marker = b[p++];
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9) return { ok: false, reason: 'JPEG: end of image before any scan' };
    if (p + 2 > b.length) break;
    const len = (b[p] << 8) | b[p + 1];
    if (len < 2 || p + len > b.length) return { ok: false, reason: `JPEG: segment 0xff${marker.toString(16)} of ${len} bytes runs past the end (${b.length} bytes)` };
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof && len >= 7) {
      height = (b[p + 3] << 8) | b[p + 4];
      width = (b[p + 5] << 8) | b[p + 6];
    }
    if (marker === 0xda) {
      if (width === 0 || height === 0) return { ok: false, reason: 'JPEG: scan before a frame header with a positive size' };
      // Inside entropy-coded data 0xff is always followed by 0x00 or a restart marker, so any
      // 0xffd9 after the scan header is the end of image; without one the file is truncated.
      // Searched from the end, where it normally is (possibly followed by padding).
      const scanStart = p + len;
      for (let i = b.lastIndexOf(0xd9); i > scanStart; i = b.lastIndexOf(0xd9, i - 1)) {
        if (b[i - 1] === 0xff) return { ok: true, format: 'jpeg', width, height };
      }
      return { ok: false, reason: 'JPEG: truncated (no end-of-image marker after the scan data)' };
    }
    p += len;
  }
  return { ok: false, reason: 'JPEG: truncated before the scan data' };
}

function checkPng(b: Uint8Array): ImageCheck {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 8;
  let width = 0;
  let height = 0;
  let first = true;
  let sawData = false;
  while (p + 8 <= b.length) {
    const len = view.getUint32(p);
    const type = String.fromCharCode(b[p + 4], b[p + 5], b[p + 6], b[p + 7]);
    if (p + 12 + len > b.length) return { ok: false, reason: `PNG: chunk ${type} of ${len} bytes runs past the end (${b.length} bytes)` };
    if (first) {
      if (type !== 'IHDR' || len !== 13) return { ok: false, reason: `PNG: expected IHDR first, found ${JSON.stringify(type)}` };
      width = view.getUint32(p + 8);
      height = view.getUint32(p + 12);
      if (width === 0 || height === 0) return { ok: false, reason: `PNG: size ${width}x${height}` };
      first = false;
    }
    if (type === 'IDAT') sawData = true;
    if (type === 'IEND') return sawData ? { ok: true, format: 'png', width, height } : { ok: false, reason: 'PNG: no image data' };
    p += 12 + len;
  }
  return { ok: false, reason: 'PNG: truncated (no IEND chunk)' };
}

/** Checks encoded image bytes (JPEG or PNG) for a complete container. */
export function checkImageBytes(bytes: Uint8Array): ImageCheck {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return checkJpeg(bytes);
  if (bytes.length >= 8 && PNG_SIGNATURE.every((v, i) => bytes[i] === v)) return checkPng(bytes);
  const head = Array.from(bytes.subarray(0, 4), (v) => v.toString(16).padStart(2, '0')).join(' ');
  return { ok: false, reason: bytes.length === 0 ? 'empty image' : `not a JPEG or PNG (starts with ${head})` };
}
