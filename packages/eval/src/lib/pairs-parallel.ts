/**
 * Pair scoring on all cores: the template descriptors, the pair positions (in tile order) and the
 * output live in one shared WebAssembly memory; the main thread and worker threads each run the
 * SIMD kernel over their share of the pairs. Same numbers as {@link scorePairs}, bit for bit.
 */
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import { sharedKernelModule, type ScoreFunction } from './dot-kernel';
import { scorePairs, tileOrder, type ResolvedPairs, type ScoreOptions } from './pairs';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const instance = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } });
parentPort.on('message', (m) => {
  instance.exports.score(m.rows, m.p1, m.p2, m.out, m.n, m.rowBytes);
  parentPort.postMessage(m.n);
});
`;

const PAGE = 65536;
/** Shared memories above this size fall back to the single-thread, chunked scorer. */
const MAX_SHARED_BYTES = 2 ** 31;
const STEP = 1 << 20;

export interface ParallelScoreOptions extends ScoreOptions {
  /** Worker threads besides the main thread (default: one per extra core). */
  threads?: number;
}

/**
 * score[i] = descriptors[a[i]] · descriptors[b[i]] on `threads` + 1 threads.
 * @param descriptors [NT, D] unit template descriptors
 */
export async function scorePairsParallel(descriptors: Float64Array, dim: number, pairs: ResolvedPairs, options: ParallelScoreOptions = {}): Promise<Float64Array> {
  const threads = options.threads ?? Math.max(0, os.availableParallelism() - 1);
  const n = pairs.a.length;
  const mod = sharedKernelModule();
  const rowBytes = dim * 8;
  const aOff = descriptors.length * 8;
  const bOff = aOff + n * 4;
  const outOff = Math.ceil((bOff + n * 4) / 8) * 8;
  const total = outOff + n * 8;
  if (threads === 0 || !mod || dim % 8 !== 0 || options.forceJs || total > MAX_SHARED_BYTES || n < 100_000) return scorePairs(descriptors, dim, pairs, options);
  const pages = Math.ceil(total / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const buffer = memory.buffer as unknown as ArrayBuffer;
  new Float64Array(buffer, 0, descriptors.length).set(descriptors);
  const order = tileOrder(pairs, descriptors.length / dim);
  const a = new Int32Array(buffer, aOff, n);
  const b = new Int32Array(buffer, bOff, n);
  for (let k = 0; k < n; k++) {
    a[k] = pairs.a[order[k]];
    b[k] = pairs.b[order[k]];
  }
  const score = (new WebAssembly.Instance(mod, { env: { memory } }).exports as { score: ScoreFunction }).score;
  // Equal shares; the main thread takes the first one.
  const share = Math.ceil(n / (threads + 1));
  const workers: Promise<void>[] = [];
  for (let t = 1; t <= threads; t++) {
    const start = Math.min(n, t * share);
    const count = Math.min(n, (t + 1) * share) - start;
    if (count <= 0) continue;
    workers.push(
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: mod, memory } });
        worker.once('message', (done: number) => {
          options.onProgress?.(done);
          void worker.terminate();
          resolve();
        });
        worker.once('error', reject);
        worker.postMessage({ rows: 0, p1: aOff + start * 4, p2: bOff + start * 4, out: outOff + start * 8, n: count, rowBytes });
      }),
    );
  }
  const mine = Math.min(n, share);
  for (let start = 0; start < mine; start += STEP) {
    const count = Math.min(STEP, mine - start);
    score(0, aOff + start * 4, bOff + start * 4, outOff + start * 8, count, rowBytes);
    options.onProgress?.(count);
  }
  await Promise.all(workers);
  const out = new Float64Array(buffer, outOff, n);
  const scores = new Float64Array(n);
  for (let k = 0; k < n; k++) scores[order[k]] = out[k];
  return scores;
}
