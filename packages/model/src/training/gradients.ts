/**
 * One training forward/backward of the aggregator with the AdaFace head: train-mode aggregation
 * (Gumbel-softmax selection, straight-through), head logits, mean cross-entropy, and the gradients
 * of every trainable parameter, keyed by state-dict name (`aggregate_model.*`, `head.kernel`).
 * The head's EMA buffers move as in every official forward.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FaceCoresetNet } from '../aggregator/facecoresetnet';
import { AGGREGATOR_STATE_PREFIX } from '../aggregator/params';
import { TrainRandomness } from '../aggregator/tf-forward';
import { ADAFACE_STATE_PREFIX, AdaFaceHead, crossEntropyTf } from '../head/adaface';
import { fusedTrainStep } from './fused-step';
import { globalGradNorm } from '../optim/clip';

export interface TrainBatch {
  /** [B, T, D] unit features */
  features: Float32Array;
  /** [B, T] norms */
  norms: Float32Array;
  /** [B] class labels */
  labels: ArrayLike<number>;
  /** B */
  batch: number;
  /** T */
  size: number;
}

export interface TrainStepResult {
  /** mean cross-entropy */
  loss: number;
  /**
   * gradient of every trainable parameter by state-dict name; without `aggregate_model.gamma`
   * when sets have a single pick (T = 1 or K = 1), where γ does not reach the loss
   */
  grads: Map<string, Float32Array>;
  /** global L2 norm of all gradients (before any clipping) */
  gradNorm: number;
  /** [B, K'] selected indices */
  indices: Int32Array;
  /** [K', B, T] softmax(logits + noise) of each selection step */
  selectionSoft: Float32Array;
  /** [B, D] unit aggregates */
  aggregate: Float32Array;
  /** [B] aggregate norms */
  norm: Float32Array;
  /** [B, C] head logits */
  logits: Float32Array;
}

/** The names under which `aggregatorTrainGradients` reports gradients, in order. */
export function trainableStateNames(model: FaceCoresetNet): string[] {
  return [...model.trainableParamNames().map((n) => AGGREGATOR_STATE_PREFIX + n), ADAFACE_STATE_PREFIX + 'kernel'];
}

/**
 * 'fused' (default): the step written out by hand (fused-step.ts), a few dozen backend calls;
 * 'tfjs': the differentiable forward pass under tf.grads, the reference the fused one is tested
 * against.
 */
export type TrainStepPath = 'fused' | 'tfjs';

export interface TrainStepOptions {
  /** default 'fused' */
  path?: TrainStepPath;
  /**
   * Fused path: the head kernel's gradient array is reused by the next call that also asks for
   * reuse, and the head keeps its kernel on the backend between such calls (a training loop that
   * consumes the gradients before the next step saves allocating 60 MB per step; free the
   * backend memory with head.releaseTrainingMemory()).
   */
  reuseBuffers?: boolean;
}

/**
 * @param randomness Gumbel noise and dropout masks (see randomness.ts); none = no noise, no dropout
 */
export function aggregatorTrainGradients(model: FaceCoresetNet, head: AdaFaceHead, batch: TrainBatch, randomness?: TrainRandomness, opts: TrainStepOptions = {}): TrainStepResult {
  const { batch: B, size: T } = batch;
  const D = model.config.embeddingSize;
  if (batch.features.length !== B * T * D) throw new Error(`aggregatorTrainGradients: features hold ${batch.features.length} values, expected B·T·D = ${B}·${T}·${D}`);
  if (batch.norms.length !== B * T) throw new Error(`aggregatorTrainGradients: norms hold ${batch.norms.length} values, expected B·T = ${B}·${T}`);
  if (batch.labels.length !== B) throw new Error(`aggregatorTrainGradients: ${batch.labels.length} labels for ${B} sets`);
  if (!(T >= 1 && B >= 1)) throw new Error(`aggregatorTrainGradients: a batch needs at least one set of at least one item, got B = ${B}, T = ${T}`);
  if ((opts.path ?? 'fused') === 'fused') return fusedTrainStep(model, head, batch, randomness, { reuseBuffers: opts.reuseBuffers });
  // With a single pick there is no distance, so γ does not reach the loss: like torch (gradient
  // None, skipped by AdamW) it gets no gradient. (tfjs refuses to differentiate an unused input.)
  const usesGamma = Math.min(model.config.coresetSize, T) > 1;
  const names = model.trainableParamNames().filter((n) => n !== 'gamma' || usesGamma);
  let captured: Omit<TrainStepResult, 'grads' | 'loss' | 'gradNorm'> | undefined;
  const grads = new Map<string, Float32Array>();
  let loss = NaN;
  tf.tidy(() => {
    const params = model.tfParams();
    const kernel = head.prepareTrainingKernel();
    let kernelGradient: (() => Float32Array) | undefined;
    const features = tf.tensor3d(batch.features, [B, T, D]);
    const norms = tf.tensor2d(batch.norms, [B, T]);
    const lossOf = (...xs: tf.Tensor[]): tf.Scalar => {
      // Parameters outside `names` (γ with single picks) enter as constants.
      const p: Record<string, tf.Tensor> = { ...params };
      names.forEach((n, i) => (p[n] = xs[i]));
      const out = model.forwardTf(features, norms, { mode: 'train', randomness }, p);
      // The head sees the aggregate norms as plain numbers: no gradient flows through them.
      const aggNorms = out.norm.dataSync() as Float32Array;
      const headOut = head.trainingForwardTf(out.aggregate, aggNorms, batch.labels, kernel);
      kernelGradient = headOut.kernelGradient;
      const logits = headOut.logits;
      captured = {
        indices: out.indices.dataSync() as Int32Array,
        selectionSoft: (out.selectionSoft as tf.Tensor).dataSync() as Float32Array,
        aggregate: out.aggregate.dataSync() as Float32Array,
        norm: aggNorms,
        logits: logits.dataSync() as Float32Array,
      };
      return crossEntropyTf(logits, batch.labels);
    };
    const { value, grads: g } = tf.valueAndGrads(lossOf)(names.map((n) => params[n]));
    loss = value.dataSync()[0];
    names.forEach((n, i) => grads.set(AGGREGATOR_STATE_PREFIX + n, g[i].dataSync() as Float32Array));
    // The head's kernel is outside the tape (see AdaFaceHead.trainingForwardTf).
    grads.set(ADAFACE_STATE_PREFIX + 'kernel', (kernelGradient as () => Float32Array)());
  });
  return { loss, grads, gradNorm: globalGradNorm(grads.values()), ...(captured as NonNullable<typeof captured>) };
}
