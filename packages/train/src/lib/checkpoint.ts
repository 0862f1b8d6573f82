/**
 * Training checkpoints in our format: one safetensors file holding every tensor that determines
 * the rest of the run (weights, buffers, optimiser moments; float32, bit-exact) and JSON metadata.
 *
 * The metadata holds the model's own entries (for the aggregator: `format` =
 * "facecoreset.aggregator", `version`, `aggregatorConfig`, `headConfig`, so the model package reads
 * a training checkpoint as an ordinary aggregator checkpoint, the optimiser moments being extra
 * tensors) plus one `training` entry: the resolved training config, the position, the optimiser
 * and scheduler scalars, the RNG description, the best record, the data fingerprint and the git
 * commit. Resuming needs nothing else, and the architecture comes from here, not from flags.
 */
import { decodeSafetensors, encodeSafetensors, InputError, metadataFromStrings, metadataToStrings, safeTensorValues, type SafeTensorInput } from '@facecoreset/common';
import { z } from 'zod';
import { parseAggregatorTrainConfig, type AggregatorTrainConfig } from '../config';
import type { NamedTensor } from './trainer';

export const TRAINING_STATE_FORMAT = 'facecoreset.training-state';
export const TRAINING_STATE_VERSION = 1;
/** The metadata key of the training state. */
export const TRAINING_METADATA_KEY = 'training';

const PositionSchema = z.object({ step: z.number().int().nonnegative(), epoch: z.number().int().nonnegative(), batch: z.number().int().nonnegative() }).strict();
const BestSchema = z.object({ metric: z.string(), value: z.number(), step: z.number().int(), epoch: z.number().int() }).strict().nullable();

/** The `training` metadata entry of a checkpoint. */
export const TrainingStateSchema = z
  .object({
    format: z.literal(TRAINING_STATE_FORMAT),
    version: z.literal(TRAINING_STATE_VERSION),
    /** What was trained. */
    kind: z.enum(['aggregator', 'backbone']),
    /** Architecture: everything needed to rebuild the model and head before loading tensors. */
    model: z.record(z.string(), z.unknown()),
    /** The resolved training config (validated by the schema of `kind` when used). */
    train_config: z.record(z.string(), z.unknown()),
    position: PositionSchema,
    /** MultiStepLR state: the epoch the position is in and the learning rates used there. */
    scheduler: z.object({ name: z.literal('MultiStepLR'), epoch: z.number().int(), lr: z.record(z.string(), z.number()) }).strict(),
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

export type TrainingState = z.infer<typeof TrainingStateSchema>;

export interface TrainCheckpoint {
  training: TrainingState;
  /** The model's own metadata entries (everything but `training`). */
  modelMetadata: Record<string, unknown>;
  tensors: Map<string, NamedTensor>;
}

export function encodeTrainCheckpoint(tensors: ReadonlyMap<string, NamedTensor>, training: TrainingState, modelMetadata: Record<string, unknown> = {}): Uint8Array {
  if (TRAINING_METADATA_KEY in modelMetadata) throw new Error(`encodeTrainCheckpoint: model metadata may not use the key '${TRAINING_METADATA_KEY}'`);
  const out = new Map<string, SafeTensorInput>();
  for (const [name, t] of tensors) out.set(name, { dtype: 'F32', shape: t.shape, values: t.data });
  return encodeSafetensors(out, metadataToStrings({ ...modelMetadata, [TRAINING_METADATA_KEY]: training }));
}

/** Decodes and validates a training checkpoint; every problem names the file. */
export function decodeTrainCheckpoint(bytes: Uint8Array, file: string): TrainCheckpoint {
  const st = decodeSafetensors(bytes, file);
  const { [TRAINING_METADATA_KEY]: raw, ...modelMetadata } = metadataFromStrings(st.metadata, file);
  if (raw === undefined) throw new InputError(`not a training checkpoint (no '${TRAINING_METADATA_KEY}' metadata)`, file);
  const parsed = TrainingStateSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`checkpoint training metadata: ${issue.message}`, file, [TRAINING_METADATA_KEY, ...issue.path].join('.'));
  }
  const tensors = new Map<string, NamedTensor>();
  for (const [name, t] of st.tensors) {
    if (t.dtype !== 'F32') throw new InputError(`tensor '${name}' is ${t.dtype}; training checkpoints hold F32 only`, file);
    tensors.set(name, { shape: [...t.shape], data: safeTensorValues(t) as Float32Array });
  }
  return { training: parsed.data, modelMetadata, tensors };
}

/** The resolved aggregator config of a checkpoint (re-validated through the schema). */
export function checkpointConfig(training: TrainingState, file = 'checkpoint'): AggregatorTrainConfig {
  if (training.kind !== 'aggregator') throw new InputError(`holds a ${training.kind} training run, not an aggregator one`, file);
  return parseAggregatorTrainConfig(training.train_config, file);
}
