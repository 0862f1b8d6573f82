import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';

describe('initBackend', () => {
  it('loads wasm and cpu when forced and computes the same matmul on both', async () => {
    const a = [[1, 2], [3, 4]];
    const b = [[5, 6], [7, 8]];
    const out: number[][] = [];
    for (const name of ['wasm', 'cpu']) {
      const choice = await initBackend({ backend: name, log: null });
      expect(choice.name).toBe(name);
      expect(tf.getBackend()).toBe(name);
      out.push(Array.from(tf.matMul(tf.tensor2d(a), tf.tensor2d(b)).dataSync()));
    }
    expect(out[0]).toEqual([19, 22, 43, 50]);
    expect(out[1]).toEqual(out[0]);
  });

  it('rejects an unknown backend name with the list of valid ones', async () => {
    await expect(initBackend({ backend: 'tpu', log: null })).rejects.toThrow(/unknown backend 'tpu'.*node-gpu, node, wasm, cpu/);
  });

  it('falls through native backends that cannot load and logs the choice once', async () => {
    const lines: string[] = [];
    const prev = process.env.FCN_BACKEND;
    delete process.env.FCN_BACKEND;
    try {
      // A fresh module registry so the automatic choice runs from the start.
      await jest.isolateModulesAsync(async () => {
        const fresh = await import('../src/backend');
        const choice = await fresh.initBackend({ log: (l) => lines.push(l) });
        expect(['node-gpu', 'node', 'wasm']).toContain(choice.name);
        await fresh.initBackend({ log: (l) => lines.push(l) });
      });
    } finally {
      if (prev !== undefined) process.env.FCN_BACKEND = prev;
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[fcn\] compute backend: /);
  });
});
