/**
 * One IResNet + AdaFace head under training: the model package's trainable IResNet (explicit
 * backward kernels), the AdaFace head and cross-entropy, optional global-norm clipping, and SGD
 * (AdaFace's recipe) or AdamW with two groups: BatchNorm parameters without weight decay,
 * everything else (including the head kernel) with it.
 *
 * State names: the backbone under `model.<official name>` in PyTorch layouts (running statistics
 * and num_batches_tracked counters included), the head under `head.*`, optimiser state under
 * `optimizer.<kind>.<name>` in the trainer's own layouts (conv filters HWIO).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AdaFaceHead,
  AdamW,
  clipGradNorm,
  crossEntropyTf,
  exportIResNetStateDict,
  globalGradNorm,
  importIResNetStateDict,
  initIResNetWeights,
  IResNetInference,
  iresnetTensorSpecs,
  TrainableIResNet,
  type AdaFaceConfig,
  type IResNetConfig,
} from '@facecoreset/model';
import type { BackboneTrainConfig } from '../../backbone-config';
import type { NamedTensor } from '../trainer';
import { Sgd } from './sgd';

export interface BackboneArchitecture {
  backbone: IResNetConfig;
  head: AdaFaceConfig & { classes: number };
}

const KERNEL = 'head.kernel';
const MODEL_PREFIX = 'model.';

export interface BackboneStepResult {
  loss: number;
  gradNorm: number;
  /** Mean feature norm of the batch (AdaFace's quality estimate). */
  meanNorm: number;
}

export class BackboneTrainer {
  private net: TrainableIResNet;
  readonly head: AdaFaceHead;
  private kernel: tf.Variable;
  private readonly optimizer: Sgd | AdamW;
  /** Live values of every trainable tensor (our layouts), by state name. */
  private live = new Map<string, Float32Array>();

  constructor(
    readonly architecture: BackboneArchitecture,
    private readonly config: BackboneTrainConfig,
    seed: number,
  ) {
    const { classes, ...headConfig } = architecture.head;
    this.net = TrainableIResNet.fromWeights(initIResNetWeights(architecture.backbone, seed));
    this.head = AdaFaceHead.create(architecture.backbone.embeddingSize, classes, headConfig, seed);
    this.kernel = tf.variable(tf.tensor2d(this.head.kernel.data, [architecture.backbone.embeddingSize, classes]), true);
    this.refreshLive();
    const bn = new Set(iresnetTensorSpecs(architecture.backbone).filter((s) => s.kind === 'bn.weight' || s.kind === 'bn.bias').map((s) => MODEL_PREFIX + s.name));
    const names = [...this.live.keys()];
    const groups = [
      { params: names.filter((n) => bn.has(n)), lr: config.lr, weightDecay: 0 },
      { params: names.filter((n) => !bn.has(n)), lr: config.lr, weightDecay: config.weight_decay },
    ];
    this.optimizer = config.optimizer === 'sgd' ? new Sgd(groups, config.momentum) : new AdamW(groups, { betas: config.betas, eps: config.eps });
  }

  private refreshLive(): void {
    this.live = new Map();
    for (const [name, v] of this.net.params) this.live.set(MODEL_PREFIX + name, (v.dataSync() as Float32Array).slice());
    this.live.set(KERNEL, this.head.kernel.data);
  }

  private variableOf(name: string): tf.Variable {
    return name === KERNEL ? this.kernel : this.net.params.get(name.slice(MODEL_PREFIX.length))!;
  }

  /**
   * One step on a batch.
   * @param images [B, S, S, 3] backbone input
   * @param labels [B] classes
   */
  step(images: Float32Array, labels: Int32Array, lr: number, dropoutSeed: number): BackboneStepResult {
    const B = labels.length;
    const S = this.architecture.backbone.inputSize;
    this.optimizer.setLearningRates([lr, lr]);
    const names = [...this.live.keys()];
    const vars = names.map((n) => this.variableOf(n));
    let meanNorm = 0;
    const grads = new Map<string, Float32Array>();
    let loss = NaN;
    tf.tidy(() => {
      const x = tf.tensor4d(images, [B, S, S, 3]);
      const { value, grads: g } = tf.variableGrads(() => {
        const pre = this.net.forwardTrain(x, { dropout: this.config.dropout, dropoutSeed });
        const norm = tf.sqrt(tf.sum(tf.square(pre), 1, true)); // [B,1]
        const embedding = tf.div(pre, norm) as tf.Tensor2D;
        const norms = norm.dataSync() as Float32Array; // the head sees the norms as constants
        meanNorm = norms.reduce((s, v) => s + v, 0) / B;
        const { logits } = this.head.forwardTf(embedding, norms, labels, this.kernel as unknown as tf.Tensor2D);
        return crossEntropyTf(logits, labels);
      }, vars);
      loss = value.dataSync()[0];
      names.forEach((n, i) => {
        const t = g[vars[i].name];
        if (t) grads.set(n, (t.dataSync() as Float32Array).slice());
      });
    });
    const gradNorm = this.config.gradient_clip_norm > 0 ? clipGradNorm(grads.values(), this.config.gradient_clip_norm).totalNorm : globalGradNorm(grads.values());
    this.optimizer.step(this.live, grads);
    for (const n of names) {
      const v = this.variableOf(n);
      tf.tidy(() => v.assign(tf.tensor(this.live.get(n)!, v.shape)));
    }
    return { loss, gradNorm, meanNorm };
  }

