/**
 * Eval-mode IResNet forward pass on tfjs, NHWC, with every BatchNorm folded (see fold.ts).
 * Per unit: [pre-add] -> conv3x3+bias+PReLU -> conv3x3(stride)+bias, plus the shortcut
 * (1x1 max-pool subsampling or 1x1 conv+bias), added. The output layer is one matMul + bias.
 */
import * as tf from '@tensorflow/tfjs-core';
import { IResNetConfig } from './config';
import { FoldedConv, FoldedIResNet, foldIResNet } from './fold';
import { EmbeddingBatch, FlipFusionMethod, fuseFlipFeatures } from './flip-fusion';
import { flipImagesHorizontally } from './preprocess';
import { IResNetWeights } from './weights';

export interface BackboneOutput {
  /** Unit-length embeddings [B, D]. */
  embedding: tf.Tensor2D;
  /** L2 norms of the pre-normalisation embeddings [B] (AdaFace: the quality estimate). */
  norm: tf.Tensor1D;
  /**
   * When asked for: activations by official module name, NHWC: `input_layer` [B, H, W, C],
   * `body.N` [B, H', W', C'], and `output_layer` [B, D] (the embedding before normalisation).
   */
  intermediates?: Map<string, tf.Tensor>;
}

interface ConvTensors {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
}

interface UnitTensors {
  stride: 1 | 2;
  preAdd?: tf.Tensor1D;
  preScale?: tf.Tensor1D;
  preShift?: tf.Tensor1D;
  conv1: ConvTensors;
  prelu: tf.Tensor1D;
  conv2: ConvTensors;
  shortcut?: ConvTensors;
}

function convTensors(c: FoldedConv): ConvTensors {
  return { filter: tf.tensor4d(c.filter, c.shape), bias: tf.tensor1d(c.bias) };
}

/**
 * An IResNet ready for eval-mode inference on the current tfjs backend. Holds tensors: call
 * dispose() when done. Build it after initBackend().
 */
export class IResNetInference {
  readonly config: IResNetConfig;
  private readonly stem: ConvTensors;
  private readonly stemPrelu: tf.Tensor1D;
  private readonly units: UnitTensors[];
  /** The output matrix split by spatial position: H·W blocks [C, D]. */
  private readonly outChunks: tf.Tensor2D[];
  private readonly outBias: tf.Tensor1D;

  constructor(folded: FoldedIResNet) {
    this.config = folded.config;
    const c = folded.config;
    this.stem = convTensors(folded.stem);
    this.stemPrelu = tf.tensor1d(folded.stemPrelu);
    this.units = folded.units.map((u) => ({
      stride: u.stride,
      preAdd: u.preNorm.kind === 'add' ? tf.tensor1d(u.preNorm.offset) : undefined,
      preScale: u.preNorm.kind === 'affine' ? tf.tensor1d(u.preNorm.scale) : undefined,
      preShift: u.preNorm.kind === 'affine' ? tf.tensor1d(u.preNorm.shift) : undefined,
      conv1: convTensors(u.conv1),
      prelu: tf.tensor1d(u.prelu),
      conv2: convTensors(u.conv2),
      shortcut: u.shortcut ? convTensors(u.shortcut) : undefined,
    }));
    const lastWidth = c.widths[c.widths.length - 1];
    const positions = folded.outMatrix.length / (lastWidth * c.embeddingSize);
    const block = lastWidth * c.embeddingSize;
    this.outChunks = Array.from({ length: positions }, (_, p) =>
      tf.tensor2d(folded.outMatrix.subarray(p * block, (p + 1) * block), [lastWidth, c.embeddingSize]),
    );
    this.outBias = tf.tensor1d(folded.outBias);
  }

  static fromWeights(weights: IResNetWeights): IResNetInference {
    return new IResNetInference(foldIResNet(weights));
  }

  /**
   * @param images [B, H, W, 3] float32, BGR, (x/255 − 0.5)/0.5 (see backboneInputFromRgb)
   */
  forward(images: tf.Tensor4D, opts: { intermediates?: boolean } = {}): BackboneOutput {
    const c = this.config;
    const [, h, w, ch] = images.shape;
    if (h !== c.inputSize || w !== c.inputSize || ch !== 3) {
      throw new Error(`IResNet forward: expected images [B, ${c.inputSize}, ${c.inputSize}, 3] (NHWC), got [${images.shape.join(', ')}]`);
    }
    const keep = opts.intermediates ? new Map<string, tf.Tensor>() : undefined;
    const result = tf.tidy(() => {
      let x: tf.Tensor4D = tf.fused.conv2d({
        x: images,
        filter: this.stem.filter,
        strides: 1,
        pad: 1,
        bias: this.stem.bias,
        activation: 'prelu',
        preluActivationWeights: this.stemPrelu,
      });
      if (keep) keep.set('input_layer', tf.keep(x));
      this.units.forEach((u, i) => {
        x = this.unit(u, x);
        if (keep) keep.set(`body.${i}`, tf.keep(x));
      });
      const pre = this.outputLayer(x);
      if (keep) keep.set('output_layer', tf.keep(pre));
      const norm = tf.sqrt(tf.sum(tf.square(pre), 1)) as tf.Tensor1D;
      const embedding = tf.div(pre, tf.expandDims(norm, 1)) as tf.Tensor2D;
      return { embedding, norm };
    });
    return keep ? { ...result, intermediates: keep } : result;
  }

