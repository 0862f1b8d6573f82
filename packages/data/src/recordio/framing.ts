/**
 * MXNet (dmlc-core) RecordIO framing and the IRHeader payload, as bytes.
 *
 * A record on disk is one or more parts; each part is
 *   uint32 magic 0xced7230a | uint32 lrecord (upper 3 bits cflag, lower 29 bits length) | data, padded to 4.
 * dmlc's writer splits a record wherever the magic occurs at a 4-byte aligned position of the payload
 * (so a reader can resynchronise on the magic): that occurrence is dropped and the parts get cflag
 * 1 (first), 2 (middle), 3 (last); the reader joins the parts with the magic re-inserted between them.
 *
 * The payload MXNet's `recordio.pack` writes is an IRHeader
 *   uint32 flag | float32 label | uint64 id | uint64 id2
 * then, when flag > 0, `flag` float32 labels (and the scalar label field is 0), then the encoded image.
 */
import { InputError } from '@facecoreset/common';

export const RECORDIO_MAGIC = 0xced7230a;
/** Largest part length the 29-bit length field can hold. */
export const RECORDIO_MAX_LENGTH = (1 << 29) - 1;
export const IRHEADER_BYTES = 24;

const MAGIC_BYTES = new Uint8Array(new Uint32Array([RECORDIO_MAGIC]).buffer);

export interface IRHeader {
  /** Number of float32 labels that follow the fixed header (0: the scalar `label` is the label). */
  flag: number;
  /** The scalar label (0 when `flag` > 0). */
  label: number;
  id: number;
  id2: number;
  /** The `flag` labels that follow the header; empty when flag is 0. */
  labels: Float32Array;
}

/** Header fields to pack: a scalar label gives flag 0; a label array gives flag = its length. */
export interface IRHeaderInput {
  label: number | ArrayLike<number>;
  id?: number;
  id2?: number;
}

export interface UnpackedRecord {
  header: IRHeader;
  /** The encoded image bytes exactly as stored (a view into the payload). */
  image: Uint8Array;
}

/** Rounds a length up to the next multiple of 4 (RecordIO pads every part to 4 bytes). */
export function padded4(n: number): number {
  return (n + 3) & ~3;
}

/** The label a record stands for: the scalar label, or the first of the label array. */
export function primaryLabel(header: IRHeader): number {
  return header.flag > 0 ? header.labels[0] : header.label;
}

function readUint64(view: DataView, at: number, file: string | undefined, where: string | undefined, field: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InputError(`IRHeader ${field} ${v} is larger than 2^53`, file, where);
  return Number(v);
}

/**
 * Splits a record payload into its IRHeader and image bytes.
 * @param file, where name the record in errors (e.g. "train.rec", "record 17 @ offset 1234").
 */
export function unpackRecord(payload: Uint8Array, file?: string, where?: string): UnpackedRecord {
  if (payload.length < IRHEADER_BYTES) {
    throw new InputError(`record payload is ${payload.length} bytes, expected at least the ${IRHEADER_BYTES}-byte IRHeader`, file, where);
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const flag = view.getUint32(0, true);
  const label = view.getFloat32(4, true);
  const id = readUint64(view, 8, file, where, 'id');
  const id2 = readUint64(view, 16, file, where, 'id2');
  const labelsEnd = IRHEADER_BYTES + 4 * flag;
  if (labelsEnd > payload.length) {
    throw new InputError(`IRHeader flag ${flag} announces ${flag} labels (${4 * flag} bytes) but only ${payload.length - IRHEADER_BYTES} bytes follow the header`, file, where);
  }
  const labels = new Float32Array(flag);
  for (let i = 0; i < flag; i++) labels[i] = view.getFloat32(IRHEADER_BYTES + 4 * i, true);
  return { header: { flag, label, id, id2, labels }, image: payload.subarray(labelsEnd) };
}

/** Packs an IRHeader and image bytes into a record payload, as MXNet's `recordio.pack` does. */
export function packRecord(header: IRHeaderInput, image: Uint8Array): Uint8Array {
  const labels = typeof header.label === 'number' ? undefined : Array.from(header.label);
  const flag = labels ? labels.length : 0;
  const out = new Uint8Array(IRHEADER_BYTES + 4 * flag + image.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, flag, true);
  view.setFloat32(4, labels ? 0 : (header.label as number), true);
  view.setBigUint64(8, BigInt(header.id ?? 0), true);
  view.setBigUint64(16, BigInt(header.id2 ?? 0), true);
  if (labels) labels.forEach((v, i) => view.setFloat32(IRHEADER_BYTES + 4 * i, v, true));
  out.set(image, IRHEADER_BYTES + 4 * flag);
  return out;
}

/**
 * Frames one record payload into the bytes dmlc's RecordIOWriter::WriteRecord emits
 * (splitting at aligned occurrences of the magic; zero padding to 4 bytes).
 */
export function frameRecord(payload: Uint8Array): Uint8Array {
  if (payload.length > RECORDIO_MAX_LENGTH) throw new RangeError(`RecordIO records must be shorter than 2^29 bytes, got ${payload.length}`);
  const parts: Array<{ cflag: number; start: number; end: number }> = [];
  let partStart = 0;
  const lowerAlign = payload.length & ~3;
  for (let i = 0; i < lowerAlign; i += 4) {
    if (payload[i] === MAGIC_BYTES[0] && payload[i + 1] === MAGIC_BYTES[1] && payload[i + 2] === MAGIC_BYTES[2] && payload[i + 3] === MAGIC_BYTES[3]) {
      parts.push({ cflag: partStart === 0 ? 1 : 2, start: partStart, end: i });
      partStart = i + 4;
    }
  }
  parts.push({ cflag: partStart !== 0 ? 3 : 0, start: partStart, end: payload.length });
  // Every part but the last has an aligned length; only the last needs padding.
  const total = parts.reduce((s, p) => s + 8 + padded4(p.end - p.start), 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const p of parts) {
    const len = p.end - p.start;
    view.setUint32(at, RECORDIO_MAGIC, true);
    view.setUint32(at + 4, ((p.cflag << 29) | len) >>> 0, true);
    out.set(payload.subarray(p.start, p.end), at + 8);
    at += 8 + padded4(len);
  }
  return out;
}

export interface PartHeader {
  cflag: number;
  length: number;
}

/** Decodes the 8-byte part header at `at`; throws naming the offset when the magic is wrong. */
export function decodePartHeader(view: DataView, at: number, fileOffset: number, file?: string): PartHeader {
  const magic = view.getUint32(at, true);
  if (magic !== RECORDIO_MAGIC) {
    throw new InputError(`expected RecordIO magic 0xced7230a, found 0x${magic.toString(16).padStart(8, '0')}`, file, `offset ${fileOffset}`);
  }
  const lrec = view.getUint32(at + 4, true);
  return { cflag: lrec >>> 29, length: lrec & RECORDIO_MAX_LENGTH };
}

/** Joins the data of a multi-part record, re-inserting the magic that the writer removed between parts. */
export function joinParts(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const total = parts.reduce((s, p) => s + p.length, 0) + 4 * (parts.length - 1);
  const out = new Uint8Array(total);
  let at = 0;
  parts.forEach((p, i) => {
    if (i > 0) {
      out.set(MAGIC_BYTES, at);
      at += 4;
    }
    out.set(p, at);
    at += p.length;
  });
  return out;
}
