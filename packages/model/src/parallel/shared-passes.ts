/**
 * Two threads for the passes over the biggest arrays of a training step (AdamW over the AdaFace
 * kernel's 5 M values, its transpose and column norms, its gradient): the calling thread takes
 * part of the index range and one worker thread the rest, synchronously (the caller blocks on an
 * Atomics flag until the worker's part is done). Works on arrays backed by a SharedArrayBuffer
 * (see sharedFloat32); anything else, small passes, and single-core machines run on the calling
 * thread alone. Results are identical either way: every element is computed by the same code.
 *
 * FCN_PASS_THREADS=1 turns the worker off.
 */
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import { PASS_KERNELS, PassKernelName } from './pass-kernels';

/** Passes shorter than this stay on the calling thread (a round trip to the worker costs ~0.1 ms). */
export const PARALLEL_FROM = 1 << 18;

// Plain JavaScript, run with `eval: true`; the kernels' TypeScript module loads through tsx.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.tsx) require(workerData.tsx);
const { PASS_KERNELS, BACKEND_KERNELS, prepareThreadBackend } = require(workerData.module);
let backendReady;
let queue = Promise.resolve();
function fail(error, done, e) {
  const text = new TextEncoder().encode(String(e && e.stack ? e.stack : e)).subarray(0, error.length - 4);
  new DataView(error.buffer, error.byteOffset).setUint32(0, text.length);
  error.set(text, 4);
  Atomics.store(done, 0, 2);
  Atomics.notify(done, 0);
}
// Batches run one after another in arrival order, also while a backend is being prepared.
parentPort.on('message', ({ jobs, done, result, error }) => {
  queue = queue.then(async () => {
    try {
      if (jobs.some((job) => BACKEND_KERNELS.has(job.kernel))) await (backendReady ??= prepareThreadBackend());
      let sum = 0;
      for (const job of jobs) sum += PASS_KERNELS[job.kernel](...job.args, job.start, job.end);
      result[0] = sum;
      Atomics.store(done, 0, 1);
      Atomics.notify(done, 0);
    } catch (e) {
      fail(error, done, e);
    }
  });
});
`;

/** One pass over [start, end) of a kernel; `args` come before start and end. */
export interface PassJob {
  kernel: PassKernelName;
  args: unknown[];
  start: number;
  end: number;
}

interface PassWorker {
  worker: Worker;
}

let passWorker: PassWorker | null | undefined;

function workerEnabled(): boolean {
  return process.env.FCN_PASS_THREADS !== '1' && os.availableParallelism() > 1;
}

function getWorker(): PassWorker | null {
  if (passWorker !== undefined) return passWorker;
  if (!workerEnabled()) return (passWorker = null);
  const module = require.resolve('./pass-kernels');
  const tsx = module.endsWith('.ts') ? require.resolve('tsx/cjs') : undefined;
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, tsx } });
  // Idle between steps; it must not keep the process alive.
  worker.unref();
  const entry: PassWorker = { worker };
  worker.on('exit', () => {
    if (passWorker === entry) passWorker = undefined;
  });
  return (passWorker = entry);
}

/** Whether batches started now go to a worker thread (else they run on the calling thread). */
export function hasPassWorker(): boolean {
  return getWorker() !== null;
}

/** A float32 array in shared memory when the worker is in use (else a plain one). */
export function sharedFloat32(length: number): Float32Array {
  return workerEnabled() && length >= PARALLEL_FROM ? new Float32Array(new SharedArrayBuffer(length * 4)) : new Float32Array(length);
}

/** A float64 array in shared memory when the worker is in use (else a plain one). */
export function sharedFloat64(length: number): Float64Array {
  return workerEnabled() ? new Float64Array(new SharedArrayBuffer(length * 8)) : new Float64Array(length);
}

export function isShared(a: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

function runHere(jobs: readonly PassJob[]): number {
  let sum = 0;
  for (const job of jobs) sum += (PASS_KERNELS[job.kernel] as (...a: unknown[]) => number)(...job.args, job.start, job.end);
  return sum;
}

/** Jobs handed to the worker; wait() blocks until they are done and returns their sum. */
export interface PendingPasses {
  wait(): number;
}

/**
 * Starts `jobs` on the worker thread and returns at once (without a worker they run here, now).
 * The worker runs batches in the order they were started. The jobs may only touch shared arrays,
 * and nothing may touch what they write until wait() has returned.
 */
export function startPasses(jobs: readonly PassJob[]): PendingPasses {
  const w = jobs.length ? getWorker() : null;
  if (!w) {
    const result = runHere(jobs);
    return { wait: () => result };
  }
  // Completion flag, partial sum and room for an error message, one set per batch.
  const memory = new SharedArrayBuffer(16 + 4096);
  const done = new Int32Array(memory, 0, 1);
  const result = new Float64Array(memory, 8, 1);
  const error = new Uint8Array(memory, 16);
  w.worker.postMessage({ jobs, done, result, error });
  let value: number | undefined;
  return {
    wait: () => {
      if (value !== undefined) return value;
      // A batch needs at most a few tens of milliseconds; a minute means the worker is gone.
      if (Atomics.wait(done, 0, 0, 60_000) === 'timed-out') throw new Error('shared passes: the worker thread did not answer within 60 s');
      if (Atomics.load(done, 0) === 2) {
        const length = new DataView(memory, 16).getUint32(0);
        throw new Error(`shared passes: the worker thread failed: ${Buffer.from(error.slice(4, 4 + length)).toString('utf8')}`);
      }
      return (value = result[0]);
    },
  };
}

/**
 * Runs `workerJobs` on the worker thread while `localJobs` run here; returns the sum of all
 * partial results. The worker's jobs may only touch shared arrays.
 */
export function runPasses(localJobs: readonly PassJob[], workerJobs: readonly PassJob[]): number {
  const pending = startPasses(workerJobs);
  const local = runHere(localJobs);
  return local + pending.wait();
}

/**
 * Splits one pass over [0, n) at the point where the worker gets `workerShare` of it, when every
 * array in `shared` is in shared memory and the pass (n × `unit` elements) is long enough;
 * otherwise runs it here.
 */
export function splitPass(kernel: PassKernelName, args: unknown[], n: number, shared: readonly ArrayBufferView[], opts: { unit?: number; workerShare?: number } = {}): number {
  const workerShare = opts.workerShare ?? 0.5;
  const parallel = n * (opts.unit ?? 1) >= PARALLEL_FROM && shared.every(isShared) && getWorker() !== null;
  if (!parallel) return runHere([{ kernel, args, start: 0, end: n }]);
  const split = Math.round(n * (1 - workerShare));
  return runPasses([{ kernel, args, start: 0, end: split }], [{ kernel, args, start: split, end: n }]);
}
