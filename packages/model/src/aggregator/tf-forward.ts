/**
 * The aggregator forward pass on tfjs, differentiable, for batches of sets of equal size T.
 * Train mode (Gumbel-softmax selection with the straight-through one-hot, dropout) and eval mode
 * (the zero-noise limit: argmax) share this code; training takes gradients through it.
 *
 * The cross-attention never projects the T keys and values: each head's query is folded through
 * the key projection (q_hᵀW_k,h, a D-vector), scores are dot products with the raw keys, and the
 * value projection is applied after the weighted sum. The key bias adds the same q_h·b_k,h to every
 * score of a query and cancels in the softmax. Exact up to rounding; O(T·D·H·K) instead of O(T·D²).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AggregatorConfig, GAMMA_BASE, NORMALIZE_EPS } from './config';
import { encodeNormRawTf } from './norm-encoding';
import { argMaxOneHot, l2Norm, layerNorm, linear, matMul, sliceAlong, straightThroughOneHot } from '../tf-ops';

/** Parameters as tfjs tensors, by official name (see params.ts). Only the used ones are read. */
export type AggregatorTfParams = Record<string, tf.Tensor>;

/** Supplies the random numbers of train mode. */
export interface TrainRandomness {
  /**
   * Gumbel noise for selection step k ([B, T] values), or undefined for no noise. The official
   * noise is −log(Exponential(1)).
   */
  gumbel(step: number, batch: number, size: number): Float32Array | undefined;
  /** A dropout keep-mask already scaled by 1/(1−p) (n values), or undefined for no dropout. */
  dropoutMask(n: number): Float32Array | undefined;
}

export interface TfForwardOptions {
  /** 'eval': argmax selection, no dropout; 'train': Gumbel-softmax straight-through selection. */
  mode: 'eval' | 'train';
  /** Train-mode randomness (defaults to none: no noise, no dropout). */
  randomness?: TrainRandomness;
  /** Skip the norm encoding and the decoder: the aggregate is the coreset mean (official `only_FPS`). */
  onlyFps?: boolean;
  /** Also return the named intermediate tensors (for parity tests). */
  intermediates?: boolean;
}

export interface TfForwardResult {
  /** [B, D] unit aggregates */
  aggregate: tf.Tensor2D;
  /** [B] aggregate norms */
  norm: tf.Tensor1D;
  /** [B, K', D] selected rows (norm-multiplied features), selection order */
  coreset: tf.Tensor3D;
  /** [B, K'] int32 selected indices */
  indices: tf.Tensor2D;
  /** [K', B, T] logits handed to each selection step (norms, then running-min distances), unscaled */
  selectionLogits: tf.Tensor3D;
  /** [K', B, T] train mode: softmax(logits + noise) of each step */
  selectionSoft?: tf.Tensor3D;
  intermediates?: Record<string, tf.Tensor>;
}

/**
 * Runs the aggregator. Call inside tf.tidy (or tf.grads); the outputs are plain tensors.
 * @param features [B, T, D] unit features
 * @param norms [B, T] backbone norms
 */