  /**
   * Plain-array convenience for extraction: embeddings and norms of `count` images.
   * @param images float32 [count, S, S, 3] as backboneInputFromRgb makes them
   */
  embed(images: Float32Array, count: number): EmbeddingBatch {
    const s = this.config.inputSize;
    if (images.length !== count * s * s * 3) throw new Error(`IResNet embed: expected ${count}x${s}x${s}x3 = ${count * s * s * 3} values, got ${images.length}`);
    const x = tf.tensor4d(images, [count, s, s, 3]);
    const out = this.forward(x);
    const result = { embedding: out.embedding.dataSync() as Float32Array, norm: out.norm.dataSync() as Float32Array };
    tf.dispose([x, out.embedding, out.norm]);
    return result;
  }

  /**
   * The flip test: embeds the images and their mirror images and fuses each pair (the official IJB
   * script's default fusion is 'pre_norm_vector_add').
   */
  embedWithFlip(images: Float32Array, count: number, method: FlipFusionMethod = 'pre_norm_vector_add'): EmbeddingBatch {
    const s = this.config.inputSize;
    const original = this.embed(images, count);
    const flipped = this.embed(flipImagesHorizontally(images, count, s, s, 3), count);
    return fuseFlipFeatures(original, flipped, method);
  }

  /**
   * The folded output layer. One [B, H·W·C] x [H·W·C, D] product accumulates 25,088 terms in float32
   * (5e-6 of the largest output off on wasm); products per spatial position (C terms each), summed,
   * stay below 1e-6 at about the same speed. (A batched [H·W, B, C] x [H·W, C, D] matMul would be
   * simpler but is ~10x slower on wasm.)
   * @param x [B, H, W, C]
   */
  private outputLayer(x: tf.Tensor4D): tf.Tensor2D {
    const [b, h, w, c] = x.shape;
    const parts = tf.split(tf.reshape(x, [b, h * w * c]), this.outChunks.length, 1);
    const partial = parts.map((p, i) => tf.matMul(p, this.outChunks[i]));
    return tf.add(tf.addN(partial), this.outBias) as tf.Tensor2D;
  }

  private unit(u: UnitTensors, x: tf.Tensor4D): tf.Tensor4D {
    let pre: tf.Tensor4D;
    if (u.preAdd) pre = tf.add(x, u.preAdd);
    else pre = tf.add(tf.mul(x, u.preScale!), u.preShift!);
    const mid = tf.fused.conv2d({
      x: pre,
      filter: u.conv1.filter,
      strides: 1,
      pad: 1,
      bias: u.conv1.bias,
      activation: 'prelu',
      preluActivationWeights: u.prelu,
    });
    const res = tf.fused.conv2d({ x: mid, filter: u.conv2.filter, strides: u.stride, pad: 1, bias: u.conv2.bias });
    let shortcut: tf.Tensor4D;
    if (u.shortcut) shortcut = tf.fused.conv2d({ x, filter: u.shortcut.filter, strides: u.stride, pad: 0, bias: u.shortcut.bias });
    // A 1x1 max-pool with stride 2 is the official subsampling x[:, :, ::2, ::2] (and much faster than stridedSlice on wasm).
    else shortcut = u.stride === 1 ? x : tf.maxPool(x, 1, u.stride, 'valid');
    return tf.add(res, shortcut);
  }

  dispose(): void {
    const all: tf.Tensor[] = [this.stem.filter, this.stem.bias, this.stemPrelu, ...this.outChunks, this.outBias];
    for (const u of this.units) {
      all.push(u.conv1.filter, u.conv1.bias, u.prelu, u.conv2.filter, u.conv2.bias);
      for (const t of [u.preAdd, u.preScale, u.preShift, u.shortcut?.filter, u.shortcut?.bias]) if (t) all.push(t);
    }
    tf.dispose(all);
  }
}
