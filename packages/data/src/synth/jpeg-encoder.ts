/**
 * A baseline JPEG encoder (ITU T.81, JFIF, YCbCr 4:2:0, the standard Annex K tables) for the demo
 * data generator.
 *
 * Why not jpeg-js's `encode`: it rebuilds all its tables on every call (about 37 ms for one 112×112
 * image here, 10k images ≈ 6 min), and its encoder object is not exported, so it cannot be reused.
 * This encoder keeps its tables per quality and writes into typed arrays (≈0.5 ms per 112×112 image).
 * jpeg-js still decodes what this writes in the tests (an independent implementation).
 */
import { scratchF64 } from './scratch';

/** Zig-zag scan order: entry k is the natural (row-major) index of the k-th coefficient. */
const ZIGZAG = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52,
  45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

/** Annex K.1 quantisation tables, natural order. */
const BASE_LUMA_QUANT = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
  92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const BASE_CHROMA_QUANT = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, ...new Array<number>(32).fill(99),
];

/** Annex K.3 Huffman tables: code counts per length 1..16 and the symbols in code order. */
interface HuffmanSpec {
  counts: number[];
  symbols: number[];
}
const DC_LUMA: HuffmanSpec = { counts: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], symbols: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
const DC_CHROMA: HuffmanSpec = { counts: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], symbols: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
const AC_LUMA: HuffmanSpec = {
  counts: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
  symbols: [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
    0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
    0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
  ],
};
const AC_CHROMA: HuffmanSpec = {
  counts: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
  symbols: [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
    0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
    0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
  ],
};

/** Code and length per symbol (Annex C canonical codes). */
interface HuffmanCodes {
  code: Uint16Array;
  length: Uint8Array;
}

function buildCodes(spec: HuffmanSpec): HuffmanCodes {
  const total = spec.counts.reduce((s, c) => s + c, 0);
  if (total !== spec.symbols.length) throw new Error(`Huffman table: counts sum to ${total} but ${spec.symbols.length} symbols are listed`);
  const code = new Uint16Array(256);
  const length = new Uint8Array(256);
  let next = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < spec.counts[len - 1]; i++) {
      code[spec.symbols[k]] = next;
      length[spec.symbols[k]] = len;
      next++;
      k++;
    }
    next <<= 1;
  }
  return { code, length };
}

const CODES = { dcLuma: buildCodes(DC_LUMA), dcChroma: buildCodes(DC_CHROMA), acLuma: buildCodes(AC_LUMA), acChroma: buildCodes(AC_CHROMA) };

/**
 * AAN scale factors: the float AAN DCT below yields F[v][u]·8·AAN[v]·AAN[u]; the quantiser divisors
 * fold that factor in (as IJG's jfdctflt does).
 */
const AAN_SCALE = Float64Array.from([1, 1.387039845, 1.306562965, 1.175875602, 1, 0.785694958, 0.5411961, 0.275899379]);