export function aggregatorForwardTf(config: AggregatorConfig, p: AggregatorTfParams, features: tf.Tensor3D, norms: tf.Tensor2D, opts: TfForwardOptions): TfForwardResult {
  const [B, T, D] = features.shape;
  if (D !== config.embeddingSize) throw new Error(`aggregatorForwardTf: features have width ${D}, expected embeddingSize ${config.embeddingSize}`);
  if (norms.shape[0] !== B || norms.shape[1] !== T) throw new Error(`aggregatorForwardTf: norms have shape [${norms.shape}], expected [${B}, ${T}]`);
  if (T < 1) throw new Error('aggregatorForwardTf: a set needs at least one item (T >= 1)');
  const K = Math.min(config.coresetSize, T);
  const H = config.heads;
  const dh = D / H;
  const train = opts.mode === 'train';
  const rand = train ? opts.randomness : undefined;
  const dropout = (x: tf.Tensor): tf.Tensor => {
    const m = rand?.dropoutMask(x.size);
    return m ? tf.mul(x, tf.tensor(m, x.shape)) : x;
  };
  const inter: Record<string, tf.Tensor> = {};

  // x = n·f: everything below selects rows of x.
  const x = tf.mul(features, tf.expandDims(norms, 2)) as tf.Tensor3D; // [B,T,D]
  const xNorm = l2Norm(x, -1, true); // [B,T,1]
  const xUnit = tf.div(x, tf.maximum(xNorm, NORMALIZE_EPS)); // [B,T,D]
  const gamma = config.gamma === 'learned' ? tf.add(p['gamma'], GAMMA_BASE) : tf.scalar(GAMMA_BASE + config.gamma);
  // n^γ as exp(γ·log n): the gradient reaches γ through it.
  const quality = tf.exp(tf.mul(gamma, tf.log(norms))); // [B,T]

  /** (1 − cos(x_i, c))·n_i^γ / 2 for every i. c: [B,1,D] -> [B,T] */
  const qualityDistance = (c: tf.Tensor): tf.Tensor => {
    const cUnit = tf.div(c, tf.maximum(l2Norm(c, -1, true), NORMALIZE_EPS));
    const cos = tf.reshape(matMul(xUnit, tf.reshape(cUnit, [B, D, 1])), [B, T]);
    return tf.mul(quality, tf.div(tf.sub(1, cos), 2));
  };

  const logitsPerStep: tf.Tensor[] = [];
  const softPerStep: tf.Tensor[] = [];
  const indexPerStep: tf.Tensor[] = [];
  /** One-hot [B,T] of this step's pick: argmax in eval, straight-through Gumbel-softmax in train. */
  const select = (logits: tf.Tensor, step: number): tf.Tensor => {
    logitsPerStep.push(logits);
    if (!train) {
      const { index, oneHot } = argMaxOneHot(logits);
      indexPerStep.push(index);
      return oneHot;
    }
    const g = rand?.gumbel(step, B, T);
    const soft = tf.softmax(g ? tf.add(logits, tf.tensor2d(g, [B, T])) : logits);
    softPerStep.push(soft);
    indexPerStep.push(argMaxOneHot(soft).index);
    return straightThroughOneHot(soft);
  };
  /** Σ_t mask_t·x_t: [B,T] -> [B,1,D] (a product, so gradients reach the soft mask). */
  const pickRow = (mask: tf.Tensor) => matMul(tf.reshape(mask, [B, 1, T]), x);

  const rows: tf.Tensor[] = [];
  let c = pickRow(select(norms, 0));
  rows.push(c);
  let dist = K > 1 ? qualityDistance(c) : undefined;
  for (let k = 1; k < K; k++) {
    c = pickRow(select(dist as tf.Tensor, k));
    rows.push(c);
    if (k < K - 1) dist = tf.minimum(dist as tf.Tensor, qualityDistance(c));
  }
  const coreset = (K === 1 ? rows[0] : tf.concat(rows, 1)) as tf.Tensor3D; // [B,K,D]
  const indices = tf.cast(tf.stack(indexPerStep, 1), 'int32') as tf.Tensor2D; // [B,K]
  const selectionLogits = tf.stack(logitsPerStep, 0) as tf.Tensor3D;
  const selectionSoft = train ? (tf.stack(softPerStep, 0) as tf.Tensor3D) : undefined;

  let sum: tf.Tensor; // [B,D], the sum over k (mean = sum/K)
  if (opts.onlyFps) {
    sum = tf.sum(coreset, 1);
  } else {
    const delta = decoderLayer(config, p, x, norms, coreset, { B, T, K, D, H, dh, dropout, inter });
    sum = tf.sum(tf.add(coreset, delta), 1);
  }
  const mean = tf.div(sum, K);
  const norm = l2Norm(mean, -1) as tf.Tensor1D; // [B]
  const aggregate = tf.div(mean, tf.expandDims(norm, 1)) as tf.Tensor2D;
  return { aggregate, norm, coreset, indices, selectionLogits, selectionSoft, intermediates: opts.intermediates ? inter : undefined };
}

interface DecoderContext {
  B: number;
  T: number;
  K: number;
  D: number;
  H: number;
  dh: number;
  dropout: (x: tf.Tensor) => tf.Tensor;
  inter: Record<string, tf.Tensor>;
}

/**
 * LayerNorm(pos_trans_norm) of the raw norm encoding.
 * @param v [B, N] norms -> [B, N, D]
 */
function encodeNormsTf(config: AggregatorConfig, p: AggregatorTfParams, v: tf.Tensor, ctx: DecoderContext, name: string): tf.Tensor {
  const raw = encodeNormRawTf(v, ctx.D); // [B,N,D]
  const enc = layerNorm(raw, p['pos_trans_norm.weight'], p['pos_trans_norm.bias'], config.layerNormEps);
  ctx.inter[`pos_embed_raw_${name}`] = raw;
  ctx.inter[`pos_embed_ln_${name}`] = enc;
  return enc;
}

/** [B*N, H*dh] rows -> [B, H, N, dh] */
function splitHeads(x: tf.Tensor, B: number, N: number, H: number, dh: number): tf.Tensor {
  return tf.transpose(tf.reshape(x, [B, N, H, dh]), [0, 2, 1, 3]);
}

/**
 * The decoder layer: q = LN1(q0 + SelfAttn(q0)) with q0 = C + E(‖C‖); out = LN2(C + CrossAttn(q,
 * keys x + E(n), values x)). Returns `out` [B, K, D].
 */