  /** Eval-mode (running statistics) embeddings of images [B, S, S, 3]: unit rows [B, D] and norms [B]. */
  embed(images: Float32Array, batch: number): { embeddings: Float32Array; norms: Float32Array } {
    return embedWith(this.net.toWeights(), images, batch);
  }

  /** Every tensor that determines the next steps, by state name. */
  state(): Map<string, NamedTensor> {
    const out = new Map<string, NamedTensor>();
    for (const [name, e] of exportIResNetStateDict(this.net.toWeights(), { prefix: MODEL_PREFIX })) {
      out.set(name, { shape: [...e.shape], data: Float32Array.from(e.data as ArrayLike<number>) });
    }
    for (const [name, t] of this.head.toStateDict()) out.set(name, { shape: [...t.shape], data: t.data.slice() });
    const shapeOf = (n: string): number[] => [...this.variableOf(n).shape];
    if (this.optimizer instanceof Sgd) {
      for (const [name, buf] of this.optimizer.buffers) out.set(`optimizer.momentum_buffer.${name}`, { shape: shapeOf(name), data: buf.slice() });
    } else {
      for (const [name, st] of this.optimizer.state) {
        out.set(`optimizer.exp_avg.${name}`, { shape: shapeOf(name), data: st.expAvg.slice() });
        out.set(`optimizer.exp_avg_sq.${name}`, { shape: shapeOf(name), data: st.expAvgSq.slice() });
      }
    }
    return out;
  }

  optimizerMeta(): Record<string, unknown> {
    if (this.optimizer instanceof Sgd) return { name: 'SGD', momentum: this.optimizer.momentum, buffers: [...this.optimizer.buffers.keys()] };
    const steps: Record<string, number> = {};
    for (const [name, st] of this.optimizer.state) steps[name] = st.step;
    return { name: 'AdamW', betas: [...this.optimizer.betas], eps: this.optimizer.eps, steps };
  }

  /** Restores what state() and optimizerMeta() returned; exact. */
  load(state: ReadonlyMap<string, NamedTensor>, optimizerMeta: Record<string, unknown>): void {
    const weights = importIResNetStateDict(state, { prefix: MODEL_PREFIX, config: this.architecture.backbone });
    this.net.dispose();
    this.net = TrainableIResNet.fromWeights(weights);
    const need = (name: string, size: number): Float32Array => {
      const t = state.get(name);
      if (!t || t.data.length !== size) throw new Error(`checkpoint lacks tensor '${name}' of ${size} values`);
      return t.data;
    };
    this.head.kernel.data.set(need(KERNEL, this.head.kernel.data.length));
    this.head.buffers.t = need('head.t', 1)[0];
    this.head.buffers.batchMean = need('head.batch_mean', 1)[0];
    this.head.buffers.batchStd = need('head.batch_std', 1)[0];
    this.kernel.assign(tf.tensor2d(this.head.kernel.data, this.kernel.shape as [number, number]));
    this.refreshLive();
    if (this.optimizer instanceof Sgd) {
      if (optimizerMeta.name !== 'SGD') throw new Error(`checkpoint optimiser is ${String(optimizerMeta.name)}, the config says sgd`);
      this.optimizer.buffers.clear();
      for (const name of optimizerMeta.buffers as string[]) this.optimizer.buffers.set(name, need(`optimizer.momentum_buffer.${name}`, this.live.get(name)!.length).slice());
    } else {
      if (optimizerMeta.name !== 'AdamW') throw new Error(`checkpoint optimiser is ${String(optimizerMeta.name)}, the config says adamw`);
      this.optimizer.state.clear();
      for (const [name, step] of Object.entries(optimizerMeta.steps as Record<string, number>)) {
        const n = this.live.get(name)!.length;
        this.optimizer.state.set(name, { step, expAvg: need(`optimizer.exp_avg.${name}`, n).slice(), expAvgSq: need(`optimizer.exp_avg_sq.${name}`, n).slice() });
      }
    }
  }

  /** The backbone's weights now (PyTorch names and layouts). */
  weights() {
    return this.net.toWeights();
  }

  dispose(): void {
    this.net.dispose();
    this.kernel.dispose();
  }
}

/** Eval-mode embeddings of images under given weights, in batches of 32. */
export function embedWith(weights: ReturnType<TrainableIResNet['toWeights']>, images: Float32Array, batch: number): { embeddings: Float32Array; norms: Float32Array } {
  const S = weights.config.inputSize;
  const D = weights.config.embeddingSize;
  const per = S * S * 3;
  const net = IResNetInference.fromWeights(weights);
  const embeddings = new Float32Array(batch * D);
  const norms = new Float32Array(batch);
  try {
    for (let b0 = 0; b0 < batch; b0 += 32) {
      const n = Math.min(32, batch - b0);
      const x = tf.tensor4d(images.subarray(b0 * per, (b0 + n) * per), [n, S, S, 3]);
      const out = net.forward(x);
      embeddings.set(out.embedding.dataSync() as Float32Array, b0 * D);
      norms.set(out.norm.dataSync() as Float32Array, b0);
      tf.dispose([x, out.embedding, out.norm]);
    }
  } finally {
    net.dispose();
  }
  return { embeddings, norms };
}
