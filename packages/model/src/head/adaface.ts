/**
 * The AdaFace margin head (head.py), used to train the aggregator with a classification loss.
 *
 * Kernel W [D, C] (columns L2-normalised at use); cos = clamp(e·Ŵ, −1+ε, 1−ε). Every forward
 * first moves the EMA batch statistics of the clipped norms n' = clip(n, 0.001, 100) (also in
 * eval), then z = clip(h·(n' − mean)/(std + ε), −1, 1), and on the label column only
 * θ' = clip(acos(cos) − m·z, ε, π − ε), cos' = cos θ' − (m + m·z). Logits = s·cos'.
 * The norms never get gradients (the official code detaches them).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Rng } from '@facecoreset/common';
import { ParamTensor, StateDictTensor } from '../aggregator/params';
import { l2Norm, matMul, oneHotFloat } from '../tf-ops';
import { kernelGradientRange } from '../parallel/pass-kernels';
import { transposed } from '../training/dense';
import { PendingPasses, hasPassWorker, isShared, sharedFloat32, sharedFloat64, splitPass, startPasses } from '../parallel/shared-passes';

export const AdaFaceConfigSchema = z
  .object({
    /** Angular margin m (paper: 0.8). */
    m: z.number().nonnegative().default(0.8),
    /** Concentration h of the norm-to-margin map. */
    h: z.number().positive().default(0.333),
    /** Logit scale s. */
    s: z.number().positive().default(48),
    /** EMA rate of the batch statistics. */
    tAlpha: z.number().gt(0).lte(1).default(0.01),
    /** Clamp margin of the cosine and the angle. */
    eps: z.number().positive().default(1e-3),
  })
  .strict();

export type AdaFaceConfig = z.infer<typeof AdaFaceConfigSchema>;
export type AdaFaceConfigInput = z.input<typeof AdaFaceConfigSchema>;

/** The head's buffers (float32 values; `t` is stored but never used). */
export interface AdaFaceBuffers {
  t: number;
  batchMean: number;
  batchStd: number;
}

export const ADAFACE_STATE_PREFIX = 'head.';
const NORM_CLIP_MIN = 0.001;
const NORM_CLIP_MAX = 100;

export interface AdaFaceForward {
  /** [B, C] scaled logits */
  logits: tf.Tensor2D;
  /** [B, C] clamped cosines */
  cosine: tf.Tensor2D;
  /** [B] the margin scaler z per row */
  marginScaler: Float32Array;
}

const f32 = Math.fround;

/** The kernel prepared for the training forward pass (see AdaFaceHead.prepareTrainingKernel). */
export interface PreparedKernel {
  /** [D, C] the kernel values */
  raw: tf.Tensor2D;
  /** [1, C] 1/‖W_c‖ (float32) */
  invNormRow: tf.Tensor2D;
  /** [D, C] the values the tensors hold */
  values: Float32Array;
  /** [C] 1/‖W_c‖ */
  invNorm: Float64Array;
}

export class AdaFaceHead {
  /** Wᵀ of the kernel for trainingStep, reused across steps (20 MB at 10k classes). */
  private transposedScratch: Float32Array | undefined;
  /** The kernel gradient's array when trainingStep is asked to reuse it. */
  private gradientScratch: Float32Array | undefined;
  /** Wᵀ and the column norms being computed on the worker thread for the next trainingStep. */
  private prepared: { pending: PendingPasses; invNorm: Float64Array } | undefined;
  /** W and Wᵀ kept on the wasm backend across training steps, overwritten in place each step. */
  private resident: { w: tf.Tensor2D; wT: tf.Tensor2D } | undefined;

  private constructor(
    readonly config: AdaFaceConfig,
    /** [D, C] live values; the kernel is the head's only trainable parameter. */
    readonly kernel: ParamTensor,
    readonly buffers: AdaFaceBuffers,
  ) {}

  get embeddingSize(): number {
    return this.kernel.shape[0];
  }

  get classes(): number {
    return this.kernel.shape[1];
  }

