/**
 * Aggregation on several cores: the main thread and worker threads each hold their own copy of an
 * aggregator (built by a factory function the workers load themselves) and take batches in turn.
 * With 2 cores this nearly halves FaceCoresetNet's template pass at IJB-C scale.
 */
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { AggregateBatch, Aggregator, SetBatch } from './aggregator';

/** Where a worker finds its aggregator: `require(module)[factory](args)`. */
export interface WorkerAggregatorSpec {
  /** Absolute path of a TypeScript or JavaScript module. */
  module: string;
  /** Name of an export `(args) => Aggregator | Promise<Aggregator>`. */
  factory: string;
  /** Structured-cloneable arguments for the factory. */
  args: unknown;
}

// Plain JavaScript, run with `eval: true`; TypeScript modules are loaded through tsx's require hook.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.tsx) require(workerData.tsx);
const ready = Promise.resolve().then(() => require(workerData.module)[workerData.factory](workerData.args));
ready.catch(() => undefined);
parentPort.on('message', async (msg) => {
  try {
    const aggregator = await ready;
    const result = await aggregator.aggregate(msg.batch);
    parentPort.postMessage({ id: msg.id, result });
  } catch (e) {
    parentPort.postMessage({ id: msg.id, error: e && e.stack ? e.stack : String(e) });
  }
});
`;

interface PoolWorker {
  worker: Worker;
  busy: boolean;
}

export interface ParallelAggregator extends Aggregator {
  /** Number of worker threads besides the main thread. */
  readonly threads: number;
  /** Stops the workers. */
  close(): Promise<void>;
}

function tsxHook(module: string): string | undefined {
  if (!module.endsWith('.ts')) return undefined;
  return require.resolve('tsx/cjs');
}

/**
 * `local` runs batches on the calling thread; `threads` workers run the same aggregator built from
 * `spec`. A batch goes to an idle worker when there is one, else it runs locally. Evaluation keeps
 * `threads + 1` calls in flight (Aggregator.concurrency) and yields between batches so worker
 * results are picked up.
 */
export function parallelAggregator(local: Aggregator, spec: WorkerAggregatorSpec, threads = Math.max(0, os.availableParallelism() - 1)): ParallelAggregator {
  const pool: PoolWorker[] = [];
  const pending = new Map<number, { resolve: (r: AggregateBatch) => void; reject: (e: Error) => void; worker: PoolWorker }>();
  let nextId = 0;
  for (let i = 0; i < threads; i++) {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...spec, tsx: tsxHook(spec.module) } });
    const entry: PoolWorker = { worker, busy: false };
    worker.on('message', (msg: { id: number; result?: AggregateBatch; error?: string }) => {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      entry.busy = false;
      if (msg.error !== undefined) p.reject(new Error(`aggregation worker: ${msg.error}`));
      else p.resolve(msg.result as AggregateBatch);
    });
    worker.on('error', (e) => {
      for (const [id, p] of pending) {
        if (p.worker === entry) {
          pending.delete(id);
          p.reject(e);
        }
      }
    });
    worker.unref();
    pool.push(entry);
  }
  return {
    name: local.name,
    rowScale: local.rowScale,
    maxBatchRows: local.maxBatchRows,
    concurrency: threads + 1,
    threads,
    aggregate(batch: SetBatch): AggregateBatch | Promise<AggregateBatch> {
      const idle = pool.find((w) => !w.busy);
      if (!idle) return local.aggregate(batch);
      idle.busy = true;
      const id = nextId++;
      return new Promise<AggregateBatch>((resolve, reject) => {
        pending.set(id, { resolve, reject, worker: idle });
        idle.worker.ref();
        idle.worker.postMessage({ id, batch });
      }).finally(() => idle.worker.unref());
    },
    async close() {
      await Promise.all(pool.map((w) => w.worker.terminate()));
    },
  };
}
