/**
 * Writing MXNet RecordIO sets the way MXIndexedRecordIO does (.rec framed by dmlc's writer, .idx
 * `key\toffset` lines), under temporary names that are renamed into place only by `close()`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { frameRecord, packRecord, type IRHeaderInput } from './framing';

const FLUSH_BYTES = 8 << 20;

function tempName(target: string): string {
  return path.join(path.dirname(target), `.fcn-tmp-${path.basename(target)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

export class RecordIOWriter {
  private readonly recTmp: string;
  private readonly idxTmp: string | undefined;
  private readonly fd: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private offset = 0;
  private idxLines: string[] = [];
  private readonly keys = new Set<number>();
  private done = false;

  private constructor(
    readonly recPath: string,
    readonly idxPath: string | undefined,
  ) {
    fs.mkdirSync(path.dirname(path.resolve(recPath)), { recursive: true });
    this.recTmp = tempName(recPath);
    this.idxTmp = idxPath ? tempName(idxPath) : undefined;
    this.fd = fs.openSync(this.recTmp, 'w');
  }

  /** Starts writing `recPath` (and `idxPath` when given); nothing appears under those names until close(). */
  static open(recPath: string, idxPath?: string): RecordIOWriter {
    return new RecordIOWriter(recPath, idxPath);
  }

  /** Bytes written to the .rec so far (the offset the next record gets). */
  get bytesWritten(): number {
    return this.offset;
  }

  /** Packs an IRHeader + image (as MXNet's recordio.pack) and writes it under `key`. Returns its offset. */
  write(key: number, header: IRHeaderInput, image: Uint8Array): number {
    return this.writePayload(key, packRecord(header, image));
  }

  /** Writes an already packed payload under `key`. Returns its offset. */
  writePayload(key: number, payload: Uint8Array): number {
    if (this.done) throw new Error('RecordIOWriter: write after close');
    if (!Number.isSafeInteger(key) || key < 0) throw new RangeError(`RecordIO keys are non-negative integers, got ${key}`);
    if (this.keys.has(key)) throw new RangeError(`RecordIO key ${key} written twice`);
    this.keys.add(key);
    const at = this.offset;
    const framed = frameRecord(payload);
    this.pending.push(framed);
    this.pendingBytes += framed.length;
    this.offset += framed.length;
    this.idxLines.push(`${key}\t${at}\n`);
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    return at;
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const all = Buffer.concat(this.pending, this.pendingBytes);
    let written = 0;
    while (written < all.length) written += fs.writeSync(this.fd, all, written, all.length - written);
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Flushes, then renames the .rec and .idx into place. */
  close(): void {
    if (this.done) return;
    try {
      this.flush();
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      if (this.idxPath && this.idxTmp) {
        fs.writeFileSync(this.idxTmp, this.idxLines.join(''));
        fs.renameSync(this.idxTmp, this.idxPath);
      }
      fs.renameSync(this.recTmp, this.recPath);
      this.done = true;
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /** Drops everything written so far; the target names are left untouched. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    fs.rmSync(this.recTmp, { force: true });
    if (this.idxTmp) fs.rmSync(this.idxTmp, { force: true });
  }
}

/**
 * Writes the insightface layout: key 0 a header record whose labels are [N, N + C] (image keys are
 * 1..N-1, identity keys N..N+C-1), the images grouped by identity, then one record per identity whose
 * labels are that identity's image-key range [start, end). Image records carry the scalar identity
 * label and id = key, as insightface's face2rec does.
 */
export class InsightfaceRecordIOWriter {
  private readonly writer: RecordIOWriter;
  private readonly imageEnd: number;
  private nextKey = 1;
  private identity = 0;
  private writtenInIdentity = 0;
  private readonly ranges: Array<[number, number]> = [];

  private constructor(
    recPath: string,
    idxPath: string,
    private readonly identitySizes: readonly number[],
  ) {
    if (identitySizes.some((n) => !Number.isInteger(n) || n < 1)) throw new RangeError('every identity needs at least one image');
    this.writer = RecordIOWriter.open(recPath, idxPath);
    this.imageEnd = 1 + identitySizes.reduce((s, n) => s + n, 0);
    this.writer.write(0, { label: [this.imageEnd, this.imageEnd + identitySizes.length] }, new Uint8Array(0));
  }

  /** @param identitySizes images per identity, in the order the images will be written. */
  static open(recPath: string, idxPath: string, identitySizes: readonly number[]): InsightfaceRecordIOWriter {
    return new InsightfaceRecordIOWriter(recPath, idxPath, identitySizes);
  }

  /** Writes the next image; images must arrive identity by identity, in order. Returns its key. */
  writeImage(label: number, image: Uint8Array): number {
    while (this.identity < this.identitySizes.length && this.writtenInIdentity === this.identitySizes[this.identity]) {
      this.identity++;
      this.writtenInIdentity = 0;
    }
    if (this.identity >= this.identitySizes.length) throw new RangeError('more images than the identity sizes announced');
    if (label !== this.identity) throw new RangeError(`image ${this.nextKey}: expected label ${this.identity}, got ${label}`);
    if (this.writtenInIdentity === 0) this.ranges.push([this.nextKey, this.nextKey + this.identitySizes[this.identity]]);
    const key = this.nextKey++;
    this.writer.write(key, { label, id: key }, image);
    this.writtenInIdentity++;
    return key;
  }

  get bytesWritten(): number {
    return this.writer.bytesWritten;
  }

  close(): void {
    if (this.nextKey !== this.imageEnd) {
      this.writer.abort();
      throw new RangeError(`wrote ${this.nextKey - 1} images, announced ${this.imageEnd - 1}`);
    }
    this.ranges.forEach(([a, b], i) => this.writer.write(this.imageEnd + i, { label: [a, b] }, new Uint8Array(0)));
    this.writer.close();
  }

  abort(): void {
    this.writer.abort();
  }
}