  /**
   * A fresh head as AdaFace initialises it: uniform(−1, 1) then every class column rescaled to
   * unit L2 norm; buffers t = 0, batch_mean = 20, batch_std = 100.
   */
  static create(embeddingSize: number, classes: number, config: AdaFaceConfigInput = {}, seed = 0): AdaFaceHead {
    const rng = Rng.stream(seed, 'adaface-init');
    const D = embeddingSize;
    // Shared memory, so that training can split the passes over it between two threads.
    const data = sharedFloat32(D * classes);
    for (let i = 0; i < data.length; i++) data[i] = 2 * rng.float() - 1;
    for (let c = 0; c < classes; c++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += data[d * classes + c] ** 2;
      const inv = 1 / Math.sqrt(s);
      for (let d = 0; d < D; d++) data[d * classes + c] *= inv;
    }
    return new AdaFaceHead(AdaFaceConfigSchema.parse(config), { shape: [D, classes], data }, { t: 0, batchMean: 20, batchStd: 100 });
  }

  /** Reads `kernel`, `t`, `batch_mean`, `batch_std` under `prefix` (default `head.`). */
  static fromStateDict(stateDict: ReadonlyMap<string, StateDictTensor>, prefix = ADAFACE_STATE_PREFIX, config: AdaFaceConfigInput = {}, source = 'state dict'): AdaFaceHead {
    const get = (name: string, rank: number): StateDictTensor => {
      const t = stateDict.get(prefix + name);
      if (!t) throw new Error(`${source}: missing key '${prefix}${name}'`);
      const ok = rank === 2 ? t.shape.length === 2 : t.shape.length === 1 && t.shape[0] === 1;
      if (!ok) throw new Error(`${source}: key '${prefix}${name}' has shape [${t.shape.join(', ')}], expected ${rank === 2 ? '[D, C]' : '[1]'}`);
      return t;
    };
    const k = get('kernel', 2);
    const scalar = (name: string) => f32(get(name, 1).data[0]);
    const data = sharedFloat32(k.shape[0] * k.shape[1]);
    data.set(k.data);
    const kernel = { shape: [k.shape[0], k.shape[1]], data };
    return new AdaFaceHead(AdaFaceConfigSchema.parse(config), kernel, { t: scalar('t'), batchMean: scalar('batch_mean'), batchStd: scalar('batch_std') });
  }

  /** kernel, t, batch_mean, batch_std under `prefix`, in torch's order (kernel shared, not copied). */
  toStateDict(prefix = ADAFACE_STATE_PREFIX): Map<string, ParamTensor> {
    const one = (v: number): ParamTensor => ({ shape: [1], data: Float32Array.of(v) });
    return new Map([
      [prefix + 'kernel', this.kernel],
      [prefix + 't', one(this.buffers.t)],
      [prefix + 'batch_mean', one(this.buffers.batchMean)],
      [prefix + 'batch_std', one(this.buffers.batchStd)],
    ]);
  }

  /**
   * Moves the EMA statistics with a batch's norms (clipped; unbiased std, 0 for a single norm) and
   * returns the margin scaler z of each row under the updated statistics. Float32 rounding as torch.
   */
  updateAndScale(norms: ArrayLike<number>): Float32Array {
    const { tAlpha, h, eps } = this.config;
    const B = norms.length;
    const safe = Float32Array.from(norms, (n) => Math.min(Math.max(n, NORM_CLIP_MIN), NORM_CLIP_MAX));
    let sum = 0;
    for (const v of safe) sum += v;
    const mean = f32(sum / B);
    let ss = 0;
    for (const v of safe) ss += (v - sum / B) ** 2;
    const std = B > 1 ? f32(Math.sqrt(ss / (B - 1))) : 0; // torch: NaN for one value, nan_to_num -> 0
    const b = this.buffers;
    b.batchMean = f32(f32(mean * f32(tAlpha)) + f32(f32(1 - tAlpha) * b.batchMean));
    b.batchStd = f32(f32(std * f32(tAlpha)) + f32(f32(1 - tAlpha) * b.batchStd));
    const denom = f32(b.batchStd + f32(eps));
    return Float32Array.from(safe, (n) => Math.min(Math.max(f32(f32(f32(n - b.batchMean) / denom) * f32(h)), -1), 1));
  }

  /** A new tensor of the kernel's current values (differentiate with respect to it). */
  kernelTensor(): tf.Tensor2D {
    return tf.tensor2d(this.kernel.data.slice(), [this.embeddingSize, this.classes]);
  }

