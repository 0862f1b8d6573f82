/**
 * The training loop shared by the aggregator and the backbone: epochs × batches, one optimiser
 * step each (supplied by the caller), a learning-rate schedule per epoch, validation at the end of
 * every epoch, and checkpoints every N steps and at every epoch end. It holds no state of its own
 * beyond (step, epoch, batch, best): the caller keys everything random by the seed and the step or
 * batch position, so continuing from a checkpoint replays exactly what an uninterrupted run does.
 */

/** Where training stands: `step` optimiser steps done; (epoch, batch) is the next batch. */
export interface TrainPosition {
  step: number;
  epoch: number;
  batch: number;
}

export interface BestRecord {
  /** Name of the validation metric, e.g. `val_tar@far=0.001`. */
  metric: string;
  value: number;
  step: number;
  epoch: number;
}

/** Learning rate of each parameter group, by group name. */
export type GroupRates = Record<string, number>;

/** What one step reports back to the loop. */
export interface LoopStepResult {
  loss: number;
  /** Training examples in the batch (sets or images). */
  items: number;
  /** Further per-step metrics (e.g. gamma, grad_norm). */
  metrics: Record<string, number>;
}

export interface StepMetrics extends LoopStepResult {
  /** Steps done after this one. */
  step: number;
  epoch: number;
  batch: number;
  lr: GroupRates;
  itemsPerSecond: number;
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
  /** Further values (e.g. a quality correlation). */
  extra?: Record<string, number>;
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
  reason: 'steps' | 'epoch' | 'stop';
  /** This checkpoint is the new best. */
  isBest: boolean;
  validation?: ValidationMetrics;
}

export interface TrainingLoopOptions {
  epochs: number;
  /** Checkpoint every N steps as well (0: only at epoch ends). */
  checkpointEvery: number;
  batchesInEpoch: (epoch: number) => number;
  learningRates: (epoch: number) => GroupRates;
  /** One optimiser step on batch `batch` of `epoch`; `step` steps are done before it. */
  runStep: (at: TrainPosition, lr: GroupRates) => LoopStepResult;
  /** Validation with the current weights (higher `tar` is better); none: no best checkpoint. */
  validate?: () => ValidationMetrics;
  start: { position: TrainPosition; best: BestRecord | null };
  onStep?: (m: StepMetrics) => void;
  onEpoch?: (m: EpochMetrics) => void;
  /** Writes a checkpoint of the current state (called synchronously in the loop). */
  checkpoint: (req: CheckpointRequest) => void;
  /** Stops after this many steps in total (checkpointed), for time-boxed runs. */
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

export async function runTrainingLoop(opts: TrainingLoopOptions): Promise<TrainingLoopResult> {
  let position = { ...opts.start.position };
  let best = opts.start.best;
  let lastCheckpointStep = position.step;
  const checkpoint = (req: CheckpointRequest) => {
    opts.checkpoint(req);
    lastCheckpointStep = req.position.step;
  };
  while (position.epoch < opts.epochs) {
    const epoch = position.epoch;
    const lr = opts.learningRates(epoch);
    const batches = opts.batchesInEpoch(epoch);
    if (!(batches >= 1)) throw new Error(`epoch ${epoch} has no batches`);
    const epochStart = Date.now();
    for (let b = position.batch; b < batches; b++) {
      if (opts.maxSteps !== undefined && position.step >= opts.maxSteps) {
        if (lastCheckpointStep !== position.step) checkpoint({ position, best, reason: 'stop', isBest: false });
        return { position, best, finished: false };
      }
      const t0 = performance.now();
      const r = opts.runStep({ step: position.step, epoch, batch: b }, lr);
      if (!Number.isFinite(r.loss)) throw new Error(`training diverged: loss is ${r.loss} at step ${position.step + 1} (epoch ${epoch}, batch ${b})`);
      const stepMs = performance.now() - t0;
      const epochEnd = b + 1 >= batches;
      position = epochEnd ? { step: position.step + 1, epoch: epoch + 1, batch: 0 } : { step: position.step + 1, epoch, batch: b + 1 };
      opts.onStep?.({ ...r, step: position.step, epoch, batch: b, lr, itemsPerSecond: (r.items * 1000) / stepMs, stepMs });
      if (epochEnd) break;
      if (opts.checkpointEvery > 0 && position.step % opts.checkpointEvery === 0) checkpoint({ position, best, reason: 'steps', isBest: false });
      // Let signals and output streams through between steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
    let validation: ValidationMetrics | undefined;
    let isBest = false;
    if (opts.validate) {
      validation = opts.validate();
      if (best === null || validation.tar > best.value) {
        best = { metric: validation.metric, value: validation.tar, step: position.step, epoch };
        isBest = true;
      }
    }
    opts.onEpoch?.({ epoch, step: position.step, validation, seconds: (Date.now() - epochStart) / 1000 });
    checkpoint({ position, best, reason: 'epoch', isBest, validation });
  }
  return { position, best, finished: true };
}
