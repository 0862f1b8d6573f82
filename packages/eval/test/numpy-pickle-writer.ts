/**
 * Writes a dict of numpy arrays the way `pickle.dump(d, f)` (protocol 4, Python 3.8+) does for
 * numpy ≥ 1.x `ndarray`s: the same opcodes, memo indices and frames, so the output is
 * byte-identical to what Python writes. Used to build IJB-sized official-format inputs for the
 * scale benchmark and tests (the project only reads pickles; this writer is test tooling).
 *
 * Python's framer: opcodes go into frames (FRAME + 8-byte length) that are closed at an object
 * boundary once they reach 64 KiB; a bytes payload of 64 KiB or more is written outside any frame
 * (the current frame is closed first).
 */
import * as fs from 'node:fs';

export interface PickleArray {
  /** numpy dtype string: 'f4' (float32) or 'f8' (float64) or 'i8' (int64). */
  dtype: 'f4' | 'f8' | 'i8';
  shape: number[];
  /** Little-endian element bytes, C order. */
  bytes: Uint8Array;
}

const FRAME_TARGET = 64 * 1024;

class Framer {
  private frame: number[] = [];
  constructor(private readonly sink: (b: Uint8Array) => void) {}
  write(...bytes: number[]): void {
    for (const b of bytes) this.frame.push(b);
  }
  /** Closes the frame when it is big enough (Python calls this at the start of every save()). */
  commit(force = false): void {
    if (this.frame.length === 0 || (!force && this.frame.length < FRAME_TARGET)) return;
    const header = new Uint8Array(9);
    header[0] = 0x95;
    new DataView(header.buffer).setBigUint64(1, BigInt(this.frame.length), true);
    this.sink(header);
    this.sink(Uint8Array.from(this.frame));
    this.frame = [];
  }
  writeLarge(header: number[], payload: Uint8Array): void {
    this.commit(true);
    this.sink(Uint8Array.from(header));
    this.sink(payload);
  }
}

const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** Streams the pickle of `{key: array, ...}` (insertion order) to `sink`. */
export function writeNumpyDictPickle(entries: [string, PickleArray][], sink: (b: Uint8Array) => void): void {
  const f = new Framer(sink);
  let memoCount = 0;
  const memo = new Map<string, number>();
  const memoize = (key?: string): void => {
    f.write(0x94);
    if (key !== undefined) memo.set(key, memoCount);
    memoCount++;
  };
  const binget = (key: string): boolean => {
    const i = memo.get(key);
    if (i === undefined) return false;
    if (i < 256) f.write(0x68, i);
    else f.write(0x6a, ...u32(i));
    return true;
  };
  const str = (s: string, key?: string): void => {
    const b = Buffer.from(s, 'utf8');
    f.write(0x8c, b.length, ...b);
    memoize(key);
  };
  const int = (n: number): void => {
    if (n >= 0 && n < 256) f.write(0x4b, n);
    else if (n >= 0 && n < 65536) f.write(0x4d, n & 0xff, n >> 8);
    else f.write(0x4a, ...u32(n));
  };
  const global = (module: string, name: string): void => {
    if (binget(`global:${module}.${name}`)) return;
    if (!binget(`str:${module}`)) str(module, `str:${module}`);
    str(name, `str:${name}`);
    f.write(0x93);
    memoize(`global:${module}.${name}`);
  };
  sink(Uint8Array.from([0x80, 4])); // PROTO comes before the first frame
  f.write(0x7d); // EMPTY_DICT
  memoize();
  f.write(0x28); // MARK
  for (const [key, arr] of entries) {
    f.commit();
    str(key);
    f.commit();
    // _reconstruct(ndarray, (0,), b'b')
    global('numpy.core.multiarray', '_reconstruct');
    global('numpy', 'ndarray');
    int(0);
    f.write(0x85);
    memoize();
    if (!binget('bytes:b')) {
      f.write(0x43, 1, 0x62);
      memoize('bytes:b');
    }
    f.write(0x87);
    memoize();
    f.write(0x52);
    memoize();
    // state (1, shape, dtype, False, raw bytes)
    f.write(0x28);
    int(1);
    for (const d of arr.shape) int(d);
    f.write(arr.shape.length === 1 ? 0x85 : arr.shape.length === 2 ? 0x86 : 0x87);
    memoize();
    if (!binget(`dtype:${arr.dtype}`)) {
      global('numpy', 'dtype');
      str(arr.dtype);
      f.write(0x89, 0x88, 0x87);
      memoize();
      f.write(0x52);
      memoize(`dtype:${arr.dtype}`);
      f.write(0x28);
      int(3);
      if (!binget('str:<')) str('<', 'str:<');
      f.write(0x4e, 0x4e, 0x4e);
      int(-1 >>> 0);
      int(-1 >>> 0);
      int(0);
      f.write(0x74);
      memoize();
      f.write(0x62);
    }
    f.write(0x89); // NEWFALSE (C order)
    f.commit();
    const header = [0x42, ...u32(arr.bytes.length)]; // BINBYTES
    if (arr.bytes.length >= FRAME_TARGET) f.writeLarge(header, arr.bytes);
    else {
      f.write(...header);
      for (const b of arr.bytes) f.write(b);
    }
    memoize();
    f.write(0x74);
    memoize();
    f.write(0x62); // BUILD
  }
  f.write(0x75, 0x2e); // SETITEMS, STOP
  f.commit(true);
}

/** Writes the pickle to a file (streamed: large payloads go straight from their buffers). */
export function writeNumpyDictPickleFile(file: string, entries: [string, PickleArray][]): void {
  const fd = fs.openSync(file, 'w');
  try {
    writeNumpyDictPickle(entries, (b) => {
      let off = 0;
      while (off < b.length) off += fs.writeSync(fd, b, off, Math.min(b.length - off, 1 << 30));
    });
  } finally {
    fs.closeSync(fd);
  }
}

export const float32Array = (data: Float32Array, shape: number[]): PickleArray => ({ dtype: 'f4', shape, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
