/**
 * The worker-thread pool gives what IResNetInference gives in-process, in input order, whatever
 * the split of the batch across threads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { IResNetInference, IResNetWorkerPool, initIResNetWeights, iresnetConfig } from '../src/backbone';
import { maxRelToMax } from './backbone-fixtures';

const config = iresnetConfig({ widths: [8, 16], units: [1, 1], embeddingSize: 12, inputSize: 16 });

it('embeds (with and without the flip test) like the in-process model, split over 2 threads', async () => {
  await initBackend({ backend: 'wasm', log: null });
  const weights = initIResNetWeights(config, 21);
  const count = 5;
  const images = tf.randomNormal([count, 16, 16, 3], 0, 1, 'float32', 22).dataSync() as Float32Array;
  const local = IResNetInference.fromWeights(weights);
  const want = local.embed(images, count);
  const wantFlip = local.embedWithFlip(images, count, 'norm_weighted_avg');
  local.dispose();

  const pool = await IResNetWorkerPool.create(weights, { workers: 2 });
  try {
    expect(pool.size).toBe(2);
    const got = await pool.embed(images, count);
    expect(maxRelToMax(got.embedding, want.embedding)).toBeLessThan(1e-6);
    expect(maxRelToMax(got.norm, want.norm)).toBeLessThan(1e-6);
    const gotFlip = await pool.embedWithFlip(images, count, 'norm_weighted_avg');
    expect(maxRelToMax(gotFlip.embedding, wantFlip.embedding)).toBeLessThan(1e-6);
    expect(maxRelToMax(gotFlip.norm, wantFlip.norm)).toBeLessThan(1e-6);
    await expect(pool.embed(images.subarray(1), count)).rejects.toThrow(/expected 5x16x16x3 = 3840 values, got 3839/);
  } finally {
    await pool.close();
  }
}, 120_000);
