/**
 * Line-by-line tokenising of delimited text straight from bytes: IJB-C's pair list has 15.6 M
 * lines, so no per-line strings are made unless a column is read as text.
 */
import { InputError } from '@facecoreset/common';

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const COMMA = 44;
const MAX_TOKENS = 64;

export type Delimiter = 'whitespace' | 'comma';

export class TokenLines {
  /** 1-based number of the current line. */
  lineNo = 0;
  /** Tokens on the current line (capped at MAX_TOKENS + 1 to report "too many"). */
  count = 0;
  private readonly starts = new Int32Array(MAX_TOKENS + 1);
  private readonly ends = new Int32Array(MAX_TOKENS + 1);
  private pos = 0;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(
    private readonly bytes: Uint8Array,
    readonly file: string,
    private readonly delimiter: Delimiter,
  ) {
    // A UTF-8 byte-order mark is not part of the first token.
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) this.pos = 3;
  }

  /** Moves to the next non-empty line; false at the end of the file. */
  next(): boolean {
    const b = this.bytes;
    const n = b.length;
    while (this.pos < n) {
      let end = b.indexOf(LF, this.pos);
      if (end < 0) end = n;
      const start = this.pos;
      this.pos = end + 1;
      this.lineNo++;
      let lineEnd = end;
      if (lineEnd > start && b[lineEnd - 1] === CR) lineEnd--;
      this.count = 0;
      if (this.delimiter === 'whitespace') {
        let i = start;
        while (i < lineEnd) {
          while (i < lineEnd && (b[i] === SPACE || b[i] === TAB)) i++;
          if (i >= lineEnd) break;
          const s = i;
          while (i < lineEnd && b[i] !== SPACE && b[i] !== TAB) i++;
          if (this.count <= MAX_TOKENS) {
            this.starts[this.count] = s;
            this.ends[this.count] = i;
          }
          this.count++;
        }
        if (this.count > 0) return true;
      } else {
        let blank = true;
        for (let i = start; i < lineEnd; i++) {
          if (b[i] !== SPACE && b[i] !== TAB) {
            blank = false;
            break;
          }
        }
        if (blank) continue;
        let s = start;
        for (let i = start; i <= lineEnd; i++) {
          if (i === lineEnd || b[i] === COMMA) {
            if (this.count <= MAX_TOKENS) {
              let ts = s;
              let te = i;
              while (ts < te && (b[ts] === SPACE || b[ts] === TAB)) ts++;
              while (te > ts && (b[te - 1] === SPACE || b[te - 1] === TAB)) te--;
              this.starts[this.count] = ts;
              this.ends[this.count] = te;
            }
            this.count++;
            s = i + 1;
          }
        }
        return true;
      }
    }
    return false;
  }

  fail(message: string): never {
    throw new InputError(message, this.file, `line ${this.lineNo}`);
  }

  /** Requires `min`..`max` columns on the current line; `layout` describes the expected line. */
  expectColumns(min: number, max: number, layout: string): void {
    if (this.count < min || this.count > max) {
      this.fail(`expected ${layout} (${min === max ? min : `${min}..${max === Infinity ? 'n' : max}`} columns), got ${this.count}: "${this.preview()}"`);
    }
  }

  text(i: number): string {
    return this.decoder.decode(this.bytes.subarray(this.starts[i], this.ends[i]));
  }

  /** The current line, cut to 80 characters, for error messages. */
  preview(): string {
    if (this.count === 0) return '';
    const s = this.decoder.decode(this.bytes.subarray(this.starts[0], this.ends[Math.min(this.count, MAX_TOKENS) - 1]));
    return s.length > 80 ? s.slice(0, 77) + '...' : s;
  }

  /** Column `i` as a 32-bit signed integer. */
  int(i: number, what: string): number {
    const b = this.bytes;
    let p = this.starts[i];
    const e = this.ends[i];
    let neg = false;
    if (p < e && (b[p] === 45 || b[p] === 43)) {
      neg = b[p] === 45;
      p++;
    }
    let v = 0;
    let ok = p < e;
    for (; p < e; p++) {
      const d = b[p] - 48;
      if (d < 0 || d > 9) {
        ok = false;
        break;
      }
      v = v * 10 + d;
    }
    if (neg) v = -v;
    if (!ok || v > 2147483647 || v < -2147483648) this.fail(`column ${i + 1} (${what}): expected an integer, got "${this.text(i)}"`);
    return v;
  }

  /** Column `i` as a finite number. */
  float(i: number, what: string): number {
    const s = this.text(i);
    const v = s.trim() === '' ? NaN : Number(s);
    if (!Number.isFinite(v)) this.fail(`column ${i + 1} (${what}): expected a finite number, got "${s}"`);
    return v;
  }
}

/** A growable Int32Array. */
export class Int32Builder {
  private buf: Int32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.buf = new Int32Array(capacity);
  }
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Int32Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  finish(): Int32Array {
    return this.buf.slice(0, this.length);
  }
}
