/**
 * The aggregator training loop: epochs × batches from the set sampler, one optimiser step each,
 * MultiStepLR per epoch, validation at the end of every epoch, and checkpoints every N steps and
 * at every epoch end. It holds no state of its own beyond (step, epoch, batch, best): everything
 * random is keyed by the seed and the step or batch position, so continuing from a checkpoint
 * replays exactly what an uninterrupted run does.
 */
import type { AggregatorTrainConfig } from '../config';
import { FeatureStore, gatherFeatures } from './feature-store';
import { SamplerPosition, SetSampler } from './sampler';
import type { AggregatorTrainer, LearningRates, StepRandomness } from './trainer';
import { ValidationTemplates, verifyTemplates } from './validation';

/** Where training stands: `step` optimiser steps done; (epoch, batch) is the next batch. */
export interface TrainPosition extends SamplerPosition {
  step: number;
}

export interface BestRecord {
  /** Name of the validation metric, e.g. `val_tar@far=0.001`. */
  metric: string;
  value: number;
  step: number;
  epoch: number;
}

export interface StepMetrics {
  step: number;
  epoch: number;
  batch: number;
  /** Sets in the batch (B). */
  sets: number;
  setSize: number;
  loss: number;
  lr: LearningRates;
  gamma: number;
  gradNorm: number;
  setsPerSecond: number;
  stepMs: number;
}

export interface ValidationMetrics {
  /** The metric's name (includes the FAR). */
  metric: string;
  tar: number;
  far: number;
  threshold: number;
  genuinePairs: number;
  impostorPairs: number;
}

export interface EpochMetrics {
  epoch: number;
  step: number;
  validation?: ValidationMetrics;
  seconds: number;
}

export interface CheckpointRequest {
  position: TrainPosition;
  /** The best record after this checkpoint's validation (if any). */
  best: BestRecord | null;
  reason: 'steps' | 'epoch';
  /** This checkpoint is the new best. */
  isBest: boolean;
  validation?: ValidationMetrics;
  lr: LearningRates;
}

export interface TrainingLoopOptions {
  config: AggregatorTrainConfig;
  sampler: SetSampler;
  store: FeatureStore;
  trainer: AggregatorTrainer;
  /** The random numbers of step k (a function of the seed and k only). */
  randomness: (step: number) => StepRandomness;
  /** Learning rates of each epoch (the schedule). */
  learningRates: (epoch: number) => LearningRates;
  /** Held-out templates; without them there is no validation and no best checkpoint. */
  validation?: ValidationTemplates;
  start: { position: TrainPosition; best: BestRecord | null };
  onStep?: (m: StepMetrics) => void;
  onEpoch?: (m: EpochMetrics) => void;
  /** Writes a checkpoint of the trainer's current state (called synchronously in the loop). */
  checkpoint: (req: CheckpointRequest) => void;
  /** Stops after this many steps in total (for time-boxed runs); the rest waits for a resume. */
  maxSteps?: number;
}

export interface TrainingLoopResult {
  position: TrainPosition;
  best: BestRecord | null;
  finished: boolean;
}

export function validationMetricName(far: number): string {
  return `val_tar@far=${far}`;
}

/** Verification of the held-out templates with the trainer's current weights. */
export function validate(trainer: AggregatorTrainer, store: FeatureStore, templates: ValidationTemplates, far: number): ValidationMetrics {
  const sets = Array.from(templates.identity, (_, m) => gatherFeatures(store, templates.featureRows.subarray(templates.offsets[m], templates.offsets[m + 1])));
  const vectors = trainer.templateVectors(sets);
  const r = verifyTemplates(vectors, store.dim, templates.identity, far);
  return { metric: validationMetricName(far), ...r };
}

export async function runTrainingLoop(opts: TrainingLoopOptions): Promise<TrainingLoopResult> {
  const { config, sampler, store, trainer } = opts;
  let position = { ...opts.start.position };
  let best = opts.start.best;
  const every = config.checkpoint.every_steps;
  let lastCheckpointStep = position.step;
  const checkpoint = (req: CheckpointRequest) => {
    opts.checkpoint(req);
    lastCheckpointStep = req.position.step;
  };
  while (position.epoch < config.epochs) {
    const epoch = position.epoch;
    const lr = opts.learningRates(epoch);
    const batches = sampler.batchesInEpoch(epoch);
    const epochStart = Date.now();
    for (let b = position.batch; b < batches; b++) {
      if (opts.maxSteps !== undefined && position.step >= opts.maxSteps) {
        if (lastCheckpointStep !== position.step) checkpoint({ position, best, reason: 'steps', isBest: false, lr });
        return { position, best, finished: false };
      }
      const t0 = performance.now();
      const batch = sampler.batch({ epoch, batch: b });
      const { features, norms } = gatherFeatures(store, batch.featureRows);
      const r = trainer.step(
        { features, norms, batch: batch.classes.length, setSize: batch.setSize, classes: batch.classes },
        lr,
        opts.randomness(position.step),
      );
      if (!Number.isFinite(r.loss)) throw new Error(`training diverged: loss is ${r.loss} at step ${position.step + 1} (epoch ${epoch}, batch ${b})`);
      const stepMs = performance.now() - t0;
      const next = sampler.advance({ epoch, batch: b });
      position = { step: position.step + 1, ...next };
      opts.onStep?.({
        step: position.step,
        epoch,
        batch: b,
        sets: batch.classes.length,
        setSize: batch.setSize,
        loss: r.loss,
        lr,
        gamma: r.gamma,
        gradNorm: r.gradNorm,
        setsPerSecond: (batch.classes.length * 1000) / stepMs,
        stepMs,
      });
      const epochEnd = next.epoch !== epoch;
      if (epochEnd) break;
      if (every > 0 && position.step % every === 0) checkpoint({ position, best, reason: 'steps', isBest: false, lr });
      // Let signals and output streams through between steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
    let validation: ValidationMetrics | undefined;
    let isBest = false;
    if (opts.validation) {
      validation = validate(trainer, store, opts.validation, config.validation.far);
      if (best === null || validation.tar > best.value) {
        best = { metric: validation.metric, value: validation.tar, step: position.step, epoch };
        isBest = true;
      }
    }
    opts.onEpoch?.({ epoch, step: position.step, validation, seconds: (Date.now() - epochStart) / 1000 });
    checkpoint({ position, best, reason: 'epoch', isBest, validation, lr });
  }
  return { position, best, finished: true };
}
