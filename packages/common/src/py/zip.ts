/**
 * A ZIP reader for archives held in memory (PyTorch checkpoints, NumPy .npz): stored and deflate
 * entries, ZIP64 sizes and offsets, CRC-32 checked on read.
 *
 * Each entry's data start comes from its local header, not the central directory: torch pads the
 * local header with an extra field ('FB') that the central directory does not repeat.
 */
import { inflateSync } from 'fflate';
import { InputError } from '../errors';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  /** Offset of the local file header. */
  headerOffset: number;
  /** Offset of the entry's (possibly compressed) bytes, from the local header. */
  dataOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as ZIP uses). */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const utf8 = new TextDecoder('utf-8');

export class ZipArchive {
  readonly entries: ZipEntry[];
  private readonly byName = new Map<string, ZipEntry>();

  /**
   * Parses the archive's directory. `file` only labels errors.
   * @throws InputError for a missing end record, a truncated archive or a bad header.
   */
  readonly bytes: Uint8Array;

  constructor(
    input: Uint8Array,
    readonly file = '<zip>',
  ) {
    // A plain Uint8Array view: Buffer#slice would return views where callers expect copies.
    const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    this.bytes = bytes;
    this.entries = readDirectory(bytes, file);
    for (const e of this.entries) this.byName.set(e.name, e);
  }

  get(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /**
   * The entry's uncompressed bytes. Stored entries are views into the archive (no copy).
   * @throws InputError if the entry is missing, truncated, or its CRC-32 does not match.
   */
  read(name: string, { verifyCrc = true }: { verifyCrc?: boolean } = {}): Uint8Array {
    const e = this.byName.get(name);
    if (!e) throw new InputError(`zip archive has no entry '${name}'`, this.file);
    const end = e.dataOffset + e.compressedSize;
    if (end > this.bytes.length) throw new InputError(`zip entry '${name}' is truncated: needs bytes up to ${end}, archive has ${this.bytes.length}`, this.file);
    const raw = this.bytes.subarray(e.dataOffset, end);
    let data: Uint8Array;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        data = inflateSync(raw, { out: new Uint8Array(e.size) });
      } catch (err) {
        throw new InputError(`zip entry '${name}': corrupt deflate data (${(err as Error).message})`, this.file);
      }
    } else throw new InputError(`zip entry '${name}' uses compression method ${e.method}; only stored (0) and deflate (8) are supported`, this.file);
    if (data.length !== e.size) throw new InputError(`zip entry '${name}': expected ${e.size} bytes, got ${data.length}`, this.file);
    if (verifyCrc && crc32(data) !== e.crc32) throw new InputError(`zip entry '${name}': CRC-32 mismatch (archive corrupt)`, this.file);
    return data;
  }
}

function readDirectory(bytes: Uint8Array, file: string): ZipEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (msg: string, at?: number): never => {
    throw new InputError(msg, file, at === undefined ? undefined : `byte ${at}`);
  };
  // The end-of-central-directory record is the last 22 bytes plus a comment of up to 65535.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (dv.getUint32(i, true) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail(bytes.length < 22 ? `not a zip archive (${bytes.length} bytes)` : 'not a zip archive or truncated: no end-of-central-directory record');
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if ((count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) && eocd >= 20 && dv.getUint32(eocd - 20, true) === SIG_ZIP64_LOCATOR) {
    const z64 = safeNumber(dv.getBigUint64(eocd - 20 + 8, true));
    if (z64 + 56 > bytes.length || dv.getUint32(z64, true) !== SIG_ZIP64_EOCD) fail('bad ZIP64 end-of-central-directory record', z64);
    count = safeNumber(dv.getBigUint64(z64 + 32, true));
    cdSize = safeNumber(dv.getBigUint64(z64 + 40, true));
    cdOffset = safeNumber(dv.getBigUint64(z64 + 48, true));
  }
  if (cdOffset + cdSize > bytes.length) fail(`truncated zip archive: central directory ends at byte ${cdOffset + cdSize}, archive has ${bytes.length}`);
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== SIG_CENTRAL) fail(`corrupt zip central directory: entry ${k} has no header signature`, p);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let headerOffset = dv.getUint32(p + 42, true);
    const name = utf8.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field (id 1): the 64-bit values present are those whose 32-bit field is 0xffffffff.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = dv.getUint16(x, true);
      const len = dv.getUint16(x + 2, true);
      if (id === 1) {
        let q = x + 4;
        if (size === 0xffffffff) {
          size = safeNumber(dv.getBigUint64(q, true));
          q += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = safeNumber(dv.getBigUint64(q, true));
          q += 8;
        }
        if (headerOffset === 0xffffffff) headerOffset = safeNumber(dv.getBigUint64(q, true));
      }
      x += 4 + len;
    }
    if (headerOffset + 30 > bytes.length || dv.getUint32(headerOffset, true) !== SIG_LOCAL) fail(`corrupt zip archive: entry '${name}' has no local header at byte ${headerOffset}`, headerOffset);
    const localNameLen = dv.getUint16(headerOffset + 26, true);
    const localExtraLen = dv.getUint16(headerOffset + 28, true);
    const dataOffset = headerOffset + 30 + localNameLen + localExtraLen;
    if (dataOffset + compressedSize > bytes.length) fail(`truncated zip archive: entry '${name}' needs bytes up to ${dataOffset + compressedSize}, archive has ${bytes.length}`);
    entries.push({ name, method, compressedSize, size, crc32: crc, headerOffset, dataOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function safeNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InputError(`zip offset ${v} is too large`);
  return Number(v);
}
