/**
 * The fast eval path: the aggregator's zero-noise forward pass fused by hand. Small per-set work
 * (selection, norm encodings, LayerNorms, K×K self-attention, softmaxes) runs in float64 JS; only
 * the dense products go to tfjs matMul (XNNPACK on wasm), with weights uploaded once and already
 * transposed. The projections of all sets of a batch run as one product each, so sets of any
 * mix of sizes are handled without padding.
 *
 * Cross-attention without projecting the T keys/values (see tf-forward.ts), and without
 * materialising the LayerNorm of the template encoding: with E_t = (r_t − μ_t)/σ_t ∘ w + b,
 *   (x_t + E_t)·u = n_t (f_t·u) + (r_t·(w∘u) − μ_t (w·u))/σ_t + b·u,
 * and b·u is the same for every t, so it cancels in the softmax.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AggregatorConfig, GAMMA_BASE } from './config';
import { AggregatorParams } from './params';
import { encodeNormRaw, encodeNorms, layerNormRows, normEncodingFrequencies } from './norm-encoding';
import { FpsKernels, farthestPointSample, jsFpsKernels } from './fps';
import { AggregateOutput, TemplateSet, checkSet, emptyAggregateOutput } from './types';
import { transposed } from '../training/dense';

/** Per-set intermediate values, for parity tests. */
export interface FusedIntermediates {
  /** [K', T] unscaled selection logits per step */
  selectionLogits: Float32Array;
  /** [T, D] */
  posEmbedRawTemplate: Float32Array;
  /** [T, D] */
  posEmbedLnTemplate: Float32Array;
  /** [K', D] each */
  posEmbedRawCore: Float32Array;
  posEmbedLnCore: Float32Array;
  selfAttnOut: Float32Array;
  norm1Out: Float32Array;
  crossAttnOut: Float32Array;
  decoderDelta: Float32Array;
}

export interface FusedEvalOptions {
  onlyFps?: boolean;
  intermediates?: boolean;
  /**
   * Sets of at least this size use the large-set kernels: selection's row products on tfjs and
   * pooling over the transposed features (default 256; tests lower it to cover them).
   */
  largeSetFrom?: number;
}

interface DenseWeights {
  saInT: tf.Tensor2D; // [D, 3D]
  saOutT: tf.Tensor2D; // [D, D]
  caQT: tf.Tensor2D; // [D, D]
  caKHeads: tf.Tensor2D[]; // H × [dh, D]
  caVHeadsT: tf.Tensor2D[]; // H × [D, dh]
  caOutT: tf.Tensor2D; // [D, D]
}

/**
 * Runs `f` in a tidy scope and reads its tensor back. (Returning the typed array from tf.tidy
 * itself would make tidy walk every element looking for tensors.)
 */
function readBack(f: () => tf.Tensor): Float32Array {
  const t = tf.tidy(f);
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
}

/** a [M, in] @ w [in, out] -> [M, out] */
function gemm(a: Float32Array, m: number, w: tf.Tensor2D): Float32Array {
  return readBack(() => tf.matMul(tf.tensor2d(a, [m, w.shape[0]]), w));
}

/**
 * a [G, M, in] @ w_g [in, out] for each g -> [G, M, out]. One rank-2 product per g: tfjs-wasm's
 * batched matMul does not reach XNNPACK and is several times slower.
 */
function gemmPerGroup(a: Float32Array, m: number, ws: tf.Tensor2D[]): Float32Array {
  const [inner, outer] = ws[0].shape;
  const out = new Float32Array(ws.length * m * outer);
  ws.forEach((w, g) => out.set(gemm(a.subarray(g * m * inner, (g + 1) * m * inner), m, w), g * m * outer));
  return out;
}

/**
 * From this set size on: selection's row products run on tfjs (below, JS loops are cheaper than
 * the calls), and pooling multiplies the transposed features (as a product's right-hand side,
 * XNNPACK would repack all T·D values, which costs more than transposing them).
 */
const LARGE_SET_FROM = 256;

