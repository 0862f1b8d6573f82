/**
 * Adapts a set model with a batched eval call (FaceCoresetNet of the model package, or any model
 * with the same shape) to the evaluation's {@link Aggregator} contract.
 */
import { assertSetBatch, type Aggregator } from './aggregator';

/** What evaluation needs from a set model: eval-mode aggregation of B sets of equal size T. */
export interface BatchedSetModel {
  /**
   * @param features [B, T, D] unit features
   * @param norms [B, T]
   * @returns aggregate [B, D] unit, norm [B], indices [B, K] (−1 beyond a set's K'), coresetSize K
   */
  aggregateBatch(
    features: Float32Array,
    norms: Float32Array,
    batch: number,
    size: number,
  ): { aggregate: Float32Array; norm: Float32Array; indices: Int32Array; coresetSize: number };
}

/** An Aggregator named `name` that calls `model.aggregateBatch`; coresets come back as row indices. */
export function setModelAggregator(name: string, model: BatchedSetModel, maxBatchRows = 16384): Aggregator {
  return {
    name,
    maxBatchRows,
    aggregate(batch) {
      assertSetBatch(batch, name);
      const out = model.aggregateBatch(batch.features, batch.norms, batch.batch, batch.size);
      const k = Math.min(out.coresetSize, batch.size);
      const coresetIndices = new Int32Array(batch.batch * k);
      for (let b = 0; b < batch.batch; b++) {
        for (let c = 0; c < k; c++) coresetIndices[b * k + c] = out.indices[b * out.coresetSize + c];
      }
      return { aggregate: out.aggregate, norm: out.norm, coresetIndices, coresetSize: k };
    },
  };
}