  /**
   * The forward pass: updates the batch statistics, then computes the logits on tfjs.
   * @param embeddings [B, D] unit embeddings (differentiable)
   * @param norms [B] their norms (no gradient)
   * @param labels [B] class indices
   * @param kernel [D, C] defaults to a fresh tensor of the current values
   */
  forwardTf(embeddings: tf.Tensor2D, norms: ArrayLike<number>, labels: ArrayLike<number>, kernel: tf.Tensor2D = this.kernelTensor()): AdaFaceForward {
    const D = embeddings.shape[1];
    if (kernel.shape[0] !== D) throw new Error(`AdaFaceHead.forwardTf: embeddings have width ${D}, kernel is [${kernel.shape}]`);
    this.checkBatch('forwardTf', embeddings, norms, labels, kernel.shape[1]);
    const unitKernel = tf.div(kernel, l2Norm(kernel, 0, true));
    const cosine = tf.clipByValue(matMul(embeddings, unitKernel), -1 + this.config.eps, 1 - this.config.eps) as tf.Tensor2D;
    return this.marginLogits(cosine, norms, labels);
  }

  /**
   * The kernel for {@link trainingForwardTf}: its values and column norms. The normalisation is
   * applied to the small [B, C] products instead of the kernel, so the kernel is uploaded as is.
   * Create it inside your tf.tidy but outside the gradient function: tensors created inside that
   * function die with its forward scope, and saving them for the backward pass would copy them.
   * On the cpu backend the tensor shares memory with the kernel: use it before the next update.
   */
  prepareTrainingKernel(): PreparedKernel {
    const D = this.embeddingSize;
    const C = this.classes;
    const invNorm = inverseColumnNorms(this.kernel.data, D, C);
    return {
      raw: tf.tensor2d(this.kernel.data, [D, C]),
      invNormRow: tf.tensor2d(Float32Array.from(invNorm), [1, C]),
      values: this.kernel.data,
      invNorm,
    };
  }

