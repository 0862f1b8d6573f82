/**
 * The trainer the loop drives, made of the model package's pieces: FaceCoresetNet in train mode,
 * the AdaFace head, cross-entropy, global-norm clipping and AdamW with the official two groups
 * ({γ: gamma_lr, no weight decay}, {every other aggregator parameter + head kernel: lr,
 * weight_decay}). State names follow the official checkpoint (`aggregate_model.*`, `head.*`), with
 * the AdamW moments under `optimizer.exp_avg.<name>` / `optimizer.exp_avg_sq.<name>`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@facecoreset/common';
import {
  ADAFACE_STATE_PREFIX,
  AdaFaceConfigSchema,
  AdaFaceHead,
  AdamW,
  AGGREGATOR_STATE_PREFIX,
  aggregatorConfig,
  aggregatorTrainGradients,
  clipCoefficient,
  FaceCoresetNet,
  seededTrainRandomness,
  trainableStateNames,
  type AdaFaceConfig,
  type AggregatorConfig,
  type TfForwardOptions,
} from '@facecoreset/model';
import { z } from 'zod';
import type { AggregatorTrainConfig } from '../config';
import type { TrainerFactory } from './train-aggregator';
import type { AggregatorTrainer, LearningRates, NamedTensor, SetBatchInput, StepRandomness, TrainStepResult } from './trainer';

/**
 * The model package's aggregator checkpoint entries (checkpoint/aggregator-checkpoint.ts, not
 * exported from its index): with them in the metadata a training checkpoint reads as an
 * aggregator checkpoint whose optimiser moments are extra tensors.
 */
const AGGREGATOR_CHECKPOINT_FORMAT = 'facecoreset.aggregator';
const AGGREGATOR_CHECKPOINT_VERSION = 1;

const EXP_AVG = 'optimizer.exp_avg.';
const EXP_AVG_SQ = 'optimizer.exp_avg_sq.';

/** The architecture record stored in checkpoints (`model`). */
export interface AggregatorArchitecture {
  aggregator: AggregatorConfig;
  head: AdaFaceConfig & { classes: number };
}

const ArchitectureSchema = z
  .object({
    aggregator: z.record(z.string(), z.unknown()),
    head: z.object({ classes: z.number().int().positive() }).passthrough(),
  })
  .strict();

function parseArchitecture(record: Record<string, unknown>): AggregatorArchitecture {
  const a = ArchitectureSchema.parse(record);
  const { classes, ...head } = a.head;
  return { aggregator: aggregatorConfig(a.aggregator as Parameters<typeof aggregatorConfig>[0]), head: { ...AdaFaceConfigSchema.parse(head), classes } };
}

const OptimizerMetaSchema = z
  .object({
    name: z.literal('AdamW'),
    betas: z.tuple([z.number(), z.number()]),
    eps: z.number(),
    /** Steps taken per parameter (AdamW's bias correction). */
    steps: z.record(z.string(), z.number().int().nonnegative()),
  })
  .strict();

export class ModelAggregatorTrainer implements AggregatorTrainer {
  readonly model: FaceCoresetNet;
  readonly head: AdaFaceHead;
  private readonly optimizer: AdamW;
  /** Live values of every trainable tensor, by state name. */
  private readonly live = new Map<string, Float32Array>();

  constructor(
    readonly architecture: AggregatorArchitecture,
    private readonly config: AggregatorTrainConfig,
    seed: number,
  ) {
    this.model = FaceCoresetNet.create(architecture.aggregator, seed);
    const { classes, ...headConfig } = architecture.head;
    this.head = AdaFaceHead.create(architecture.aggregator.embeddingSize, classes, headConfig, seed);
    for (const name of trainableStateNames(this.model)) {
      this.live.set(name, name === ADAFACE_STATE_PREFIX + 'kernel' ? this.head.kernel.data : this.model.params[name.slice(AGGREGATOR_STATE_PREFIX.length)].data);
    }
    const gammaName = AGGREGATOR_STATE_PREFIX + 'gamma';
    const others = [...this.live.keys()].filter((n) => n !== gammaName);
    this.optimizer = new AdamW(
      [
        { params: this.live.has(gammaName) ? [gammaName] : [], lr: config.gamma_lr, weightDecay: 0 },
        { params: others, lr: config.lr, weightDecay: config.weight_decay },
      ],
      { betas: config.betas, eps: config.eps },
    );
  }

  step(input: SetBatchInput, lrs: LearningRates, randomness: StepRandomness): TrainStepResult {
    this.optimizer.setLearningRates([lrs.gamma, lrs.other]);
    const r = aggregatorTrainGradients(this.modelFor(input.setSize), this.head, { features: input.features, norms: input.norms, labels: input.classes, batch: input.batch, size: input.setSize }, randomness, { reuseBuffers: true });
    // Clipping as one factor applied inside the optimiser's pass (the same float32 products as
    // scaling the gradients in place first).
    const gradScale = this.config.gradient_clip_norm > 0 ? clipCoefficient(r.gradNorm, this.config.gradient_clip_norm) : 1;
    this.optimizer.step(this.live, r.grads, { gradScale });
    this.model.parametersChanged();
    return { loss: r.loss, gradNorm: r.gradNorm, gamma: this.gamma() };
  }