function decoderLayer(config: AggregatorConfig, p: AggregatorTfParams, x: tf.Tensor, norms: tf.Tensor, coreset: tf.Tensor, ctx: DecoderContext): tf.Tensor {
  const { B, K, D, H, dh, dropout, inter } = ctx;
  const eps = config.layerNormEps;
  const scale = 1 / Math.sqrt(dh);
  const sa = 'decoder_layer1.self_attn1.';
  const ca = 'decoder_layer1.multihead_attn1.';

  const encTemplate = encodeNormsTf(config, p, norms, ctx, 'template'); // [B,T,D]
  const encCore = encodeNormsTf(config, p, l2Norm(coreset, -1), ctx, 'core'); // [B,K,D]

  // Self-attention over the K coreset rows.
  const q0 = tf.add(coreset, encCore); // [B,K,D]
  const qkv = linear(tf.reshape(q0, [B * K, D]), p[sa + 'in_proj_weight'], p[sa + 'in_proj_bias']); // [B*K,3D]
  const [sq, sk, sv] = [0, 1, 2].map((i) => sliceAlong(qkv, 1, i * D, D));
  const qh = tf.mul(splitHeads(sq, B, K, H, dh), scale); // [B,H,K,dh]
  const kh = splitHeads(sk, B, K, H, dh);
  const vh = splitHeads(sv, B, K, H, dh);
  const saScores = matMul(tf.reshape(qh, [B * H, K, dh]), tf.reshape(tf.transpose(kh, [0, 1, 3, 2]), [B * H, dh, K])); // [BH,K,K]
  const saWeights = dropout(tf.softmax(saScores));
  const saHeads = matMul(saWeights, tf.reshape(vh, [B * H, K, dh])); // [BH,K,dh]
  const saConcat = tf.reshape(tf.transpose(tf.reshape(saHeads, [B, H, K, dh]), [0, 2, 1, 3]), [B * K, D]);
  const saOut = tf.reshape(linear(saConcat, p[sa + 'out_proj.weight'], p[sa + 'out_proj.bias']), [B, K, D]);
  inter['self_attn1_out'] = saOut;
  const q1 = layerNorm(tf.add(q0, dropout(saOut)), p['decoder_layer1.norm1.weight'], p['decoder_layer1.norm1.bias'], eps); // [B,K,D]
  inter['norm1_out'] = q1;

  // Cross-attention of the K queries over the T items, keys x + E(n), values x.
  const inW = p[ca + 'in_proj_weight'];
  const inB = p[ca + 'in_proj_bias'];
  const wq = sliceAlong(inW, 0, 0, D);
  const wk = sliceAlong(inW, 0, D, D);
  const wv = sliceAlong(inW, 0, 2 * D, D);
  const bq = sliceAlong(inB, 0, 0, D);
  const bv = sliceAlong(inB, 0, 2 * D, D);
  const cq = tf.mul(linear(tf.reshape(q1, [B * K, D]), wq, bq), scale); // [B*K,D]
  // Fold each head's query through its key projection: qk[h, b·K+k, :] = q[b,k,h,:] · W_k,h.
  const cqHeads = tf.transpose(tf.reshape(cq, [B * K, H, dh]), [1, 0, 2]); // [H,B*K,dh]
  const qk = matMul(cqHeads, tf.reshape(wk, [H, dh, D])); // [H,B*K,D]
  const qkT = tf.transpose(tf.reshape(qk, [H, B, K, D]), [1, 3, 0, 2]); // [B,D,H,K]
  const keys = tf.add(x, encTemplate); // [B,T,D]
  const scoresT = matMul(keys, tf.reshape(qkT, [B, D, H * K])); // [B,T,H*K]
  const weights = dropout(tf.softmax(tf.transpose(scoresT, [0, 2, 1]))); // [B,H*K,T]
  const pooled = matMul(weights, x); // [B,H*K,D] rows (h,k)
  // Value projection after pooling: out[b,k,h,:] = W_v,h·pooled[b,h,k,:] + b_v,h·Σ_t weights.
  const pooledHeads = tf.reshape(tf.transpose(tf.reshape(pooled, [B, H, K, D]), [1, 0, 2, 3]), [H, B * K, D]);
  const wvT = tf.transpose(tf.reshape(wv, [H, dh, D]), [0, 2, 1]); // [H,D,dh]
  const valHeads = matMul(pooledHeads, wvT); // [H,B*K,dh]
  const weightSum = tf.transpose(tf.reshape(tf.sum(weights, 2), [B, H, K, 1]), [0, 2, 1, 3]); // [B,K,H,1]
  const valBias = tf.mul(weightSum, tf.reshape(bv, [1, 1, H, dh])); // [B,K,H,dh]
  const values = tf.add(tf.transpose(tf.reshape(valHeads, [H, B, K, dh]), [1, 2, 0, 3]), valBias); // [B,K,H,dh]
  const caOut = tf.reshape(linear(tf.reshape(values, [B * K, D]), p[ca + 'out_proj.weight'], p[ca + 'out_proj.bias']), [B, K, D]);
  inter['cross_attn1_out'] = caOut;
  // The residual is the raw coreset, not the self-attention output.
  const delta = layerNorm(tf.add(coreset, dropout(caOut)), p['decoder_layer1.norm2.weight'], p['decoder_layer1.norm2.bias'], eps);
  inter['decoder_delta'] = delta;
  return delta;
}