  /**
   * The training forward pass, fast for many classes: the kernel stays outside the gradient tape;
   * after backpropagating through `logits`, `kernelGradient()` gives dLoss/dkernel [D, C].
   * Updates the batch statistics like every forward.
   * @param embeddings [B, D] unit embeddings (differentiable)
   * @param kernel from prepareTrainingKernel() for the current kernel values
   */
  trainingForwardTf(embeddings: tf.Tensor2D, norms: ArrayLike<number>, labels: ArrayLike<number>, kernel: PreparedKernel): AdaFaceForward & { kernelGradient: () => Float32Array } {
    const D = embeddings.shape[1];
    const C = this.classes;
    if (D !== this.embeddingSize) throw new Error(`AdaFaceHead.trainingForwardTf: embeddings have width ${D}, the kernel ${this.embeddingSize}`);
    this.checkBatch('trainingForwardTf', embeddings, norms, labels, C);
    // cos = (e·W_c)/‖W_c‖. Backward, with g = dcos/‖W‖: de = g Wᵀ, and through the normalisation
    // dW_c = (eᵀg)_c − W_c·proj_c/‖W_c‖² where proj_c = Σ_b dcos_bc·cos_bc. Products are arranged
    // so the kernel is never a right-hand side that XNNPACK would repack, except in the forward
    // product, where packing it costs less than transposing it.
    let gradient: { eTg: Float32Array; proj: Float32Array } | undefined;
    const cosineOf = tf.customGrad(((e: tf.Tensor, save: tf.GradSaveFunc) => {
      const cos = tf.mul(tf.matMul(e, kernel.raw), kernel.invNormRow); // [B, C]
      save([e, cos]);
      return {
        value: cos,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [se, scos] = saved;
          const g = tf.mul(dy, kernel.invNormRow); // [B, C]
          gradient = {
            eTg: tf.matMul(tf.transpose(se), g).dataSync() as Float32Array, // [D, C]
            proj: tf.sum(tf.mul(dy, scos), 0).dataSync() as Float32Array, // [C]
          };
          return [tf.transpose(tf.matMul(kernel.raw, tf.transpose(g)))]; // [B, D]
        },
      };
    }) as Parameters<typeof tf.customGrad>[0]) as (e: tf.Tensor) => tf.Tensor;
    const cosine = tf.clipByValue(cosineOf(embeddings), -1 + this.config.eps, 1 - this.config.eps) as tf.Tensor2D;
    const out = this.marginLogits(cosine, norms, labels);
    const kernelGradient = (): Float32Array => {
      if (!gradient) throw new Error('AdaFaceHead.trainingForwardTf: kernelGradient() before backpropagation through the logits');
      kernelGradientRange(gradient.eTg, gradient.proj, kernel.values, kernel.invNorm, C, 0, D);
      return gradient.eTg;
    };
    return { ...out, kernelGradient };
  }

  /**
   * Starts computing what the next trainingStep needs from the current kernel values (Wᵀ and the
   * column norms) on the worker thread, so that it overlaps the caller's own work. The kernel must
   * not change before that trainingStep. Without the worker, trainingStep does it itself.
   */
  prepareTrainingStep(): void {
    const D = this.embeddingSize;
    const C = this.classes;
    if (this.transposedScratch?.length !== D * C) this.transposedScratch = sharedFloat32(D * C);
    const w = this.kernel.data;
    const wT = this.transposedScratch;
    const invNorm = sharedFloat64(C);
    if (!isShared(w) || !isShared(wT) || !isShared(invNorm)) return;
    this.prepared = { pending: startPasses([{ kernel: 'transposeColumnNormsRange', args: [w, D, C, wT, invNorm], start: 0, end: C }]), invNorm };
  }

  /**
   * The whole training step of the head without the tape: updates the batch statistics, then
   * computes the logits, the mean cross-entropy and its gradients with respect to the embeddings
   * and the kernel (same rules as {@link trainingForwardTf} + crossEntropyTf). The kernel is
   * uploaded once and used as the forward product's right operand and the backward's left one.
   * @param embeddings [B, D] unit embeddings
   * @param norms [B] their norms (no gradient)
   * @param opts.deferKernelGradient finish the kernel gradient on the worker thread in the
   *   background: call completeKernelGradient() before reading it
   * @param opts.reuseBuffers write the kernel gradient into the array of the previous call that
   *   asked for reuse, and keep W and Wᵀ on the backend between such calls (saves allocating
   *   60 MB per step at 10k classes; releaseTrainingMemory() frees them)
   */
  trainingStep(embeddings: Float32Array, norms: ArrayLike<number>, labels: ArrayLike<number>, opts: { deferKernelGradient?: boolean; reuseBuffers?: boolean } = {}): HeadTrainingStep {
    const D = this.embeddingSize;
    const C = this.classes;
    const B = labels.length;
    if (embeddings.length !== B * D) throw new Error(`AdaFaceHead.trainingStep: ${embeddings.length} embedding values for ${B} labels of width ${D}`);
    if (norms.length !== B) throw new Error(`AdaFaceHead.trainingStep: ${B} labels but ${norms.length} norms`);
    for (let i = 0; i < B; i++) {
      if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= C) throw new Error(`AdaFaceHead.trainingStep: label ${labels[i]} of row ${i} is outside 0..${C - 1}`);
    }
    const w = this.kernel.data;
    // The kernel goes to the backend twice, as W and as Wᵀ, so that it is always a product's left
    // operand (as the right one XNNPACK repacks all D·C values, which costs more than transposing).
    let invNorm: Float64Array;
    if (this.prepared) {
      this.prepared.pending.wait();
      invNorm = this.prepared.invNorm;
      this.prepared = undefined;
    } else {
      if (this.transposedScratch?.length !== D * C) this.transposedScratch = sharedFloat32(D * C);
      invNorm = sharedFloat64(C);
      splitPass('transposeColumnNormsRange', [w, D, C, this.transposedScratch, invNorm], C, [w, this.transposedScratch, invNorm], { unit: D });
    }
    const wT = this.transposedScratch as Float32Array;
    const eT = transposed(embeddings, B, D); // [D, B]
    const kernel = this.kernelOnBackend(w, wT, opts.reuseBuffers ?? false);
    try {
      return this.trainingProducts(kernel, embeddings, eT, invNorm, norms, labels, opts);
    } finally {
      if (!kernel.resident) tf.dispose([kernel.w, kernel.wT]);
    }
  }

  /**
   * W and Wᵀ as backend tensors. With `keep` on wasm they stay allocated between steps and their
   * heap memory is overwritten (both are only ever a product's left operand, of which XNNPACK caches nothing),
   * which spares allocating 40 MB of wasm heap per step; elsewhere they are new tensors.
   */
  private kernelOnBackend(w: Float32Array, wT: Float32Array, keep: boolean): { w: tf.Tensor2D; wT: tf.Tensor2D; resident: boolean } {
    const D = this.embeddingSize;
    const C = this.classes;
    const backend = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array };
    if (!keep || tf.getBackend() !== 'wasm' || typeof backend.typedArrayFromHeap !== 'function') return { w: tf.tensor2d(w, [D, C]), wT: tf.tensor2d(wT, [C, D]), resident: false };
    const r = this.resident;
    if (r && !r.w.isDisposed && !r.wT.isDisposed) {
      backend.typedArrayFromHeap(r.w).set(w);
      backend.typedArrayFromHeap(r.wT).set(wT);
      return { ...r, resident: true };
    }
    this.resident = { w: tf.keep(tf.tensor2d(w, [D, C])), wT: tf.keep(tf.tensor2d(wT, [C, D])) };
    return { ...this.resident, resident: true };
  }

  /** Frees the backend memory trainingStep keeps between steps (it is allocated again if needed). */
  releaseTrainingMemory(): void {
    if (this.resident) tf.dispose([this.resident.w, this.resident.wT]);
    this.resident = undefined;
    this.prepared?.pending.wait();
    this.prepared = undefined;
    this.transposedScratch = undefined;
    this.gradientScratch = undefined;
  }

  private trainingProducts(
    kernel: { w: tf.Tensor2D; wT: tf.Tensor2D },
    embeddings: Float32Array,
    eT: Float32Array,
    invNorm: Float64Array,
    norms: ArrayLike<number>,
    labels: ArrayLike<number>,
    opts: { deferKernelGradient?: boolean; reuseBuffers?: boolean },
  ): HeadTrainingStep {
    const D = this.embeddingSize;
    const C = this.classes;
    const B = labels.length;
    const w = this.kernel.data;
    const invNorm32 = Float32Array.from(invNorm);
    const cosT = readBack(() => tf.matMul(kernel.wT, tf.tensor2d(eT, [D, B]))); // [C, B]
    const z = this.updateAndScale(norms);
    const { cosRaw, logits, dCosRaw, loss } = marginCrossEntropy(cosT, invNorm32, z, labels, this.config, B, C);
    const { g, gT, proj } = cosineGradients(dCosRaw, cosRaw, invNorm32, B, C);
    const deT = readBack(() => tf.matMul(kernel.w, tf.tensor2d(gT, [C, B]))); // [D, B]
    const dEmbeddings = transposed(deT, D, B);
    let out: Float32Array | undefined;
    if (opts.reuseBuffers) {
      if (this.gradientScratch?.length !== D * C) this.gradientScratch = sharedFloat32(D * C);
      out = this.gradientScratch;
    }
    // Deferred on wasm with the worker: the worker multiplies eᵀg on its own backend and forms
    // the gradient while the caller goes on (the kernel does not change before the optimiser).
    if (opts.deferKernelGradient && tf.getBackend() === 'wasm' && hasPassWorker() && isShared(w) && isShared(invNorm)) {
      const gradient = out ?? sharedFloat32(D * C);
      const pending = startPasses([{ kernel: 'headKernelGradientRange', args: [eT, g, proj, w, invNorm, B, C, gradient], start: 0, end: D }]);
      return { loss, logits, marginScaler: z, dEmbeddings, kernelGradient: gradient, completeKernelGradient: () => pending.wait() };
    }
    const eTg = readBackFast(() => tf.matMul(tf.tensor2d(eT, [D, B]), tf.tensor2d(g, [B, C])), out); // [D, C]
    // In place: eTg becomes the kernel gradient.
    const sumSquares = splitPass('kernelGradientRange', [eTg, proj, w, invNorm, C], D, [eTg, w], { unit: C });
    const finish = () => sumSquares;
    return { loss, logits, marginScaler: z, dEmbeddings, kernelGradient: eTg, completeKernelGradient: finish };
  }

  private checkBatch(op: string, embeddings: tf.Tensor2D, norms: ArrayLike<number>, labels: ArrayLike<number>, classes: number): void {
    const B = embeddings.shape[0];
    if (norms.length !== B || labels.length !== B) throw new Error(`AdaFaceHead.${op}: ${B} embeddings but ${norms.length} norms and ${labels.length} labels`);
    for (let i = 0; i < B; i++) {
      if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= classes) throw new Error(`AdaFaceHead.${op}: label ${labels[i]} of row ${i} is outside 0..${classes - 1}`);
    }
  }

  /** Batch statistics update, then the margin on the label column and the scale. cosine [B, C] clamped. */
  private marginLogits(cosine: tf.Tensor2D, norms: ArrayLike<number>, labels: ArrayLike<number>): AdaFaceForward {
    const [B, C] = cosine.shape;
    const { m, s, eps } = this.config;
    const marginScaler = this.updateAndScale(norms);
    const z = tf.tensor2d(marginScaler, [B, 1]);
    const onehot = oneHotFloat(labels, C);
    // Only the label column changes: elsewhere cos(clip(acos(c))) is c itself (|c| ≤ 1 − ε).
    const cosLabel = tf.sum(tf.mul(cosine, onehot), 1, true); // [B,1]
    const theta = tf.clipByValue(tf.sub(tf.acos(cosLabel), tf.mul(z, m)), eps, Math.PI - eps);
    const marginLabel = tf.sub(tf.cos(theta), tf.add(tf.mul(z, m), m));
    const logits = tf.mul(tf.add(cosine, tf.mul(onehot, tf.sub(marginLabel, cosLabel))), s) as tf.Tensor2D;
    return { logits, cosine, marginScaler };
  }
}

