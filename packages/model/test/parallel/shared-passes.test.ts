/**
 * The passes split between this thread and the worker give bit-identical results to one thread,
 * and a failure on the worker comes back as an error naming it.
 */
import { Rng } from '@facecoreset/common';
import { AdamW } from '../../src/optim/adamw';
import { PARALLEL_FROM, isShared, runPasses, sharedFloat32, sharedFloat64, splitPass } from '../../src/parallel/shared-passes';
import { adamwRange, kernelGradientRange, transposeColumnNormsRange } from '../../src/parallel/pass-kernels';

/** Values in [−0.5, 0.5) from a 32-bit xorshift seeded by `seed` (fast for arrays of a million). */
function random(n: number, seed: number, shared: boolean): Float32Array {
  const a = shared ? sharedFloat32(n) : new Float32Array(n);
  let x = (Rng.stream(seed, 'shared-passes-test').int(1, 0x7fffffff) | 0) || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = (x >>> 0) / 4294967296 - 0.5;
  }
  return a;
}

describe('shared passes', () => {
  const n = PARALLEL_FROM * 2 + 17;

  it('allocates large arrays in shared memory on a multi-core machine', () => {
    expect(isShared(sharedFloat32(n))).toBe(true);
    expect(isShared(sharedFloat32(10))).toBe(false);
  });

  it('AdamW split with the worker equals AdamW on one thread, bit for bit, over several steps', () => {
    const names = ['big', 'small'];
    const run = (shared: boolean) => {
      const values = new Map([
        ['big', random(n, 1, shared)],
        ['small', random(1000, 2, false)],
      ]);
      const opt = new AdamW([{ params: names, lr: 1e-3, weightDecay: 1e-2 }]);
      for (let step = 0; step < 3; step++) {
        const grads = new Map([
          ['big', random(n, 10 + step, shared)],
          ['small', random(1000, 20 + step, false)],
        ]);
        opt.step(values, grads, { gradScale: 0.75 });
      }
      return { values, state: opt.state };
    };
    const split = run(true);
    const single = run(false);
    expect(isShared(split.state.get('big')?.expAvg as Float32Array)).toBe(true);
    for (const name of names) {
      expect(Buffer.compare(Buffer.from((split.values.get(name) as Float32Array).buffer), Buffer.from((single.values.get(name) as Float32Array).buffer))).toBe(0);
      expect(Array.from(split.state.get(name)?.expAvgSq as Float32Array)).toEqual(Array.from(single.state.get(name)?.expAvgSq as Float32Array));
    }
  });

  it('the kernel passes split by columns and rows equal one thread', () => {
    const D = 64;
    const C = Math.ceil(PARALLEL_FROM / D) + 5;
    const w = random(D * C, 3, true);
    const outSplit = sharedFloat32(D * C);
    const normSplit = sharedFloat64(C);
    splitPass('transposeColumnNormsRange', [w, D, C, outSplit, normSplit], C, [w, outSplit, normSplit], { unit: D });
    const out = new Float32Array(D * C);
    const norm = new Float64Array(C);
    transposeColumnNormsRange(w, D, C, out, norm, 0, C);
    expect(Array.from(outSplit)).toEqual(Array.from(out));
    expect(Array.from(normSplit)).toEqual(Array.from(norm));
    expect(out[5 * D + 7]).toBe(w[7 * C + 5]);

    const eTg = random(D * C, 4, true);
    const eTgPlain = Float32Array.from(eTg);
    const proj = random(C, 5, false);
    const sumSplit = splitPass('kernelGradientRange', [eTg, proj, w, norm, C], D, [eTg, w], { unit: C });
    const sum = kernelGradientRange(eTgPlain, proj, w, norm, C, 0, D);
    expect(Array.from(eTg)).toEqual(Array.from(eTgPlain));
    expect(Math.abs(sumSplit - sum) / sum).toBeLessThanOrEqual(1e-12);
  });

  it('reports a failure on the worker thread as an error', () => {
    const p = sharedFloat32(n);
    expect(() => runPasses([], [{ kernel: 'adamwRange', args: [p, p, p, p, null], start: 0, end: n }])).toThrow(/shared passes: the worker thread failed: .*TypeError/);
    // The worker is still usable afterwards.
    const g = sharedFloat32(n);
    g.fill(1);
    const m = sharedFloat32(n);
    const v = sharedFloat32(n);
    const k = { scale: 1, decay: 1, stepSize: 1e-3, invBc2Sqrt: 1, eps: 1e-8, b1: 0.9, b2: 0.999 };
    runPasses([], [{ kernel: 'adamwRange', args: [p, g, m, v, k], start: 0, end: n }]);
    const expected = new Float32Array(1);
    adamwRange(expected, Float32Array.of(1), new Float32Array(1), new Float32Array(1), k, 0, 1);
    expect(p[n - 1]).toBe(expected[0]);
  });
});
