/**
 * FaceCoresetNet from a checkpoint (the official Lightning .ckpt or our own format), as an
 * evaluation Aggregator (eval mode: zero-noise farthest-point selection), on several threads.
 */
import * as fs from 'node:fs';
import { InputError } from '@facecoreset/common';
import { initBackend, loadAggregatorCheckpoint } from '@facecoreset/model';
import type { Aggregator } from '../lib/aggregator';
import { parallelAggregator } from '../lib/parallel';
import { setModelAggregator } from '../lib/set-model';

/** A single-threaded FaceCoresetNet aggregator (also the factory the worker threads call). */
export async function createFaceCoresetNetAggregator(args: { checkpoint: string }): Promise<Aggregator> {
  const file = args.checkpoint;
  if (!fs.existsSync(file)) throw new InputError('checkpoint not found', file);
  await initBackend({ log: null });
  const model = loadAggregatorCheckpoint(fs.readFileSync(file), file).aggregator;
  return setModelAggregator('facecoresetnet', {
    aggregateBatch: (features, norms, batch, size) => {
      const out = model.aggregateBatch(features, norms, batch, size);
      return { aggregate: out.aggregate, norm: out.norm, indices: out.indices, coresetSize: out.coresetSize };
    },
  });
}

/**
 * FaceCoresetNet on the main thread plus `threads` workers (default: one per extra core).
 * Call `close()` on the result when done.
 */
export async function loadFaceCoresetNetAggregator(file: string, threads?: number) {
  const local = await createFaceCoresetNetAggregator({ checkpoint: file });
  return parallelAggregator(local, { module: __filename, factory: 'createFaceCoresetNetAggregator', args: { checkpoint: file } }, threads);
}