/** The head's training step: loss, logits and gradients. */
export interface HeadTrainingStep {
  /** mean cross-entropy */
  loss: number;
  /** [B, C] scaled logits */
  logits: Float32Array;
  /** [B] the margin scaler z per row */
  marginScaler: Float32Array;
  /** [B, D] dLoss/dembeddings */
  dEmbeddings: Float32Array;
  /** [D, C] dLoss/dkernel, complete once completeKernelGradient() has returned */
  kernelGradient: Float32Array;
  /** Waits for the kernel gradient; returns the sum of its squares (float64), for the global norm. */
  completeKernelGradient(): number;
}

/** Runs `f` in a tidy scope and reads its tensor back. */
function readBack(f: () => tf.Tensor): Float32Array {
  const t = tf.tidy(f);
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
}

/** 1/‖W_c‖ for every column of W [D, C]. */
function inverseColumnNorms(w: Float32Array, D: number, C: number): Float64Array {
  const sq = new Float64Array(C);
  for (let d = 0; d < D; d++) {
    const o = d * C;
    for (let c = 0; c < C; c++) sq[c] += w[o + c] * w[o + c];
  }
  for (let c = 0; c < C; c++) sq[c] = 1 / Math.sqrt(sq[c]);
  return sq;
}

/** Softmax probabilities below this are treated as 0 in the head's backward pass (see marginCrossEntropy). */
const FLUSH_BELOW = 1e-30;