/** FPS kernels on the set's features already uploaded as `f` [T, D]. */
function tfFpsKernels(f: tf.Tensor2D): FpsKernels {
  const D = f.shape[1];
  return {
    rowNormsSq: () => readBack(() => tf.sum(tf.square(f), 1)),
    rowDots: (c: Float32Array) => readBack(() => tf.matMul(f, tf.tensor2d(c, [D, 1]))),
  };
}

function addRowBias(x: Float32Array, rows: number, bias: Float32Array, biasOffset = 0, width = bias.length - biasOffset): void {
  for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) x[r * width + j] += bias[biasOffset + j];
}

/** Holds the uploaded weights of one parameter version; dispose() frees them. */
export class FusedEvaluator {
  private dense: DenseWeights | undefined;
  private readonly D: number;
  private readonly H: number;
  private readonly dh: number;
  private readonly gamma: number;

  constructor(
    private readonly config: AggregatorConfig,
    private readonly params: AggregatorParams,
  ) {
    this.D = config.embeddingSize;
    this.H = config.heads;
    this.dh = this.D / this.H;
    this.gamma = GAMMA_BASE + (config.gamma === 'learned' ? params['gamma'].data[0] : config.gamma);
  }

  private p(name: string): Float32Array {
    const t = this.params[name];
    if (!t) throw new Error(`aggregator parameter '${name}' is missing`);
    return t.data;
  }

  private weights(): DenseWeights {
    if (this.dense) return this.dense;
    const { D, H, dh } = this;
    const mat = (name: string, rows: number, offset = 0) => tf.tensor2d(this.p(name).slice(offset * D, (offset + rows) * D), [rows, D]);
    const caIn = 'decoder_layer1.multihead_attn1.in_proj_weight';
    let dense: DenseWeights | undefined;
    tf.tidy(() => {
      dense = {
        saInT: tf.transpose(mat('decoder_layer1.self_attn1.in_proj_weight', 3 * D)),
        saOutT: tf.transpose(mat('decoder_layer1.self_attn1.out_proj.weight', D)),
        caQT: tf.transpose(mat(caIn, D, 0)),
        caKHeads: Array.from({ length: H }, (_, h) => mat(caIn, dh, D + h * dh)),
        caVHeadsT: Array.from({ length: H }, (_, h) => tf.transpose(mat(caIn, dh, 2 * D + h * dh))),
        caOutT: tf.transpose(mat('decoder_layer1.multihead_attn1.out_proj.weight', D)),
      };
      for (const t of Object.values(dense as DenseWeights).flat() as tf.Tensor[]) tf.keep(t);
    });
    this.dense = dense as DenseWeights;
    return this.dense;
  }

  dispose(): void {
    if (this.dense) for (const t of Object.values(this.dense)) tf.dispose(t);
    this.dense = undefined;
  }

  /** Aggregates a batch of sets (any mix of sizes). */
  run(sets: readonly TemplateSet[], opts: FusedEvalOptions = {}): { output: AggregateOutput; intermediates?: FusedIntermediates[] } {
    const sizes = sets.map((s, b) => checkSet(s, this.D, `set ${b}`));
    // Each set's features go to the backend once (selection, attention scores and pooling use them).
    const largeFrom = opts.largeSetFrom ?? LARGE_SET_FROM;
    const uploaded = sets.map((s, b) => (opts.onlyFps && sizes[b] < largeFrom ? undefined : tf.tensor2d(s.features, [sizes[b], this.D])));
    try {
      return this.runUploaded(sets, sizes, uploaded, largeFrom, opts);
    } finally {
      tf.dispose(uploaded.filter((t): t is tf.Tensor2D => t !== undefined));
    }
  }