  /**
   * With T = 1 there is one pick and no distance, so γ takes no part in the loss: PyTorch leaves
   * its gradient None and AdamW skips it, whereas tfjs refuses to differentiate a parameter that
   * does not reach the loss. For such batches the gradient function sees γ as a constant.
   */
  private modelFor(setSize: number): FaceCoresetNet {
    if (setSize > 1 || this.model.config.gamma !== 'learned') return this.model;
    const model = this.model;
    const gamma = model.params['gamma'];
    return Object.create(model, {
      trainableParamNames: { value: () => model.trainableParamNames().filter((n) => n !== 'gamma') },
      forwardTf: {
        value: (features: tf.Tensor3D, norms: tf.Tensor2D, opts: TfForwardOptions, params?: Record<string, tf.Tensor>) =>
          model.forwardTf(features, norms, opts, { ...(params ?? model.tfParams()), gamma: tf.tensor(gamma.data.slice(), gamma.shape) }),
      },
    }) as FaceCoresetNet;
  }

  templateVectors(sets: { features: Float32Array; norms: Float32Array }[]): Float32Array {
    const out = this.model.aggregate(sets);
    const D = out.dim;
    const vectors = new Float32Array(sets.length * D);
    for (let b = 0; b < sets.length; b++) for (let d = 0; d < D; d++) vectors[b * D + d] = out.aggregate[b * D + d] * out.norm[b];
    return vectors;
  }

  gamma(): number {
    const g = this.model.config.gamma;
    return g === 'learned' ? this.model.params['gamma'].data[0] : g;
  }

  state(): Map<string, NamedTensor> {
    const out = new Map<string, NamedTensor>();
    for (const [name, t] of this.model.toStateDict()) out.set(name, { shape: [...t.shape], data: t.data.slice() });
    for (const [name, t] of this.head.toStateDict()) out.set(name, { shape: [...t.shape], data: t.data.slice() });
    for (const [name, st] of this.optimizer.state) {
      const shape = out.get(name)?.shape ?? [st.expAvg.length];
      out.set(EXP_AVG + name, { shape, data: st.expAvg.slice() });
      out.set(EXP_AVG_SQ + name, { shape, data: st.expAvgSq.slice() });
    }
    return out;
  }

  optimizerMeta(): Record<string, unknown> {
    const steps: Record<string, number> = {};
    for (const [name, st] of this.optimizer.state) steps[name] = st.step;
    return { name: 'AdamW', betas: [...this.optimizer.betas], eps: this.optimizer.eps, steps };
  }

  load(state: ReadonlyMap<string, NamedTensor>, optimizerMeta: Record<string, unknown>): void {
    const need = (name: string, size: number): Float32Array => {
      const t = state.get(name);
      if (!t) throw new Error(`checkpoint lacks tensor '${name}'`);
      if (t.data.length !== size) throw new Error(`checkpoint tensor '${name}' holds ${t.data.length} values, expected ${size}`);
      return t.data;
    };
    for (const [name, t] of this.model.toStateDict()) t.data.set(need(name, t.data.length));
    for (const [name, t] of this.head.toStateDict()) {
      const values = need(name, t.data.length);
      if (name === ADAFACE_STATE_PREFIX + 'kernel') t.data.set(values);
    }
    this.head.buffers.t = need(ADAFACE_STATE_PREFIX + 't', 1)[0];
    this.head.buffers.batchMean = need(ADAFACE_STATE_PREFIX + 'batch_mean', 1)[0];
    this.head.buffers.batchStd = need(ADAFACE_STATE_PREFIX + 'batch_std', 1)[0];
    const meta = OptimizerMetaSchema.parse(optimizerMeta);
    this.optimizer.state.clear();
    for (const [name, step] of Object.entries(meta.steps)) {
      const live = this.live.get(name);
      if (!live) throw new Error(`checkpoint has optimiser state for '${name}', which is not trainable here`);
      this.optimizer.state.set(name, { step, expAvg: need(EXP_AVG + name, live.length).slice(), expAvgSq: need(EXP_AVG_SQ + name, live.length).slice() });
    }
    this.model.parametersChanged();
  }

  dispose(): void {
    this.model.dispose();
    this.head.releaseTrainingMemory();
  }
}

/** The default factory: the paper's model at the config's settings. */
export function modelTrainerFactory(): TrainerFactory {
  return {
    architecture(config, dim, classes) {
      const arch: AggregatorArchitecture = {
        aggregator: aggregatorConfig({ embeddingSize: dim, coresetSize: config.coreset_size, heads: config.attention_heads, gamma: config.gamma, dropout: config.dropout }),
        head: { ...AdaFaceConfigSchema.parse({ m: config.head.m, h: config.head.h, s: config.head.s, tAlpha: config.head.t_alpha }), classes },
      };
      return arch as unknown as Record<string, unknown>;
    },
    modelMetadata(architecture) {
      const a = parseArchitecture(architecture);
      const { classes: _classes, ...headConfig } = a.head;
      // The model package's aggregator checkpoint entries: a training checkpoint reads as one.
      return { format: AGGREGATOR_CHECKPOINT_FORMAT, version: AGGREGATOR_CHECKPOINT_VERSION, aggregatorConfig: a.aggregator, headConfig };
    },
    create(architecture, config, seed) {
      return new ModelAggregatorTrainer(parseArchitecture(architecture), config, seed);
    },
    randomness(seed, step, dropout) {
      return seededTrainRandomness(Rng.stream(seed, 'step', step), dropout);
    },
  };
}
