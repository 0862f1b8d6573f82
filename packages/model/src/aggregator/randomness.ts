/** Sources of the train-mode randomness of the aggregator (Gumbel noise, dropout masks). */
import { Rng } from '@facecoreset/common';
import { TrainRandomness } from './tf-forward';

/** Gumbel(0, 1) noise −log(E), E ~ Exponential(1) (torch's gumbel_softmax draw). */
export function gumbelNoise(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // float() is in [0, 1); 1 − u is in (0, 1], so the logarithms stay finite.
    const u = 1 - rng.float();
    out[i] = -Math.log(-Math.log(u) || Number.MIN_VALUE);
  }
  return out;
}

/** Seeded noise and dropout (p = 0 disables dropout). */
export function seededTrainRandomness(rng: Rng, dropout: number): TrainRandomness {
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`dropout must be in [0, 1), got ${dropout}`);
  return {
    gumbel: (_step, batch, size) => gumbelNoise(rng, batch * size),
    dropoutMask: (n) => {
      if (dropout === 0) return undefined;
      const keep = 1 / (1 - dropout);
      const m = new Float32Array(n);
      for (let i = 0; i < n; i++) m[i] = rng.float() < dropout ? 0 : keep;
      return m;
    },
  };
}

/**
 * Pre-drawn Gumbel noise [K, B, T] (step-major, as the reference fixtures store it) and no dropout.
 */
export function fixedTrainRandomness(noise: Float32Array, steps: number, batch: number, size: number): TrainRandomness {
  if (noise.length !== steps * batch * size) throw new Error(`Gumbel noise holds ${noise.length} values, expected K·B·T = ${steps}·${batch}·${size}`);
  return {
    gumbel: (step, b, t) => {
      if (step >= steps || b !== batch || t !== size) throw new Error(`no pre-drawn noise for step ${step} of a [${b}, ${t}] batch (have ${steps} steps of [${batch}, ${size}])`);
      return noise.slice(step * batch * size, (step + 1) * batch * size);
    },
    dropoutMask: () => undefined,
  };
}