  private runUploaded(
    sets: readonly TemplateSet[],
    sizes: number[],
    uploaded: (tf.Tensor2D | undefined)[],
    largeFrom: number,
    opts: FusedEvalOptions,
  ): { output: AggregateOutput; intermediates?: FusedIntermediates[] } {
    const { D, H, dh } = this;
    const K = this.config.coresetSize;
    const eps = this.config.layerNormEps;
    const B = sets.length;
    const out = emptyAggregateOutput(B, D, K);
    const inter: FusedIntermediates[] | undefined = opts.intermediates ? [] : undefined;
    // Selection, per set. All coreset rows of the batch are stacked: set b owns rows [rowStart[b], rowStart[b+1]).
    const rowStart = new Int32Array(B + 1);
    const fps = sets.map((s, b) => {
      const f = uploaded[b];
      const kernels = f && sizes[b] >= largeFrom ? tfFpsKernels(f) : jsFpsKernels(s.features, D);
      const r = farthestPointSample(s.features, s.norms, D, K, this.gamma, !!inter, kernels);
      const k = r.indices.length;
      out.coresetSizes[b] = k;
      out.indices.set(r.indices, b * K);
      out.coreset.set(r.rows, b * K * D);
      rowStart[b + 1] = rowStart[b] + k;
      return r;
    });
    const M = rowStart[B];
    const C = new Float32Array(M * D);
    fps.forEach((r, b) => C.set(r.rows, rowStart[b] * D));

    if (opts.onlyFps) {
      this.finish(out, C, undefined, rowStart);
      return { output: out };
    }

    const w = this.weights();
    const posW = this.p('pos_trans_norm.weight');
    const posB = this.p('pos_trans_norm.bias');

    // q0 = C + E(‖C‖)
    const coreNorms = new Float32Array(M);
    for (let m = 0; m < M; m++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += C[m * D + j] * C[m * D + j];
      coreNorms[m] = Math.sqrt(s);
    }
    const encCore = encodeNorms(coreNorms, D, posW, posB, eps);
    const q0 = new Float32Array(M * D);
    for (let i = 0; i < M * D; i++) q0[i] = C[i] + encCore.encoded[i];

    // Self-attention among each set's own coreset rows.
    const qkv = gemm(q0, M, w.saInT); // [M, 3D]
    addRowBias(qkv, M, this.p('decoder_layer1.self_attn1.in_proj_bias'));
    const saHeads = new Float32Array(M * D);
    const scale = 1 / Math.sqrt(dh);
    for (let b = 0; b < B; b++) this.selfAttention(qkv, saHeads, rowStart[b], rowStart[b + 1] - rowStart[b], scale);
    const saOut = gemm(saHeads, M, w.saOutT);
    addRowBias(saOut, M, this.p('decoder_layer1.self_attn1.out_proj.bias'));
    const q1 = new Float32Array(M * D);
    for (let i = 0; i < M * D; i++) q1[i] = q0[i] + saOut[i];
    layerNormRows(q1, M, D, this.p('decoder_layer1.norm1.weight'), this.p('decoder_layer1.norm1.bias'), eps, q1);

    // Cross-attention queries, folded through each head's key projection: qk [H, M, D].
    const inB = this.p('decoder_layer1.multihead_attn1.in_proj_bias');
    const cq = gemm(q1, M, w.caQT);
    const cqHeads = new Float32Array(M * D); // [H, M, dh]
    for (let m = 0; m < M; m++) for (let h = 0; h < H; h++) for (let j = 0; j < dh; j++) cqHeads[(h * M + m) * dh + j] = (cq[m * D + h * dh + j] + inB[h * dh + j]) * scale;
    const qk = gemmPerGroup(cqHeads, M, w.caKHeads);

    // Attention over each set's items; pooled [H, M, D] = Σ_t a_t·x_t per (head, query).
    const pooled = new Float32Array(H * M * D);
    for (let b = 0; b < B; b++) {
      const r = this.crossAttentionPool(sets[b], uploaded[b] as tf.Tensor2D, qk, pooled, rowStart[b], rowStart[b + 1] - rowStart[b], M, posW, sizes[b] >= largeFrom, !!inter);
      if (inter) {
        const k = rowStart[b + 1] - rowStart[b];
        const sl = (a: Float32Array) => a.slice(rowStart[b] * D, (rowStart[b] + k) * D);
        inter.push({
          selectionLogits: fps[b].logits as Float32Array,
          posEmbedRawTemplate: r.raw as Float32Array,
          posEmbedLnTemplate: r.encoded as Float32Array,
          posEmbedRawCore: sl(encCore.raw),
          posEmbedLnCore: sl(encCore.encoded),
          selfAttnOut: sl(saOut),
          norm1Out: sl(q1),
          crossAttnOut: new Float32Array(0),
          decoderDelta: new Float32Array(0),
        });
      }
    }
    // Value projection after pooling (the weights of a query sum to 1, so the bias adds once).
    const vals = gemmPerGroup(pooled, M, w.caVHeadsT); // [H, M, dh]
    const values = new Float32Array(M * D);
    for (let h = 0; h < H; h++) for (let m = 0; m < M; m++) for (let j = 0; j < dh; j++) values[m * D + h * dh + j] = vals[(h * M + m) * dh + j] + inB[2 * D + h * dh + j];
    const caOut = gemm(values, M, w.caOutT);
    addRowBias(caOut, M, this.p('decoder_layer1.multihead_attn1.out_proj.bias'));
    // The second residual is the raw coreset.
    const delta = new Float32Array(M * D);
    for (let i = 0; i < M * D; i++) delta[i] = C[i] + caOut[i];
    layerNormRows(delta, M, D, this.p('decoder_layer1.norm2.weight'), this.p('decoder_layer1.norm2.bias'), eps, delta);
    if (inter) {
      inter.forEach((it, b) => {
        it.crossAttnOut = caOut.slice(rowStart[b] * D, rowStart[b + 1] * D);
        it.decoderDelta = delta.slice(rowStart[b] * D, rowStart[b + 1] * D);
      });
    }
    this.finish(out, C, delta, rowStart);
    return { output: out, intermediates: inter };
  }

