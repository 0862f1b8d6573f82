/**
 * Draws for the demo-data generator on top of common's seeded xoshiro128** streams. Every draw
 * comes from a stream keyed by (seed, purpose, index…), so one identity's or one image's draws do
 * not depend on how many others were generated before it, and the same seed gives the same bytes.
 */
import { Rng } from '@facecoreset/common';

export class Random {
  private spareNormal: number | undefined;

  private constructor(private readonly rng: Rng) {}

  /** The stream of (seed, key…). */
  static stream(seed: number, ...key: Array<string | number>): Random {
    return new Random(Rng.stream(seed, ...key));
  }

  /** Next unsigned 32-bit integer. */
  u32(): number {
    return this.rng.nextU32();
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.rng.float();
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.rng.float();
  }

  /** Integer uniform in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return this.rng.int(lo, hi);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.rng.float() < p;
  }

  /** Normal (Box–Muller, both values used). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== undefined) {
      const z = this.spareNormal;
      this.spareNormal = undefined;
      return mean + std * z;
    }
    let u = this.rng.float();
    while (u <= 1e-300) u = this.rng.float();
    const v = this.rng.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** Normal clipped to [lo, hi]. */
  clippedNormal(mean: number, std: number, lo: number, hi: number): number {
    return Math.min(hi, Math.max(lo, this.normal(mean, std)));
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.rng.int(0, items.length - 1)];
  }

  /** An index drawn with probability proportional to `weights`. */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((s, w) => s + w, 0);
    let r = this.rng.float() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    return this.rng.shuffle(items);
  }

  /** `count` distinct integers from [lo, hi], ascending. */
  distinctInts(count: number, lo: number, hi: number): number[] {
    if (count > hi - lo + 1) throw new RangeError(`distinctInts: cannot draw ${count} distinct values from [${lo}, ${hi}]`);
    const chosen = new Set<number>();
    while (chosen.size < count) chosen.add(this.rng.int(lo, hi));
    return [...chosen].sort((x, y) => x - y);
  }
}
