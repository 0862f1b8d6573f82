/**
 * Reading MXNet RecordIO files: random access by `.idx` key (positioned reads), and a sequential
 * scan in large chunks for ingest throughput.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '@facecoreset/common';
import { decodePartHeader, joinParts, padded4, unpackRecord, type UnpackedRecord } from './framing';
import { readIdx, type RecordIndex } from './index-file';

export interface RawRecord {
  /** Offset of the record's first part header. */
  offset: number;
  /** Offset just past the record's last (padded) part. */
  end: number;
  /** The joined payload (IRHeader + labels + image). */
  payload: Uint8Array;
}

export interface ScanOptions {
  /** Bytes read per chunk (default 16 MiB). */
  chunkBytes?: number;
  /**
   * Reuse one read buffer: each yielded payload is then valid only until the next record is
   * requested (copy it to keep it). Default false.
   */
  reuseBuffer?: boolean;
  /** Called before the reused buffer is overwritten (the last moment to consume yielded views). */
  beforeRefill?: () => void;
  /** Called after each chunk read with the bytes read, e.g. to drive a progress line. */
  onRead?: (bytes: number) => void;
}

const DEFAULT_CHUNK = 16 << 20;

export class RecordIOReader {
  private readonly keyToOffset = new Map<number, number>();
  private closed = false;

  private constructor(
    readonly recPath: string,
    private readonly fd: number,
    readonly size: number,
    readonly index: RecordIndex | undefined,
    readonly idxPath: string | undefined,
  ) {
    if (index) {
      index.keys.forEach((k, i) => {
        const off = index.offsets[i];
        if (off + 8 > size) {
          throw new InputError(`offset ${off} of key ${k} is past the end of ${path.basename(recPath)} (${size} bytes)`, idxPath, `line ${i + 1}`);
        }
        this.keyToOffset.set(k, off);
      });
    }
  }

  /**
   * Opens a .rec and its index. `idxPath` undefined: use `<rec without .rec>.idx` when it exists;
   * null: no index (only sequential scans).
   */
  static open(recPath: string, idxPath?: string | null): RecordIOReader {
    if (!fs.existsSync(recPath)) throw new InputError('RecordIO file not found', recPath);
    let idx = idxPath ?? undefined;
    if (idxPath === undefined) {
      const guess = recPath.replace(/\.rec$/, '') + '.idx';
      idx = fs.existsSync(guess) ? guess : undefined;
    }
    const index = idx ? readIdx(idx) : undefined;
    const fd = fs.openSync(recPath, 'r');
    try {
      return new RecordIOReader(recPath, fd, fs.fstatSync(fd).size, index, idx);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  has(key: number): boolean {
    return this.keyToOffset.has(key);
  }

  offsetOf(key: number): number {
    const off = this.keyToOffset.get(key);
    if (off === undefined) throw new InputError(`key ${key} is not in the index`, this.idxPath ?? this.recPath);
    return off;
  }

  private pread(offset: number, length: number, what: string): Uint8Array {
    if (offset + length > this.size) {
      throw new InputError(`truncated: ${what} needs bytes ${offset}..${offset + length} but the file ends at ${this.size}`, this.recPath, `offset ${offset}`);
    }
    const buf = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = fs.readSync(this.fd, buf, got, length - got, offset + got);
      if (n === 0) throw new InputError(`truncated: unexpected end of file`, this.recPath, `offset ${offset + got}`);
      got += n;
    }
    return buf;
  }

  /** Reads the (possibly multi-part) record whose first part header is at `offset`. */
  readAt(offset: number): RawRecord {
    const parts: Uint8Array[] = [];
    let at = offset;
    for (;;) {
      const head = this.pread(at, 8, 'a part header');
      const { cflag, length } = decodePartHeader(new DataView(head.buffer), 0, at, this.recPath);
      if (parts.length === 0 ? cflag === 2 || cflag === 3 : cflag === 0 || cflag === 1) {
        throw new InputError(`unexpected continuation flag ${cflag} ${parts.length === 0 ? 'at the start of a record' : 'inside a multi-part record'}`, this.recPath, `offset ${at}`);
      }
      parts.push(this.pread(at + 8, length, `a ${length}-byte record part`));
      at += 8 + padded4(length);
      if (cflag === 0 || cflag === 3) break;
    }
    return { offset, end: at, payload: joinParts(parts) };
  }

  readPayload(key: number): Uint8Array {
    return this.readAt(this.offsetOf(key)).payload;
  }

  /** Reads and unpacks the record stored under `key`. */
  read(key: number): UnpackedRecord {
    const off = this.offsetOf(key);
    return unpackRecord(this.readAt(off).payload, this.recPath, `record ${key} @ offset ${off}`);
  }

  /** Reads every record from the start of the file in order, in large chunks. */
  *scan(opts: ScanOptions = {}): Generator<RawRecord> {
    const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK;
    let buf: Uint8Array = new Uint8Array(0);
    let bufStart = 0; // file offset of buf[0]
    let pos = 0; // file offset of the next unread byte in buf
    let view = new DataView(buf.buffer);
    const ensure = (n: number, what: string): void => {
      const have = bufStart + buf.length - pos;
      if (have >= n) return;
      if (pos + n > this.size) {
        throw new InputError(`truncated: ${what} needs bytes ${pos}..${pos + n} but the file ends at ${this.size}`, this.recPath, `offset ${pos}`);
      }
      const want = Math.min(Math.max(n, chunkBytes), this.size - pos);
      opts.beforeRefill?.();
      const keep = buf.subarray(pos - bufStart);
      // Reusing one buffer avoids faulting in fresh memory on every refill (2-3x the read cost
      // here); without reuse, payload views handed out earlier stay valid forever.
      let next: Uint8Array;
      if (opts.reuseBuffer && buf.length >= want) {
        buf.copyWithin(0, pos - bufStart);
        next = buf.length === want ? buf : buf.subarray(0, want);
      } else {
        next = new Uint8Array(want);
        next.set(keep, 0);
      }
      let got = keep.length;
      while (got < want) {
        const r = fs.readSync(this.fd, next, got, want - got, pos + got);
        if (r === 0) throw new InputError('truncated: unexpected end of file', this.recPath, `offset ${pos + got}`);
        got += r;
      }
      opts.onRead?.(want - keep.length);
      buf = next;
      view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      bufStart = pos;
    };
    while (pos < this.size) {
      const recordStart = pos;
      const parts: Uint8Array[] = [];
      for (;;) {
        ensure(8, 'a part header');
        const { cflag, length } = decodePartHeader(view, pos - bufStart, pos, this.recPath);
        if (parts.length === 0 ? cflag === 2 || cflag === 3 : cflag === 0 || cflag === 1) {
          throw new InputError(`unexpected continuation flag ${cflag} ${parts.length === 0 ? 'at the start of a record' : 'inside a multi-part record'}`, this.recPath, `offset ${pos}`);
        }
        const span = 8 + padded4(length);
        ensure(8 + length, `a ${length}-byte record part`);
        parts.push(buf.subarray(pos - bufStart + 8, pos - bufStart + 8 + length));
        // Tolerates a last record whose padding is missing at the very end of the file.
        pos = Math.min(pos + span, this.size);
        if (cflag === 0 || cflag === 3) break;
      }
      yield { offset: recordStart, end: pos, payload: joinParts(parts) };
    }
  }

  close(): void {
    if (!this.closed) fs.closeSync(this.fd);
    this.closed = true;
  }
}
