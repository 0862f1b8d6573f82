/**
 * The text side files of a RecordIO set: `.idx` (`key\toffset` per line, written by
 * MXIndexedRecordIO) and the optional `.lst` of im2rec (`index\tlabel[\tlabel...]\tpath`).
 */
import * as fs from 'node:fs';
import { InputError } from '@facecoreset/common';

export interface RecordIndex {
  /** Record keys in file line order. */
  keys: number[];
  /** Byte offset of each key's first part header in the .rec. */
  offsets: number[];
}

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;

/** Parses a non-negative decimal integer from bytes [start, end); NaN when it is not one. */
function parseUint(bytes: Uint8Array, start: number, end: number): number {
  if (start >= end) return NaN;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = bytes[i] - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : NaN;
}

/** Parses `.idx` bytes; every line must be `<integer key>\t<integer offset>` and keys must be unique. */
export function parseIdx(bytes: Uint8Array, file?: string): RecordIndex {
  const keys: number[] = [];
  const offsets: number[] = [];
  const seen = new Set<number>();
  let lineStart = 0;
  let lineNo = 0;
  while (lineStart < bytes.length) {
    let lineEnd = bytes.indexOf(LF, lineStart);
    if (lineEnd < 0) lineEnd = bytes.length;
    lineNo++;
    let contentEnd = lineEnd;
    while (contentEnd > lineStart && (bytes[contentEnd - 1] === CR || bytes[contentEnd - 1] === SPACE)) contentEnd--;
    if (contentEnd > lineStart) {
      let tab = -1;
      for (let i = lineStart; i < contentEnd; i++) {
        if (bytes[i] === TAB) {
          tab = i;
          break;
        }
      }
      const key = tab < 0 ? NaN : parseUint(bytes, lineStart, tab);
      const offset = tab < 0 ? NaN : parseUint(bytes, tab + 1, contentEnd);
      if (Number.isNaN(key) || Number.isNaN(offset)) {
        const text = Buffer.from(bytes.subarray(lineStart, Math.min(contentEnd, lineStart + 60))).toString('latin1');
        throw new InputError(`expected "<integer key>\\t<integer offset>", got "${text}"`, file, `line ${lineNo}`);
      }
      if (seen.has(key)) throw new InputError(`duplicate key ${key}`, file, `line ${lineNo}`);
      seen.add(key);
      keys.push(key);
      offsets.push(offset);
    }
    lineStart = lineEnd + 1;
  }
  return { keys, offsets };
}

export function readIdx(idxPath: string): RecordIndex {
  return parseIdx(fs.readFileSync(idxPath), idxPath);
}

/** Serialises an index as MXIndexedRecordIO writes it. */
export function formatIdx(index: RecordIndex): string {
  let s = '';
  for (let i = 0; i < index.keys.length; i++) s += `${index.keys[i]}\t${index.offsets[i]}\n`;
  return s;
}

export interface LstEntry {
  key: number;
  labels: number[];
  path: string;
}

/** Parses an im2rec `.lst`: `index\tlabel[\tlabel...]\tpath` per line. */
export function parseLst(text: string, file?: string): LstEntry[] {
  const out: LstEntry[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const cols = line.split('\t');
    const key = Number(cols[0]);
    const labels = cols.slice(1, -1).map(Number);
    if (cols.length < 3 || !Number.isInteger(key) || key < 0 || labels.some((v) => !Number.isFinite(v))) {
      throw new InputError(`expected "<integer index>\\t<label>[\\t<label>...]\\t<path>", got "${line.slice(0, 80)}"`, file, `line ${i + 1}`);
    }
    out.push({ key, labels, path: cols[cols.length - 1] });
  });
  return out;
}

export function readLst(lstPath: string): LstEntry[] {
  return parseLst(fs.readFileSync(lstPath, 'utf8'), lstPath);
}
