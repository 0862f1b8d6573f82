/**
 * Training checkpoints in our format: one safetensors file holding every tensor that determines
 * the rest of the run (weights, buffers, optimiser moments; float32, bit-exact) and JSON metadata
 * (one JSON string per `__metadata__` key) with the architecture, the resolved training config,
 * the position, the optimiser and scheduler scalars, the RNG description, the best record and the
 * git commit. Resuming needs nothing else, and the architecture comes from here, not from flags.
 */
import { decodeSafetensors, encodeSafetensors, InputError, metadataFromStrings, metadataToStrings, safeTensorValues, type SafeTensorInput } from '@facecoreset/common';
import { z } from 'zod';
import { AggregatorTrainConfigSchema, type AggregatorTrainConfig } from '../config';
import type { NamedTensor } from './trainer';

export const TRAIN_CHECKPOINT_FORMAT = 'facecoreset.train-checkpoint';
export const TRAIN_CHECKPOINT_VERSION = 1;

const PositionSchema = z.object({ step: z.number().int().nonnegative(), epoch: z.number().int().nonnegative(), batch: z.number().int().nonnegative() }).strict();
const BestSchema = z.object({ metric: z.string(), value: z.number(), step: z.number().int(), epoch: z.number().int() }).strict().nullable();

/** The metadata of a training checkpoint (decoded from `__metadata__`). */
export const TrainCheckpointMetaSchema = z
  .object({
    format: z.literal(TRAIN_CHECKPOINT_FORMAT),
    version: z.literal(TRAIN_CHECKPOINT_VERSION),
    /** What was trained. */
    kind: z.literal('aggregator'),
    /** Architecture: everything needed to rebuild the model and head before loading tensors. */
    model: z.record(z.string(), z.unknown()),
    train_config: AggregatorTrainConfigSchema,
    position: PositionSchema,
    /** MultiStepLR state: the epoch the position is in and the learning rates used there. */
    scheduler: z.object({ name: z.literal('MultiStepLR'), epoch: z.number().int(), lr: z.object({ gamma: z.number(), other: z.number() }).strict() }).strict(),
    optimizer: z.record(z.string(), z.unknown()),
    /** How every random number is derived (counter-based streams; no state to carry). */
    rng: z.object({ algorithm: z.string(), seed: z.number().int(), streams: z.record(z.string(), z.string()) }).strict(),
    best: BestSchema,
    /** Validation result at this checkpoint, when it was taken at an epoch end. */
    validation: z.record(z.string(), z.unknown()).nullable(),
    /** Identity of the training data (the checkpoint refuses to resume on different data). */
    data: z.record(z.string(), z.unknown()),
    git_sha: z.string(),
    created_at: z.string(),
  })
  .strict();

export type TrainCheckpointMeta = z.infer<typeof TrainCheckpointMetaSchema>;

export interface TrainCheckpoint {
  meta: TrainCheckpointMeta;
  tensors: Map<string, NamedTensor>;
}

export function encodeTrainCheckpoint(tensors: ReadonlyMap<string, NamedTensor>, meta: TrainCheckpointMeta): Uint8Array {
  const out = new Map<string, SafeTensorInput>();
  for (const [name, t] of tensors) out.set(name, { dtype: 'F32', shape: t.shape, values: t.data });
  return encodeSafetensors(out, metadataToStrings(meta));
}

/** Decodes and validates a training checkpoint; every problem names the file. */
export function decodeTrainCheckpoint(bytes: Uint8Array, file: string): TrainCheckpoint {
  const st = decodeSafetensors(bytes, file);
  const raw = metadataFromStrings(st.metadata, file);
  if (raw.format !== TRAIN_CHECKPOINT_FORMAT) throw new InputError(`not a training checkpoint (metadata format is ${JSON.stringify(raw.format)}, expected "${TRAIN_CHECKPOINT_FORMAT}")`, file);
  const parsed = TrainCheckpointMetaSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`checkpoint metadata: ${issue.message}`, file, issue.path.join('.') || '(top level)');
  }
  const tensors = new Map<string, NamedTensor>();
  for (const [name, t] of st.tensors) {
    if (t.dtype !== 'F32') throw new InputError(`tensor '${name}' is ${t.dtype}; training checkpoints hold F32 only`, file);
    tensors.set(name, { shape: [...t.shape], data: safeTensorValues(t) as Float32Array });
  }
  return { meta: parsed.data, tensors };
}

/** The resolved config of a checkpoint (re-validated through the schema). */
export function checkpointConfig(meta: TrainCheckpointMeta): AggregatorTrainConfig {
  return AggregatorTrainConfigSchema.parse(meta.train_config);
}
