/**
 * What the training loop needs from the model: one optimiser step on a batch of sets, eval-mode
 * aggregation, and the full state (weights, buffers, optimiser moments) as named float32 tensors.
 * `aggregator-trainer.ts` implements it with the model package; tests may substitute a stub.
 */

/** A float32 tensor by value, C order. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** A batch of B sets of T items. */
export interface SetBatchInput {
  /** [B, T, D] unit features */
  features: Float32Array;
  /** [B, T] backbone norms */
  norms: Float32Array;
  batch: number;
  setSize: number;
  /** [B] class of each set */
  classes: Int32Array;
}

export interface LearningRates {
  /** Group 0: γ. */
  gamma: number;
  /** Group 1: every other aggregator parameter and the head kernel. */
  other: number;
}

export interface TrainStepResult {
  loss: number;
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
  /** γ after the step. */
  gamma: number;
}

/** Random numbers of one train step (Gumbel noise, dropout masks), from a seeded stream. */
export interface StepRandomness {
  /** Gumbel noise −log(Exponential(1)) for selection step k, [B, T]. */
  gumbel(step: number, batch: number, size: number): Float32Array | undefined;
  /** Dropout keep-mask scaled by 1/(1−p), n values; undefined when p = 0. */
  dropoutMask(n: number): Float32Array | undefined;
}

export interface AggregatorTrainer {
  /** Forward, loss, backward, clipping and one AdamW step at the given learning rates. */
  step(input: SetBatchInput, lrs: LearningRates, randomness: StepRandomness): TrainStepResult;
  /**
   * Eval-mode template vectors (unit aggregate · norm) of sets of any sizes.
   * @returns [M, D]
   */
  templateVectors(sets: { features: Float32Array; norms: Float32Array }[]): Float32Array;
  /** γ now. */
  gamma(): number;
  /** Every tensor that determines the next steps (weights, buffers, optimiser moments), by name. */
  state(): Map<string, NamedTensor>;
  /** Optimiser scalars (step count) that go into the checkpoint metadata. */
  optimizerMeta(): Record<string, unknown>;
  /** Restores what state() and optimizerMeta() returned; exact. */
  load(state: ReadonlyMap<string, NamedTensor>, optimizerMeta: Record<string, unknown>): void;
  dispose(): void;
}