/**
 * Logits with the margin on the label column, mean cross-entropy, and dLoss/dcos before the clamp.
 * @param cosT [C, B] e·W_c (not yet divided by ‖W_c‖)
 */
function marginCrossEntropy(cosT: Float32Array, invNorm32: Float32Array, z: Float32Array, labels: ArrayLike<number>, config: AdaFaceConfig, B: number, C: number): { cosRaw: Float32Array; logits: Float32Array; dCosRaw: Float32Array; loss: number } {
  const { m, s, eps } = config;
  const cosRaw = new Float32Array(B * C);
  for (let c = 0; c < C; c++) for (let b = 0; b < B; b++) cosRaw[b * C + c] = cosT[c * B + b] * invNorm32[c];
  const lo = -1 + eps;
  const hi = 1 - eps;
  const logits = new Float32Array(B * C);
  const dCosRaw = new Float32Array(B * C);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const o = b * C;
    const l = labels[b];
    for (let c = 0; c < C; c++) logits[o + c] = s * Math.min(Math.max(cosRaw[o + c], lo), hi);
    // Only the label column carries the margin.
    const cosL = Math.min(Math.max(cosRaw[o + l], lo), hi);
    const thetaRaw = Math.acos(cosL) - m * z[b];
    const theta = Math.min(Math.max(thetaRaw, eps), Math.PI - eps);
    logits[o + l] = s * (Math.cos(theta) - (m + m * z[b]));
    let max = -Infinity;
    for (let c = 0; c < C; c++) if (logits[o + c] > max) max = logits[o + c];
    // exp(logit − max) once per class, kept in dCosRaw until it is scaled below.
    let sum = 0;
    for (let c = 0; c < C; c++) sum += dCosRaw[o + c] = Math.exp(logits[o + c] - max);
    const lse = max + Math.log(sum);
    loss += lse - logits[o + l];
    // dLoss/dlogit = (softmax − onehot)/B; through the clamp (gradient kept at its bounds).
    // Probabilities below FLUSH_BELOW become 0: as float32 they are denormal, which makes every
    // product they enter (XNNPACK's and V8's) about three times slower, and their share of any
    // sum is far below float32 resolution.
    const toProbability = 1 / sum;
    for (let c = 0; c < C; c++) {
      const inside = cosRaw[o + c] >= lo && cosRaw[o + c] <= hi;
      const p = dCosRaw[o + c] * toProbability;
      dCosRaw[o + c] = inside && p >= FLUSH_BELOW ? (s * p) / B : 0;
    }
    const dLogitL = (Math.exp(logits[o + l] - lse) - 1) / B;
    // d cos(θ')/d cos = sin θ' / sin θ where θ' is not clipped, 0 where it is.
    const thetaInside = thetaRaw >= eps && thetaRaw <= Math.PI - eps;
    const dMargin = thetaInside ? Math.sin(theta) / Math.sqrt(1 - cosL * cosL) : 0;
    const labelInside = cosRaw[o + l] >= lo && cosRaw[o + l] <= hi;
    dCosRaw[o + l] = labelInside ? s * dLogitL * dMargin : 0;
  }
  return { cosRaw, logits, dCosRaw, loss: loss / B };
}

