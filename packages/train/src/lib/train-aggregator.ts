/**
 * A whole aggregator training run on in-memory data: split identities, build the sampler and the
 * validation templates, start fresh or continue from a checkpoint, run the loop, hand every
 * checkpoint to a sink. File IO stays in the caller (the CLI), which passes the latest checkpoint
 * in and receives the bytes to store.
 */
import { createHash } from 'node:crypto';
import { InputError } from '@facecoreset/common';
import { paperAggregatorTrainConfig, type AggregatorTrainConfig } from '../config';
import { checkpointConfig, encodeTrainCheckpoint, TRAINING_STATE_FORMAT, TRAINING_STATE_VERSION, type TrainCheckpoint, type TrainingState } from './checkpoint';
import { gatherFeatures, type FeatureStore } from './feature-store';
import { SetSampler } from './sampler';
import { buildSetIndex, splitIdentities, type IdentitySplit, type SetIndex } from './set-index';
import { runTrainingLoop, type BestRecord, type EpochMetrics, type GroupRates, type StepMetrics, type TrainPosition, type ValidationMetrics, validationMetricName } from './training-loop';
import type { AggregatorTrainer, StepRandomness } from './trainer';
import { multiStepLr } from '@facecoreset/model';
import { buildValidationTemplates, verifyTemplates, type ValidationTemplates } from './validation';

/** Rebuilds the model + optimiser from the architecture record stored in checkpoints. */
export interface TrainerFactory {
  /** The architecture for a fresh run (stored in every checkpoint as `model`). */
  architecture(config: AggregatorTrainConfig, dim: number, classes: number): Record<string, unknown>;
  /** The model's own checkpoint metadata for an architecture (e.g. the model package's format entries). */
  modelMetadata(architecture: Record<string, unknown>): Record<string, unknown>;
  /** A trainer for an architecture record, freshly initialised from `seed`. */
  create(architecture: Record<string, unknown>, config: AggregatorTrainConfig, seed: number): AggregatorTrainer;
  /** The random numbers (Gumbel noise, dropout) of train step `step`: a function of (seed, step). */
  randomness(seed: number, step: number, dropout: number): StepRandomness;
}

/** Metric values keyed by MLflow-safe names, at a step. */
export type MetricsCallback = (step: number, metrics: Record<string, number>) => void;

export interface TrainAggregatorOptions {
  store: FeatureStore;
  /** Label of every images-table row (index = row). */
  labelOfImageRow: ArrayLike<number>;
  /**
   * Config of a fresh run (default: the paper's). On resume the checkpoint's config is used; a
   * config given then may change only `epochs` and `checkpoint.*`.
   */
  config?: AggregatorTrainConfig;
  factory: TrainerFactory;
  /** The checkpoint to continue from. */
  resumeFrom?: TrainCheckpoint;
  /** Receives every checkpoint's bytes. */
  saveCheckpoint: (step: number, bytes: Uint8Array, isBest: boolean) => void;
  onMetrics?: MetricsCallback;
  /** Called once the run's settings are resolved, before the first step. */
  onStart?: (info: TrainStartInfo) => void;
  onStep?: (m: StepMetrics) => void;
  onEpoch?: (m: EpochMetrics) => void;
  log?: (line: string) => void;
  gitSha?: string;
  maxSteps?: number;
  /** Names of the inputs, for error messages. */
  source?: string;
}

export interface TrainStartInfo {
  config: AggregatorTrainConfig;
  position: TrainPosition;
  /** Steps of the whole run (epochs × batches per epoch). */
  totalSteps: number;
}

export interface TrainAggregatorSummary {
  config: AggregatorTrainConfig;
  position: TrainPosition;
  best: BestRecord | null;
  finished: boolean;
  classes: number;
  heldOutIdentities: number;
  validationTemplates: number;
  stepsPerEpoch: number;
  /** TAR of the baselines on the same held-out templates (for comparison with the aggregator). */
  baselines?: { mean: number; normWeighted: number };
}

/** MLflow-safe metric name of the validation TAR (letters, digits, _ - . only). */
export function validationKey(far: number): string {
  return `val_tar_at_far_${far.toExponential().replace('+', '')}`;
}

