/**
 * The baseline set aggregators of the official evaluation (no model): the mean of the unit
 * features, and the norm-weighted mean, i.e. the mean of n_t·f_t (the official code's only fusion
 * without a model). The aggregate is the mean's direction, `norm` its length. No coreset.
 */
import { AggregateOutput, TemplateSet, checkSet, emptyAggregateOutput } from './types';

export type BaselineMethod = 'mean' | 'norm-weighted';

/** Aggregates each set by `method`; sets may have any sizes. */
export function aggregateBaseline(sets: readonly TemplateSet[], dim: number, method: BaselineMethod): AggregateOutput {
  if (method !== 'mean' && method !== 'norm-weighted') throw new Error(`unknown baseline method '${method as string}': expected 'mean' or 'norm-weighted'`);
  const out = emptyAggregateOutput(sets.length, dim, 0);
  const acc = new Float64Array(dim);
  sets.forEach((set, b) => {
    const T = checkSet(set, dim, `set ${b}`);
    acc.fill(0);
    for (let t = 0; t < T; t++) {
      const w = method === 'mean' ? 1 : set.norms[t];
      const o = t * dim;
      for (let j = 0; j < dim; j++) acc[j] += Math.fround(w * set.features[o + j]);
    }
    let s = 0;
    for (let j = 0; j < dim; j++) {
      acc[j] /= T;
      s += acc[j] * acc[j];
    }
    const norm = Math.sqrt(s);
    out.norm[b] = norm;
    for (let j = 0; j < dim; j++) out.aggregate[b * dim + j] = acc[j] / norm;
  });
  return out;
}