/**
 * g = dcos/‖W_c‖ [B, C] and its transpose [C, B]; proj_c = Σ_b dcos_bc·cos_bc for the
 * normalisation's term of the kernel gradient.
 */
function cosineGradients(dCosRaw: Float32Array, cosRaw: Float32Array, invNorm32: Float32Array, B: number, C: number): { g: Float32Array; gT: Float32Array; proj: Float32Array } {
  const g = new Float32Array(B * C);
  const gT = new Float32Array(C * B);
  const proj = new Float32Array(C);
  for (let b = 0; b < B; b++) {
    const o = b * C;
    for (let c = 0; c < C; c++) {
      const v = dCosRaw[o + c] * invNorm32[c];
      g[o + c] = v;
      gT[c * B + b] = v;
      proj[c] += dCosRaw[o + c] * cosRaw[o + c];
    }
  }
  return { g, gT, proj };
}

/**
 * A big tensor's values in `into` or a new (shared) array: copied straight out of the wasm heap
 * when the backend has one (tfjs's dataSync slices the heap into a new buffer).
 */
function readBackFast(f: () => tf.Tensor, into?: Float32Array): Float32Array {
  const t = tf.tidy(f);
  try {
    const out = into ?? sharedFloat32(t.size);
    const backend = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array };
    out.set(typeof backend.typedArrayFromHeap === 'function' && t.dtype === 'float32' ? backend.typedArrayFromHeap(t) : (t.dataSync() as Float32Array));
    return out;
  } finally {
    t.dispose();
  }
}

/**
 * Mean cross-entropy of logits against labels (torch.nn.CrossEntropyLoss).
 * @param logits [B, C]
 */
export function crossEntropyTf(logits: tf.Tensor2D, labels: ArrayLike<number>): tf.Scalar {
  const [B, C] = logits.shape;
  const onehot = oneHotFloat(labels, C);
  return tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), onehot))), B) as tf.Scalar;
}