/** IJG quality scaling of a base table, natural order, values in 1..255. */
function scaledQuant(base: readonly number[], quality: number): Uint8Array {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return Uint8Array.from(base, (v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
}

/** Growable byte sink with the entropy-coded-segment bit writer (0xFF stuffing). */
class ByteSink {
  bytes: Uint8Array;
  length = 0;
  private bitBuffer = 0;
  private bitCount = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }

  byte(v: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = v;
  }

  word(v: number): void {
    this.byte((v >> 8) & 0xff);
    this.byte(v & 0xff);
  }

  /** Appends the low `count` bits of `value`, most significant first. */
  bits(value: number, count: number): void {
    this.bitBuffer = (this.bitBuffer << count) | (value & ((1 << count) - 1));
    this.bitCount += count;
    while (this.bitCount >= 8) {
      const b = (this.bitBuffer >> (this.bitCount - 8)) & 0xff;
      this.byte(b);
      if (b === 0xff) this.byte(0);
      this.bitCount -= 8;
    }
    this.bitBuffer &= (1 << this.bitCount) - 1;
  }

  /** Pads the last partial byte with 1-bits (T.81 F.1.2.3). */
  flushBits(): void {
    if (this.bitCount > 0) this.bits(0x7f, 8 - this.bitCount);
  }
}

export interface JpegEncodeOptions {
  /** 1..100, IJG scaling of the Annex K tables. */
  quality: number;
}

interface QuantTables {
  /** Quantiser values in natural order, as written to DQT. */
  luma: Uint8Array;
  chroma: Uint8Array;
  /** 1 / (quantiser · 8 · AAN[v] · AAN[u]) in natural order, applied to the AAN DCT output. */
  lumaDivisors: Float64Array;
  chromaDivisors: Float64Array;
}

/** Tables per quality, built once. */
const quantCache = new Map<number, QuantTables>();

function divisors(quant: Uint8Array): Float64Array {
  const d = new Float64Array(64);
  for (let v = 0; v < 8; v++) for (let u = 0; u < 8; u++) d[v * 8 + u] = 1 / (quant[v * 8 + u] * 8 * AAN_SCALE[v] * AAN_SCALE[u]);
  return d;
}

function quantTables(quality: number): QuantTables {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  let t = quantCache.get(q);
  if (!t) {
    const luma = scaledQuant(BASE_LUMA_QUANT, q);
    const chroma = scaledQuant(BASE_CHROMA_QUANT, q);
    t = { luma, chroma, lumaDivisors: divisors(luma), chromaDivisors: divisors(chroma) };
    quantCache.set(q, t);
  }
  return t;
}

/**
 * Encodes interleaved 8-bit RGB as a baseline JFIF JPEG (4:2:0).
 * @param rgb [height, width, 3] bytes, row-major
 */
export function encodeJpeg(rgb: Uint8Array, width: number, height: number, options: JpegEncodeOptions): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 65535 || height > 65535) {
    throw new RangeError(`encodeJpeg: width and height must be integers in 1..65535, got ${width}×${height}`);
  }
  if (rgb.length !== width * height * 3) throw new RangeError(`encodeJpeg: expected ${width * height * 3} RGB bytes for ${width}×${height}, got ${rgb.length}`);
  const { luma, chroma, lumaDivisors, chromaDivisors } = quantTables(options.quality);
  const out = new ByteSink(1024 + width * height);
  writeHeaders(out, width, height, luma, chroma);

  // Level-shifted planes padded to whole 16×16 MCUs by repeating the last row/column.
  const mcuCols = Math.ceil(width / 16);
  const mcuRows = Math.ceil(height / 16);
  const pw = mcuCols * 16;
  const ph = mcuRows * 16;
  const yPlane = scratchF64('jpeg-y', pw * ph);
  const cbPlane = scratchF64('jpeg-cb', (pw / 2) * (ph / 2)).fill(0);
  const crPlane = scratchF64('jpeg-cr', (pw / 2) * (ph / 2)).fill(0);
  const cw = pw / 2;
  for (let y = 0; y < ph; y++) {
    const sy = y < height ? y : height - 1;
    for (let x = 0; x < pw; x++) {
      const sx = x < width ? x : width - 1;
      const p = (sy * width + sx) * 3;
      const r = rgb[p];
      const g = rgb[p + 1];
      const b = rgb[p + 2];
      yPlane[y * pw + x] = 0.299 * r + 0.587 * g + 0.114 * b - 128;
      const c = (y >> 1) * cw + (x >> 1);
      // Chroma is the 2×2 mean (each of the 4 pixels adds a quarter).
      cbPlane[c] += 0.25 * (-0.168736 * r - 0.331264 * g + 0.5 * b);
      crPlane[c] += 0.25 * (0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  }

  const block = new Float64Array(64);
  const coeffs = new Int32Array(64);
  const dc = { y: 0, cb: 0, cr: 0 };
  for (let my = 0; my < mcuRows; my++) {
    for (let mx = 0; mx < mcuCols; mx++) {
      for (let by = 0; by < 2; by++) {
        for (let bx = 0; bx < 2; bx++) {
          loadBlock(yPlane, pw, mx * 16 + bx * 8, my * 16 + by * 8, block);
          forwardDctQuantise(block, lumaDivisors, coeffs);
          dc.y = encodeBlock(out, coeffs, dc.y, CODES.dcLuma, CODES.acLuma);
        }
      }
      loadBlock(cbPlane, cw, mx * 8, my * 8, block);
      forwardDctQuantise(block, chromaDivisors, coeffs);
      dc.cb = encodeBlock(out, coeffs, dc.cb, CODES.dcChroma, CODES.acChroma);
      loadBlock(crPlane, cw, mx * 8, my * 8, block);
      forwardDctQuantise(block, chromaDivisors, coeffs);
      dc.cr = encodeBlock(out, coeffs, dc.cr, CODES.dcChroma, CODES.acChroma);
    }
  }
  out.flushBits();
  out.word(0xffd9); // EOI
  return out.bytes.slice(0, out.length);
}

function loadBlock(plane: Float64Array, stride: number, x0: number, y0: number, block: Float64Array): void {
  for (let y = 0; y < 8; y++) {
    const row = (y0 + y) * stride + x0;
    for (let x = 0; x < 8; x++) block[y * 8 + x] = plane[row + x];
  }
}

/**
 * In-place 8-point AAN forward DCT (Arai, Agui & Nakajima; the float flow graph of IJG's jfdctflt)
 * over 8 values starting at `o` with step `step`. Outputs are scaled by 8·AAN (see AAN_SCALE).
 */
function aan8(d: Float64Array, o: number, step: number): void {
  const i0 = o;
  const i1 = o + step;
  const i2 = o + 2 * step;
  const i3 = o + 3 * step;
  const i4 = o + 4 * step;
  const i5 = o + 5 * step;
  const i6 = o + 6 * step;
  const i7 = o + 7 * step;
  const tmp0 = d[i0] + d[i7];
  const tmp7 = d[i0] - d[i7];
  const tmp1 = d[i1] + d[i6];
  const tmp6 = d[i1] - d[i6];
  const tmp2 = d[i2] + d[i5];
  const tmp5 = d[i2] - d[i5];
  const tmp3 = d[i3] + d[i4];
  const tmp4 = d[i3] - d[i4];
  // Even part.
  const tmp10 = tmp0 + tmp3;
  const tmp13 = tmp0 - tmp3;
  const tmp11 = tmp1 + tmp2;
  const tmp12 = tmp1 - tmp2;
  d[i0] = tmp10 + tmp11;
  d[i4] = tmp10 - tmp11;
  const z1 = (tmp12 + tmp13) * 0.707106781;
  d[i2] = tmp13 + z1;
  d[i6] = tmp13 - z1;
  // Odd part.
  const o10 = tmp4 + tmp5;
  const o11 = tmp5 + tmp6;
  const o12 = tmp6 + tmp7;
  const z5 = (o10 - o12) * 0.382683433;
  const z2 = 0.5411961 * o10 + z5;
  const z4 = 1.306562965 * o12 + z5;
  const z3 = o11 * 0.707106781;
  const z11 = tmp7 + z3;
  const z13 = tmp7 - z3;
  d[i5] = z13 + z2;
  d[i3] = z13 - z2;
  d[i1] = z11 + z4;
  d[i7] = z11 - z4;
}

/** Forward DCT of one 8×8 block (rows then columns), quantised, in zig-zag order. */
export function forwardDctQuantise(block: Float64Array, divisorsNatural: Float64Array, coeffs: Int32Array): void {
  for (let y = 0; y < 8; y++) aan8(block, y * 8, 1);
  for (let x = 0; x < 8; x++) aan8(block, x, 8);
  for (let k = 0; k < 64; k++) {
    const natural = ZIGZAG[k];
    coeffs[k] = Math.round(block[natural] * divisorsNatural[natural]);
  }
}

/** Number of bits of |v| (the JPEG "category"). */
function category(v: number): number {
  let a = v < 0 ? -v : v;
  let n = 0;
  while (a > 0) {
    n++;
    a >>= 1;
  }
  return n;
}

function encodeBlock(out: ByteSink, coeffs: Int32Array, previousDc: number, dcCodes: HuffmanCodes, acCodes: HuffmanCodes): number {
  const diff = coeffs[0] - previousDc;
  const size = category(diff);
  out.bits(dcCodes.code[size], dcCodes.length[size]);
  if (size > 0) out.bits(diff < 0 ? diff + (1 << size) - 1 : diff, size);

  let run = 0;
  for (let k = 1; k < 64; k++) {
    const v = coeffs[k];
    if (v === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      out.bits(acCodes.code[0xf0], acCodes.length[0xf0]); // ZRL: 16 zeros
      run -= 16;
    }
    const s = category(v);
    const symbol = (run << 4) | s;
    out.bits(acCodes.code[symbol], acCodes.length[symbol]);
    out.bits(v < 0 ? v + (1 << s) - 1 : v, s);
    run = 0;
  }
  if (run > 0) out.bits(acCodes.code[0x00], acCodes.length[0x00]); // EOB
  return coeffs[0];
}

function writeHeaders(out: ByteSink, width: number, height: number, luma: Uint8Array, chroma: Uint8Array): void {
  out.word(0xffd8); // SOI
  // APP0 JFIF 1.01, no units, 1:1 density, no thumbnail.
  out.word(0xffe0);
  out.word(16);
  for (const c of [0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0]) out.byte(c);
  out.word(1);
  out.word(1);
  out.byte(0);
  out.byte(0);
  // DQT: two 8-bit tables in zig-zag order.
  out.word(0xffdb);
  out.word(2 + 2 * 65);
  for (const [id, table] of [
    [0, luma],
    [1, chroma],
  ] as const) {
    out.byte(id);
    for (let k = 0; k < 64; k++) out.byte(table[ZIGZAG[k]]);
  }
  // SOF0: 8-bit, 3 components, Y 2×2 on table 0, Cb and Cr 1×1 on table 1.
  out.word(0xffc0);
  out.word(17);
  out.byte(8);
  out.word(height);
  out.word(width);
  out.byte(3);
  for (const [id, sampling, table] of [
    [1, 0x22, 0],
    [2, 0x11, 1],
    [3, 0x11, 1],
  ]) {
    out.byte(id);
    out.byte(sampling);
    out.byte(table);
  }
  // DHT: the four Annex K tables.
  const tables: Array<[number, HuffmanSpec]> = [
    [0x00, DC_LUMA],
    [0x10, AC_LUMA],
    [0x01, DC_CHROMA],
    [0x11, AC_CHROMA],
  ];
  out.word(0xffc4);
  out.word(2 + tables.reduce((s, [, t]) => s + 17 + t.symbols.length, 0));
  for (const [classAndId, spec] of tables) {
    out.byte(classAndId);
    for (const c of spec.counts) out.byte(c);
    for (const s of spec.symbols) out.byte(s);
  }
  // SOS: all three components, full spectral range.
  out.word(0xffda);
  out.word(12);
  out.byte(3);
  for (const [id, tables2] of [
    [1, 0x00],
    [2, 0x11],
    [3, 0x11],
  ]) {
    out.byte(id);
    out.byte(tables2);
  }
  out.byte(0);
  out.byte(63);
  out.byte(0);
}
