/**
 * Draws pictures on worker threads (one per core by default) and hands the results back in task
 * order, so the output is the same bytes whatever the number of workers. Workers load the
 * TypeScript sources through tsx, as the `fcn` entry point does.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { runDrawTask, type DrawResult, type DrawTask } from './draw-task';

export interface DrawPool {
  /** Results in task order. */
  draw(tasks: readonly DrawTask[]): AsyncGenerator<DrawResult>;
  close(): Promise<void>;
}

/** Draws in the calling thread. */
class InlinePool implements DrawPool {
  async *draw(tasks: readonly DrawTask[]): AsyncGenerator<DrawResult> {
    for (const task of tasks) yield runDrawTask(task);
  }

  async close(): Promise<void> {}
}

// Plain JavaScript evaluated in each worker: register tsx, load the task runner, serve chunks.
const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
require(workerData.tsx);
const { runDrawTask } = require(workerData.module);
parentPort.on('message', ({ id, tasks }) => {
  try {
    const results = tasks.map(runDrawTask);
    parentPort.postMessage({ id, results }, results.map((r) => r.jpeg.buffer));
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.stack) || e) });
  }
});
`;

interface Reply {
  id: number;
  results?: DrawResult[];
  error?: string;
}

class WorkerPool implements DrawPool {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (r: DrawResult[]) => void; reject: (e: Error) => void }>();
  private nextRequest = 0;
  private failure: Error | undefined;

  constructor(count: number) {
    const workerData = { tsx: require.resolve('tsx/cjs'), module: path.join(__dirname, 'draw-task.ts') };
    this.workers = Array.from({ length: count }, () => {
      const w = new Worker(BOOTSTRAP, { eval: true, workerData });
      w.on('message', (m: Reply) => this.settle(m));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`draw worker exited with code ${code}`));
      });
      return w;
    });
  }

  private settle(m: Reply): void {
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (m.error !== undefined) w.reject(new Error(`draw worker: ${m.error}`));
    else w.resolve(m.results!);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  private request(worker: Worker, tasks: DrawTask[]): Promise<DrawResult[]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, tasks });
    });
  }

  async *draw(tasks: readonly DrawTask[], chunkSize = 8): AsyncGenerator<DrawResult> {
    const chunks: DrawTask[][] = [];
    for (let i = 0; i < tasks.length; i += chunkSize) chunks.push(tasks.slice(i, i + chunkSize));
    // Two chunks in flight per worker keep each busy while the caller writes results.
    const inFlight: Promise<DrawResult[]>[] = [];
    let sent = 0;
    const send = () => {
      const chunk = chunks[sent];
      const result = this.request(this.workers[sent % this.workers.length], chunk);
      result.catch(() => undefined); // observed below, in order
      inFlight.push(result);
      sent++;
    };
    while (sent < chunks.length && inFlight.length < 2 * this.workers.length) send();
    while (inFlight.length > 0) {
      const results = await inFlight.shift()!;
      if (sent < chunks.length) send();
      for (const r of results) yield r;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Worker threads to use by default: one per available core. */
export function defaultWorkerCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** `workers` ≤ 1 draws in the calling thread. */
export function createDrawPool(workers: number): DrawPool {
  return workers <= 1 ? new InlinePool() : new WorkerPool(workers);
}
