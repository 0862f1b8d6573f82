/**
 * A small seeded random number generator whose whole state is four 32-bit words (xoshiro128**),
 * so it can be written into a checkpoint and restored exactly.
 *
 * Training derives every random stream from the run seed and a key (e.g. ['batch', epoch, index]),
 * so the randomness of step k never depends on how many numbers earlier steps consumed: a resumed
 * run draws exactly what an uninterrupted one would.
 */

export type RngState = [number, number, number, number];

/** splitmix32: a good 32-bit mixer, used to turn (seed, key...) into a well-spread state. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over a string, for string parts of a stream key. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** 32-bit rotate left, as a signed int32 (values stay small integers, which V8 keeps unboxed). */
function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  // xoshiro128** state, held as signed int32s; exposed as unsigned by state().
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(state: RngState) {
    [this.s0, this.s1, this.s2, this.s3] = state.map((v) => v | 0) as RngState;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** A stream determined by the seed and a key; equal (seed, key) give equal streams. */
  static stream(seed: number, ...key: (string | number)[]): Rng {
    let h = splitmix32(seed >>> 0);
    for (const part of key) {
      const v = typeof part === 'number' ? part >>> 0 : hashString(part);
      h = splitmix32(h ^ v);
    }
    const state: RngState = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) {
      h = splitmix32(h + i);
      state[i] = h;
    }
    return new Rng(state);
  }

  static fromState(state: RngState): Rng {
    if (!Array.isArray(state) || state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new Error(`Rng.fromState: expected four unsigned 32-bit integers, got ${JSON.stringify(state)}`);
    }
    return new Rng(state);
  }

  state(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** The next unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [lo, hi] (both inclusive), without modulo bias. */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) throw new Error(`Rng.int: expected integers lo <= hi, got ${lo}, ${hi}`);
    const span = hi - lo + 1;
    if (span > 0x100000000) throw new Error(`Rng.int: range too large (${span})`);
    if (span === 0x100000000) return lo + this.nextU32();
    const limit = 0x100000000 - (0x100000000 % span);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return lo + (x % span);
  }

  /** Shuffles `a` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