/** A fingerprint of the training data's structure (rows, views, labels, split), not of the embeddings. */
export function dataFingerprint(store: FeatureStore, index: SetIndex, split: IdentitySplit): Record<string, unknown> {
  const h = createHash('sha256');
  for (const a of [index.imageFeatureStart, index.imageFeatures, index.imageLabel, index.imageRow, split.trainSlots, split.heldOutSlots]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  h.update(new Uint8Array(store.view.buffer, store.view.byteOffset, store.view.byteLength));
  return { features: store.count, dim: store.dim, images: index.imageCount, identities: index.labels.length, classes: split.trainSlots.length, held_out: split.heldOutSlots.length, structure_sha256: h.digest('hex') };
}

/** Keys whose change on resume would break exact continuation or the architecture. */
function checkResumeConfig(saved: AggregatorTrainConfig, requested: AggregatorTrainConfig | undefined, source: string): void {
  if (!requested) return;
  const differing = (Object.keys(saved) as (keyof AggregatorTrainConfig)[]).filter((k) => k !== 'epochs' && k !== 'checkpoint' && JSON.stringify(saved[k]) !== JSON.stringify(requested[k]));
  if (differing.length) {
    throw new InputError(`resume continues the checkpoint's settings; only epochs and checkpoint.* may change, but ${differing.join(', ')} differ${differing.length === 1 ? 's' : ''} from the checkpoint`, source);
  }
}

/** Verification of the held-out templates with the trainer's current weights. */
export function validateTemplates(trainer: AggregatorTrainer, store: FeatureStore, templates: ValidationTemplates, far: number): ValidationMetrics {
  const sets = Array.from(templates.identity, (_, m) => gatherFeatures(store, templates.featureRows.subarray(templates.offsets[m], templates.offsets[m + 1])));
  const r = verifyTemplates(trainer.templateVectors(sets), store.dim, templates.identity, far);
  return { metric: validationMetricName(far), ...r };
}

/** Template vectors of the two baselines: Σ f_i (mean) and Σ n_i f_i (norm-weighted), [M, D]. */
function baselineVectors(store: FeatureStore, rows: Int32Array, offsets: Int32Array, weighted: boolean): Float32Array {
  const D = store.dim;
  const m = offsets.length - 1;
  const out = new Float32Array(m * D);
  for (let t = 0; t < m; t++) {
    for (let k = offsets[t]; k < offsets[t + 1]; k++) {
      const f = rows[k];
      const c = store.chunkOf[f];
      const base = (f - store.chunkStart[c]) * D;
      const w = weighted ? store.norm[f] : 1;
      const e = store.chunks[c];
      for (let d = 0; d < D; d++) out[t * D + d] += w * e[base + d];
    }
  }
  return out;
}

export async function trainAggregator(opts: TrainAggregatorOptions): Promise<TrainAggregatorSummary> {
  const log = opts.log ?? (() => {});
  const source = opts.source ?? 'features';
  const resume = opts.resumeFrom;
  let config = opts.config ?? paperAggregatorTrainConfig();
  if (resume) {
    const saved = checkpointConfig(resume.training, source);
    checkResumeConfig(saved, opts.config, source);
    config = opts.config ? { ...saved, epochs: opts.config.epochs, checkpoint: opts.config.checkpoint } : saved;
  }
  const { store } = opts;
  const index = buildSetIndex(store, opts.labelOfImageRow, source);
  const v = config.validation;
  const split = splitIdentities(index, { seed: config.seed, identityFraction: v.identity_fraction, maxIdentities: v.max_identities, minImages: v.templates_per_identity });
  const sampler = new SetSampler(index, split.trainSlots, {
    seed: config.seed,
    batchSize: config.batch_size,
    maxTemplateSize: config.max_template_size,
    maxClipSize: config.max_clip_size,
    batchesPerEpochFraction: config.batches_per_epoch_fraction,
  });
  const templates = split.heldOutSlots.length >= 2 ? buildValidationTemplates(index, split.heldOutSlots, { seed: config.seed, templatesPerIdentity: v.templates_per_identity, maxTemplateSize: v.max_template_size, maxClipSize: config.max_clip_size }) : undefined;
  const data = dataFingerprint(store, index, split);
  if (resume && JSON.stringify(resume.training.data) !== JSON.stringify(data)) {
    throw new InputError(`the training data differ from the checkpoint's (checkpoint: ${JSON.stringify(resume.training.data)}; now: ${JSON.stringify(data)})`, source);
  }

  const architecture = resume ? resume.training.model : opts.factory.architecture(config, store.dim, sampler.classCount);
  const trainer = opts.factory.create(architecture, config, config.seed);
  const modelMetadata = opts.factory.modelMetadata(architecture);
  let position: TrainPosition = { step: 0, epoch: 0, batch: 0 };
  let best: BestRecord | null = null;
  if (resume) {
    trainer.load(resume.tensors, resume.training.optimizer);
    position = resume.training.position;
    best = resume.training.best;
    log(`resuming at step ${position.step} (epoch ${position.epoch}, batch ${position.batch})${best ? `, best ${best.metric} = ${best.value.toFixed(4)} at step ${best.step}` : ''}`);
  }
  log(
    `${sampler.classCount} classes, ${split.heldOutSlots.length} held-out identities (${templates ? templates.identity.length : 0} validation templates), ${store.count} feature rows of ${index.imageCount} images, ${sampler.batchesInEpoch(position.epoch)} batches per epoch`,
  );

  opts.onStart?.({ config, position, totalSteps: config.epochs * sampler.batchesInEpoch(0) });

  const far = config.validation.far;
  const valKey = validationKey(far);
  let baselines: TrainAggregatorSummary['baselines'];
  if (templates) {
    baselines = {
      mean: verifyTemplates(baselineVectors(store, templates.featureRows, templates.offsets, false), store.dim, templates.identity, far).tar,
      normWeighted: verifyTemplates(baselineVectors(store, templates.featureRows, templates.offsets, true), store.dim, templates.identity, far).tar,
    };
    log(`validation baselines (${validationMetricName(far)}): mean ${baselines.mean.toFixed(4)}, norm-weighted mean ${baselines.normWeighted.toFixed(4)}`);
    opts.onMetrics?.(position.step, { [`${valKey}_mean`]: baselines.mean, [`${valKey}_norm_weighted`]: baselines.normWeighted });
  }

  const learningRates = (epoch: number): GroupRates => ({
    gamma: multiStepLr(config.gamma_lr, epoch, config.lr_milestones, config.lr_gamma),
    other: multiStepLr(config.lr, epoch, config.lr_milestones, config.lr_gamma),
  });
  const streams = {
    epoch_order: 'Rng.stream(seed, "epoch", epoch): image order of the epoch',
    sets: 'Rng.stream(seed, "sets", epoch, batch): T and the sets of a batch',
    step: 'Rng.stream(seed, "step", step): Gumbel noise and dropout masks of a step',
    holdout: 'Rng.stream(seed, "holdout"): held-out identities',
    validation: 'Rng.stream(seed, "validation", identity): validation templates',
  };
  try {
    const result = await runTrainingLoop({
      epochs: config.epochs,
      checkpointEvery: config.checkpoint.every_steps,
      batchesInEpoch: (epoch) => sampler.batchesInEpoch(epoch),
      learningRates,
      runStep: (at, lr) => {
        const batch = sampler.batch(at);
        const { features, norms } = gatherFeatures(store, batch.featureRows);
        const input = { features, norms, batch: batch.classes.length, setSize: batch.setSize, classes: batch.classes };
        const r = trainer.step(input, { gamma: lr.gamma, other: lr.other }, opts.factory.randomness(config.seed, at.step, config.dropout));
        return { loss: r.loss, items: batch.classes.length, metrics: { gamma: r.gamma, grad_norm: r.gradNorm, set_size: batch.setSize } };
      },
      validate: templates ? () => validateTemplates(trainer, store, templates, far) : undefined,
      start: { position, best },
      maxSteps: opts.maxSteps,
      onStep: (m) => {
        opts.onStep?.(m);
        opts.onMetrics?.(m.step, { loss: m.loss, lr_gamma: m.lr.gamma, lr: m.lr.other, ...m.metrics, sets_per_s: m.itemsPerSecond, epoch: m.epoch });
      },
      onEpoch: (m) => {
        opts.onEpoch?.(m);
        if (m.validation) opts.onMetrics?.(m.step, { [valKey]: m.validation.tar, val_far: m.validation.far });
      },
      checkpoint: (req) => {
        const training: TrainingState = {
          format: TRAINING_STATE_FORMAT,
          version: TRAINING_STATE_VERSION,
          kind: 'aggregator',
          model: architecture,
          train_config: config,
          position: req.position,
          scheduler: { name: 'MultiStepLR', epoch: req.position.epoch, lr: learningRates(req.position.epoch) },
          optimizer: trainer.optimizerMeta(),
          rng: { algorithm: 'xoshiro128** streams keyed by (seed, key)', seed: config.seed, streams },
          best: req.best,
          validation: req.validation ? { ...req.validation } : null,
          data,
          git_sha: opts.gitSha ?? 'unknown',
          created_at: new Date().toISOString(),
        };
        opts.saveCheckpoint(req.position.step, encodeTrainCheckpoint(trainer.state(), training, modelMetadata), req.isBest);
      },
    });
    return {
      config,
      position: result.position,
      best: result.best,
      finished: result.finished,
      classes: sampler.classCount,
      heldOutIdentities: split.heldOutSlots.length,
      validationTemplates: templates ? templates.identity.length : 0,
      stepsPerEpoch: sampler.batchesInEpoch(0),
      baselines,
    };
  } finally {
    trainer.dispose();
  }
}
