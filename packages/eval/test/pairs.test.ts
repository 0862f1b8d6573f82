import { InputError } from '@facecoreset/common';
import { buildTemplateIndex, createRowDotKernel, resolvePairs, scorePairs, scorePairsParallel } from '../src';

/** Deterministic pseudo-random numbers (mulberry32) for test data. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function unitRows(n: number, dim: number, rnd: () => number): Float64Array {
  const x = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (x[i * dim + d] = rnd() - 0.5) ** 2;
    for (let d = 0; d < dim; d++) x[i * dim + d] /= Math.sqrt(s);
  }
  return x;
}

function naiveDot(x: Float64Array, dim: number, a: number, b: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += x[a * dim + d] * x[b * dim + d];
  return s;
}

describe('row dot kernel', () => {
  it('uses WebAssembly SIMD here and agrees with a plain float64 loop to 1e-15', () => {
    const rnd = random(1);
    const dim = 512;
    const x = unitRows(300, dim, rnd);
    const a = Int32Array.from({ length: 5000 }, () => Math.floor(rnd() * 300));
    const b = Int32Array.from({ length: 5000 }, () => Math.floor(rnd() * 300));
    const wasm = createRowDotKernel(x, dim);
    expect(wasm.kind).toBe('wasm-simd');
    const out = new Float64Array(a.length);
    wasm.score(a, b, out);
    for (let i = 0; i < a.length; i++) expect(Math.abs(out[i] - naiveDot(x, dim, a[i], b[i]))).toBeLessThan(1e-15);
  });

  it('falls back to JavaScript for a dim that is not a multiple of 8', () => {
    const x = Float64Array.from([1, 2, 3, 4, 5, 6]);
    const k = createRowDotKernel(x, 3);
    expect(k.kind).toBe('js');
    const out = new Float64Array(2);
    k.score(Int32Array.from([0, 0]), Int32Array.from([1, 0]), out);
    expect(Array.from(out)).toEqual([32, 14]);
  });
});

describe('scorePairs', () => {
  it('returns scores in pair order whatever the tile order (many templates, both kernels)', () => {
    const rnd = random(2);
    const dim = 64;
    const nt = 700; // > 5 tiles per side
    const x = unitRows(nt, dim, rnd);
    const p = 6000;
    const pairs = { a: Int32Array.from({ length: p }, () => Math.floor(rnd() * nt)), b: Int32Array.from({ length: p }, () => Math.floor(rnd() * nt)) };
    let progressed = 0;
    const scores = scorePairs(x, dim, pairs, { onProgress: (n) => (progressed += n) });
    const js = scorePairs(x, dim, pairs, { forceJs: true });
    expect(progressed).toBe(p);
    for (let i = 0; i < p; i++) {
      const ref = naiveDot(x, dim, pairs.a[i], pairs.b[i]);
      expect(Math.abs(scores[i] - ref)).toBeLessThan(1e-15);
      expect(Math.abs(js[i] - ref)).toBeLessThan(1e-15);
    }
  });
});

describe('scorePairsParallel', () => {
  it('gives bit-identical scores on a worker thread plus the main thread', async () => {
    const rnd = random(3);
    const dim = 64;
    const nt = 400;
    const x = unitRows(nt, dim, rnd);
    const p = 150_000;
    const pairs = { a: Int32Array.from({ length: p }, () => Math.floor(rnd() * nt)), b: Int32Array.from({ length: p }, () => Math.floor(rnd() * nt)) };
    let progressed = 0;
    const parallel = await scorePairsParallel(x, dim, pairs, { threads: 1, onProgress: (n) => (progressed += n) });
    const single = scorePairs(x, dim, pairs);
    expect(progressed).toBe(p);
    expect(Buffer.from(parallel.buffer).equals(Buffer.from(single.buffer))).toBe(true);
  });
});

describe('resolvePairs', () => {
  const index = buildTemplateIndex([81, 81, 5, 19798, 5]);

  it('maps template ids to positions in ascending id order', () => {
    expect(Array.from(index.templateIds)).toEqual([5, 81, 19798]);
    expect(Array.from(index.rows)).toEqual([2, 4, 0, 1, 3]);
    const r = resolvePairs({ t1: Int32Array.from([5, 19798]), t2: Int32Array.from([81, 5]), labels: Uint8Array.from([0, 1]) }, index);
    expect([Array.from(r.a), Array.from(r.b)]).toEqual([[0, 2], [1, 0]]);
  });

  it('fails with the pair file and line for a template that has no faces (the official code scores it silently)', () => {
    const pairs = { file: 'ijbb_template_pair_label.txt', t1: Int32Array.from([5, 81]), t2: Int32Array.from([81, 82]), labels: Uint8Array.from([0, 1]), lines: Int32Array.from([1, 7]) };
    expect(() => resolvePairs(pairs, index, 'ijbb_face_tid_mid.txt')).toThrow(InputError);
    expect(() => resolvePairs(pairs, index, 'ijbb_face_tid_mid.txt')).toThrow(/^ijbb_template_pair_label.txt:line 7: pair names template 82, which has no faces in ijbb_face_tid_mid.txt/);
  });
});