  /** Multi-head self-attention of rows [m0, m0+k) of packed q/k/v [M, 3D] into heads [M, D]. */
  private selfAttention(qkv: Float32Array, heads: Float32Array, m0: number, k: number, scale: number): void {
    const { D, H, dh } = this;
    const s = new Float64Array(k);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < k; i++) {
        const qo = (m0 + i) * 3 * D + h * dh;
        let max = -Infinity;
        for (let j = 0; j < k; j++) {
          const ko = (m0 + j) * 3 * D + D + h * dh;
          let dot = 0;
          for (let e = 0; e < dh; e++) dot += qkv[qo + e] * scale * qkv[ko + e];
          s[j] = dot;
          if (dot > max) max = dot;
        }
        let z = 0;
        for (let j = 0; j < k; j++) z += s[j] = Math.exp(s[j] - max);
        const o = (m0 + i) * D + h * dh;
        for (let e = 0; e < dh; e++) {
          let acc = 0;
          for (let j = 0; j < k; j++) acc += s[j] * qkv[(m0 + j) * 3 * D + 2 * D + h * dh + e];
          heads[o + e] = acc / z;
        }
      }
    }
  }

  /**
   * Softmax attention of the set's k queries (H heads each) over its T items, pooled into
   * `pooled[h, m0+i, :]`. Returns the template encoding when asked for intermediates.
   */
  private crossAttentionPool(
    set: TemplateSet,
    f: tf.Tensor2D,
    qk: Float32Array,
    pooled: Float32Array,
    m0: number,
    k: number,
    M: number,
    posW: Float32Array,
    large: boolean,
    keepEncoding: boolean,
  ): { raw?: Float32Array; encoded?: Float32Array } {
    const { D, H } = this;
    const T = f.shape[0];
    const norms = set.norms;
    const Q = H * k; // query columns, q = h·k + i
    // u_q (the folded queries) and w∘u_q, both [D, Q]; w·u_q per column.
    const u = new Float32Array(D * Q);
    const wu = new Float32Array(D * Q);
    const wDotU = new Float64Array(Q);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < k; i++) {
        const q = h * k + i;
        const src = (h * M + m0 + i) * D;
        let s = 0;
        for (let d = 0; d < D; d++) {
          const v = qk[src + d];
          u[d * Q + q] = v;
          wu[d * Q + q] = v * posW[d];
          s += v * posW[d];
        }
        wDotU[q] = s;
      }
    }
    // Raw norm encoding of the T items and its LayerNorm statistics.
    const freqs = normEncodingFrequencies(D);
    const raw = new Float32Array(T * D);
    const mu = new Float64Array(T);
    const invSigma = new Float64Array(T);
    const eps = this.config.layerNormEps;
    for (let t = 0; t < T; t++) {
      const { sum, sumSq } = encodeNormRaw(norms[t], freqs, raw, t * D);
      mu[t] = sum / D;
      invSigma[t] = 1 / Math.sqrt(Math.max(sumSq / D - mu[t] * mu[t], 0) + eps);
    }
    const scoresF = readBack(() => tf.matMul(f, tf.tensor2d(u, [D, Q]))); // [T, Q]
    const scoresR = readBack(() => tf.matMul(tf.tensor2d(raw, [T, D]), tf.tensor2d(wu, [D, Q])));
    // Softmax over t for each query column; weights scaled by n_t so that pooling f gives Σ a_t x_t.
    const s = new Float64Array(T * Q);
    const max = new Float64Array(Q).fill(-Infinity);
    for (let t = 0; t < T; t++) {
      const n = norms[t];
      const m = mu[t];
      const is = invSigma[t];
      const o = t * Q;
      for (let q = 0; q < Q; q++) {
        const v = n * scoresF[o + q] + (scoresR[o + q] - m * wDotU[q]) * is;
        s[o + q] = v;
        if (v > max[q]) max[q] = v;
      }
    }
    const z = new Float64Array(Q);
    for (let t = 0; t < T; t++) {
      const o = t * Q;
      for (let q = 0; q < Q; q++) z[q] += s[o + q] = Math.exp(s[o + q] - max[q]);
    }
    // Pool the items with the weights, scaled by n_t so that pooling f gives Σ a_t x_t. The big
    // operand must be the product's left side: as the right side, XNNPACK repacks all T·D values.
    if (!large) {
      const weights = new Float32Array(Q * T); // [Q, T]
      for (let t = 0; t < T; t++) {
        const o = t * Q;
        const n = norms[t];
        for (let q = 0; q < Q; q++) weights[q * T + t] = (s[o + q] / z[q]) * n;
      }
      const pool = readBack(() => tf.matMul(tf.tensor2d(weights, [Q, T]), f)); // [Q, D]
      for (let h = 0; h < H; h++) for (let i = 0; i < k; i++) pooled.set(pool.subarray((h * k + i) * D, (h * k + i + 1) * D), (h * M + m0 + i) * D);
    } else {
      const weightsT = new Float32Array(T * Q); // [T, Q]
      for (let t = 0; t < T; t++) {
        const o = t * Q;
        const n = norms[t];
        for (let q = 0; q < Q; q++) weightsT[o + q] = (s[o + q] / z[q]) * n;
      }
      const poolT = readBack(() => tf.matMul(tf.tensor2d(transposed(set.features, T, D), [D, T]), tf.tensor2d(weightsT, [T, Q]))); // [D, Q]
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < k; i++) {
          const q = h * k + i;
          const o = (h * M + m0 + i) * D;
          for (let d = 0; d < D; d++) pooled[o + d] = poolT[d * Q + q];
        }
      }
    }
    if (!keepEncoding) return {};
    const encoded = new Float32Array(T * D);
    layerNormRows(raw, T, D, posW, this.p('pos_trans_norm.bias'), eps, encoded);
    return { raw, encoded };
  }

  /** aggregate = mean_k(C + delta) (or mean_k C), then unit vector and norm. */
  private finish(out: AggregateOutput, C: Float32Array, delta: Float32Array | undefined, rowStart: Int32Array): void {
    const D = this.D;
    const mean = new Float64Array(D);
    for (let b = 0; b < out.batch; b++) {
      const k = rowStart[b + 1] - rowStart[b];
      mean.fill(0);
      for (let m = rowStart[b]; m < rowStart[b + 1]; m++) {
        for (let j = 0; j < D; j++) mean[j] += C[m * D + j] + (delta ? delta[m * D + j] : 0);
      }
      let s = 0;
      for (let j = 0; j < D; j++) {
        mean[j] /= k;
        s += mean[j] * mean[j];
      }
      const norm = Math.sqrt(s);
      out.norm[b] = norm;
      for (let j = 0; j < D; j++) out.aggregate[b * D + j] = mean[j] / norm;
    }
  }
}
