/**
 * The random numbers of train step k (Gumbel noise of the coreset selection, dropout masks), drawn
 * from a stream keyed by (seed, k): a resumed run draws exactly what an uninterrupted one would.
 */
import { Rng } from '@facecoreset/common';
import type { StepRandomness } from './trainer';

/** Smallest uniform used, so −log(−log(u)) stays finite. */
const MIN_UNIFORM = 2 ** -53;

export function stepRandomness(seed: number, step: number, dropout: number): StepRandomness {
  const rng = Rng.stream(seed, 'step', step);
  const keep = 1 - dropout;
  return {
    gumbel(_selectionStep: number, batch: number, size: number): Float32Array {
      const out = new Float32Array(batch * size);
      for (let i = 0; i < out.length; i++) out[i] = -Math.log(-Math.log(Math.max(rng.float(), MIN_UNIFORM)));
      return out;
    },
    dropoutMask(n: number): Float32Array | undefined {
      if (dropout <= 0) return undefined;
      const out = new Float32Array(n);
      const scale = 1 / keep;
      for (let i = 0; i < n; i++) out[i] = rng.float() < keep ? scale : 0;
      return out;
    },
  };
}
