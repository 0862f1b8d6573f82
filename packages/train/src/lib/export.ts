/**
 * The trained model without the training state: the aggregator (`aggregate_model.*`) and head
 * (`head.*`) tensors of a training checkpoint with the model's metadata entries, i.e. an ordinary
 * aggregator checkpoint of the model package, for evaluation and `fcn aggregate`. A `trained`
 * entry records where it came from.
 */
import { encodeSafetensors, metadataToStrings, type SafeTensorInput } from '@facecoreset/common';
import type { TrainCheckpoint } from './checkpoint';

const MODEL_PREFIXES = ['aggregate_model.', 'head.', 'model.'];

/** Safetensors bytes of the model tensors of a checkpoint (no optimiser state, no training metadata). */
export function exportTrainedModel(ckpt: TrainCheckpoint, source: string): Uint8Array {
  const tensors = new Map<string, SafeTensorInput>();
  for (const [name, t] of ckpt.tensors) {
    if (MODEL_PREFIXES.some((p) => name.startsWith(p))) tensors.set(name, { dtype: 'F32', shape: t.shape, values: t.data });
  }
  const { kind, position, best, git_sha } = ckpt.training;
  return encodeSafetensors(tensors, metadataToStrings({ ...ckpt.modelMetadata, trained: { kind, step: position.step, epoch: position.epoch, best, source_checkpoint: source, git_sha } }));
}
