/**
 * Eval-mode IResNet inference spread over worker threads. tfjs's wasm backend runs on one thread
 * under Node, so on a machine with N cores N workers (each with its own backend instance and copy
 * of the folded weights) give up to N times the images/s of IResNetInference. Results are the
 * same as IResNetInference's (same kernels on the same backend), in input order.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { EmbeddingBatch, FlipFusionMethod, fuseFlipFeatures } from './flip-fusion';
import { IResNetConfig } from './config';
import { flipImagesHorizontally } from './preprocess';
import { IResNetWeights } from './weights';

export type WorkerRequest =
  | { type: 'init'; id: number; backend: string; config: IResNetConfig; tensors: [string, Float32Array][] }
  | { type: 'embed'; id: number; images: Float32Array; count: number }
  | { type: 'close'; id: number };

export type WorkerReply =
  | { type: 'ready' | 'closed'; id: number }
  | { type: 'embedded'; id: number; embedding: Float32Array; norm: Float32Array }
  | { type: 'failed'; id: number; message: string };

/** A request before the pool numbers it (Omit distributed over the union). */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

export interface WorkerPoolOptions {
  /** Number of threads (default: the machine's available parallelism). */
  workers?: number;
  /** tfjs backend in each thread (default 'wasm'). */
  backend?: 'wasm' | 'cpu';
}

class PoolWorker {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  private failure: Error | undefined;

  constructor(readonly worker: Worker) {
    worker.on('message', (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.type === 'failed') p.reject(new Error(`IResNet worker: ${r.message}`));
      else p.resolve(r);
    });
    const fail = (e: Error) => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.pending.size > 0) fail(new Error(`IResNet worker exited with code ${code}`));
    });
  }

  request(msg: Unnumbered<WorkerRequest>, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

/** Starts a worker thread running inference-worker (TypeScript through tsx when run from sources). */
function startWorker(): Worker {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `inference-worker${ext}`);
  if (ext === '.ts') return new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true });
  return new Worker(file);
}

export class IResNetWorkerPool {
  private constructor(
    readonly config: IResNetConfig,
    private readonly workers: PoolWorker[],
  ) {}

  /** Starts the threads and loads the weights into each (copies; the caller keeps its own). */
  static async create(weights: IResNetWeights, opts: WorkerPoolOptions = {}): Promise<IResNetWorkerPool> {
    const n = Math.max(1, opts.workers ?? os.availableParallelism());
    const workers = Array.from({ length: n }, () => new PoolWorker(startWorker()));
    const tensors = [...weights.tensors];
    try {
      await Promise.all(workers.map((w) => w.request({ type: 'init', backend: opts.backend ?? 'wasm', config: weights.config, tensors })));
    } catch (e) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw e;
    }
    return new IResNetWorkerPool(weights.config, workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Embeddings and norms of `count` images, split into contiguous chunks, one per thread.
   * @param images float32 [count, S, S, 3] as backboneInputFromRgb makes them
   */
  async embed(images: Float32Array, count: number): Promise<EmbeddingBatch> {
    const s = this.config.inputSize;
    const per = s * s * 3;
    if (images.length !== count * per) throw new Error(`IResNetWorkerPool embed: expected ${count}x${s}x${s}x3 = ${count * per} values, got ${images.length}`);
    const d = this.config.embeddingSize;
    const chunk = Math.ceil(count / this.workers.length);
    const jobs: Promise<WorkerReply>[] = [];
    for (let w = 0, start = 0; start < count; w++, start += chunk) {
      const n = Math.min(chunk, count - start);
      const part = images.slice(start * per, (start + n) * per);
      jobs.push(this.workers[w].request({ type: 'embed', images: part, count: n }, [part.buffer]));
    }
    const parts = await Promise.all(jobs);
    const embedding = new Float32Array(count * d);
    const norm = new Float32Array(count);
    let row = 0;
    for (const p of parts) {
      if (p.type !== 'embedded') throw new Error(`IResNetWorkerPool: unexpected reply '${p.type}'`);
      embedding.set(p.embedding, row * d);
      norm.set(p.norm, row);
      row += p.norm.length;
    }
    return { embedding, norm };
  }

  /** Flip test as IResNetInference.embedWithFlip, on the pool. */
  async embedWithFlip(images: Float32Array, count: number, method: FlipFusionMethod = 'pre_norm_vector_add'): Promise<EmbeddingBatch> {
    const s = this.config.inputSize;
    const original = await this.embed(images, count);
    const flipped = await this.embed(flipImagesHorizontally(images, count, s, s, 3), count);
    return fuseFlipFeatures(original, flipped, method);
  }

  /** Stops every thread. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ type: 'close' }).catch(() => undefined)));
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
