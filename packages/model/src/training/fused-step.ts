/**
 * The training step written out by hand: the train-mode forward pass of the aggregator (Gumbel-
 * softmax selection, straight-through, dropout), the AdaFace head, cross-entropy, and the
 * backward pass of every trainable parameter. Same mathematics as the tfjs forward pass under
 * tf.grads (tf-forward.ts), which stays as the reference it is tested against; this one runs
 * ~40 backend calls instead of ~1,000 kernels, so the step costs little more than its products.
 *
 * Layout: B sets of T items, K' = min(K, T) picks, M = B·K' coreset rows (row m = b·K' + k),
 * Q = H·K' cross-attention queries per set (q = h·K' + k). Small work runs in float64 JS; the
 * dense products go through dense.ts with the weight on the left.
 *
 * Only γ lies upstream of the selection (the features and norms are inputs), so the backward
 * pass through the picks exists only to reach γ.
 */
import { GAMMA_BASE, NORMALIZE_EPS } from '../aggregator/config';
import { FaceCoresetNet } from '../aggregator/facecoresetnet';
import { encodeNormRaw, normEncodingFrequencies } from '../aggregator/norm-encoding';
import { AGGREGATOR_STATE_PREFIX } from '../aggregator/params';
import { TrainRandomness } from '../aggregator/tf-forward';
import { ADAFACE_STATE_PREFIX, AdaFaceHead } from '../head/adaface';
import { layerNormAddInto, layerNormBackward, layerNormForward, layerNormParamGrads, linearBackward, linearForward, matmul, transposed } from './dense';
import { isShared, startPasses } from '../parallel/shared-passes';
import type { TrainBatch, TrainStepResult } from './gradients';

const SA = 'decoder_layer1.self_attn1.';
const CA = 'decoder_layer1.multihead_attn1.';
const TWO_PI_F32 = Math.fround(2 * Math.PI);

/** Copies rows of a head: a [M, width] -> [M, dh] columns [h·dh, (h+1)·dh), scaled. */
function headColumns(a: ArrayLike<number>, M: number, width: number, offset: number, dh: number, scale = 1): Float32Array {
  const out = new Float32Array(M * dh);
  for (let m = 0; m < M; m++) for (let j = 0; j < dh; j++) out[m * dh + j] = a[m * width + offset + j] * scale;
  return out;
}

/** Σ_j a[ao+j]·b[bo+j] for j < n (four partial sums: the loops here are latency-bound). */
function dot(a: Float32Array | Float64Array, ao: number, b: Float32Array | Float64Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += a[ao + j] * b[bo + j];
    s1 += a[ao + j + 1] * b[bo + j + 1];
    s2 += a[ao + j + 2] * b[bo + j + 2];
    s3 += a[ao + j + 3] * b[bo + j + 3];
  }
  for (; j < n; j++) s0 += a[ao + j] * b[bo + j];
  return s0 + s1 + s2 + s3;
}

/** y[yo+j] += α·x[xo+j] for j < n */
function axpy(alpha: number, x: Float32Array | Float64Array, xo: number, y: Float32Array | Float64Array, yo: number, n: number): void {
  for (let j = 0; j < n; j++) y[yo + j] += alpha * x[xo + j];
}

/** Softmax of v[o .. o+n) into out (float64), returning the index of the largest value (ties: the lowest). */
function softmaxInto(v: ArrayLike<number>, o: number, n: number, out: Float64Array, oo: number): number {
  let max = -Infinity;
  let arg = 0;
  for (let i = 0; i < n; i++) {
    if (v[o + i] > max) {
      max = v[o + i];
      arg = i;
    }
  }
  let z = 0;
  for (let i = 0; i < n; i++) z += out[oo + i] = Math.exp(v[o + i] - max);
  for (let i = 0; i < n; i++) out[oo + i] /= z;
  return arg;
}

/** Per-item values of a batch: x = n·f, 1/‖x‖, log n and the quality weight n^γ. */
interface Items {
  x: Float32Array;
  invLen: Float64Array;
  logn: Float64Array;
  quality: Float64Array;
}

function prepareItems(features: Float32Array, norms: Float32Array, count: number, D: number, gamma: number): Items {
  const x = new Float32Array(count * D);
  const invLen = new Float64Array(count);
  const logn = new Float64Array(count);
  const quality = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const n = norms[i];
    const o = i * D;
    for (let j = 0; j < D; j++) x[o + j] = features[o + j] * n;
    invLen[i] = 1 / Math.max(Math.sqrt(dot(x, o, x, o, D)), NORMALIZE_EPS);
    logn[i] = Math.log(n);
    quality[i] = Math.exp(gamma * logn[i]);
  }
  return { x, invLen, logn, quality };
}

/** The picks and what their backward pass needs. */
interface Selection {
  /** [K', B, T] softmax(logits + noise) per step */
  soft: Float64Array;
  /** [B, K'] */
  indices: Int32Array;
  /** [M, D] picked rows of x */
  C: Float32Array;
  /** [K'−1, B, T] cos(x_t, c_k) of the picks that feed a distance */
  cosTo: Float64Array;
  /** [K'−1, B, D] c_k/‖c_k‖ */
  coreUnit: Float64Array;
  /** [K'−1, B] ‖c_k‖ */
  coreLen: Float64Array;
  /** [K', B, T] 1 where the running minimum of step k kept its previous value (k ≥ 2) */
  keptOld: Uint8Array;
}

/**
 * Differentiable FPS in train mode: pick 0 from softmax(n + g), pick k from softmax(d + g) with d
 * the running minimum of the quality distances n^γ(1 − cos)/2 to the earlier picks.
 */
function selectCoreset(items: Items, norms: Float32Array, B: number, T: number, D: number, K: number, randomness: TrainRandomness | undefined): Selection {
  const { x, invLen, quality } = items;
  const soft = new Float64Array(K * B * T);
  const indices = new Int32Array(B * K);
  const C = new Float32Array(B * K * D);
  const cosTo = new Float64Array(Math.max(K - 1, 0) * B * T);
  const coreUnit = new Float64Array(Math.max(K - 1, 0) * B * D);
  const coreLen = new Float64Array(Math.max(K - 1, 0) * B);
  const keptOld = new Uint8Array(K * B * T);
  const dist = new Float64Array(B * T);
  const noisy = new Float64Array(T);
  for (let k = 0; k < K; k++) {
    const g = randomness?.gumbel(k, B, T);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) noisy[t] = (k === 0 ? norms[b * T + t] : dist[b * T + t]) + (g ? g[b * T + t] : 0);
      const i = softmaxInto(noisy, 0, T, soft, (k * B + b) * T);
      indices[b * K + k] = i;
      const m = b * K + k;
      C.set(x.subarray((b * T + i) * D, (b * T + i + 1) * D), m * D);
      if (k >= K - 1) continue;
      const len = Math.sqrt(dot(C, m * D, C, m * D, D));
      const inv = 1 / Math.max(len, NORMALIZE_EPS);
      const cuo = (k * B + b) * D;
      for (let j = 0; j < D; j++) coreUnit[cuo + j] = C[m * D + j] * inv;
      coreLen[k * B + b] = len;
      for (let t = 0; t < T; t++) {
        const c = dot(x, (b * T + t) * D, coreUnit, cuo, D) * invLen[b * T + t];
        cosTo[(k * B + b) * T + t] = c;
        const qd = (quality[b * T + t] * (1 - c)) / 2;
        if (k === 0) dist[b * T + t] = qd;
        else if (dist[b * T + t] <= qd) keptOld[((k + 1) * B + b) * T + t] = 1;
        else dist[b * T + t] = qd;
      }
    }
  }
  return { soft, indices, C, cosTo, coreUnit, coreLen, keptOld };
}

/**
 * Backward through the picks (straight-through) and the distances to n^γ; returns dLoss/dγ.
 * @param dC [M, D] dLoss/dC from the decoder (completed in place by the later picks' terms)
 */
function selectionBackward(sel: Selection, items: Items, dC: Float64Array, B: number, T: number, D: number, K: number): number {
  const { x, invLen, quality, logn } = items;
  const { soft, cosTo, coreUnit, coreLen, keptOld } = sel;
  const dQuality = new Float64Array(B * T);
  const dDist = new Float64Array(T);
  const dSoft = new Float64Array(T);
  const dcu = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    dDist.fill(0);
    for (let k = K - 1; k >= 1; k--) {
      const so = (k * B + b) * T;
      const co = (b * K + k) * D;
      let inner = 0;
      for (let t = 0; t < T; t++) {
        dSoft[t] = dot(dC, co, x, (b * T + t) * D, D);
        inner += soft[so + t] * dSoft[t];
      }
      for (let t = 0; t < T; t++) dDist[t] += soft[so + t] * (dSoft[t] - inner);
      // dist_k = min(dist_{k−1}, qd(c_{k−1})) for k ≥ 2; dist_1 = qd(c_0).
      const p = k - 1;
      dcu.fill(0);
      for (let t = 0; t < T; t++) {
        if (k >= 2 && keptOld[(k * B + b) * T + t] === 1) continue;
        const dqd = dDist[t];
        dDist[t] = 0;
        const c = cosTo[(p * B + b) * T + t];
        dQuality[b * T + t] += (dqd * (1 - c)) / 2;
        axpy(((-dqd * quality[b * T + t]) / 2) * invLen[b * T + t], x, (b * T + t) * D, dcu, 0, D);
      }
      const cuo = (p * B + b) * D;
      const len = coreLen[p * B + b];
      const po = (b * K + p) * D;
      if (len > NORMALIZE_EPS) {
        const proj = dot(coreUnit, cuo, dcu, 0, D);
        for (let j = 0; j < D; j++) dC[po + j] += (dcu[j] - coreUnit[cuo + j] * proj) / len;
      } else {
        for (let j = 0; j < D; j++) dC[po + j] += dcu[j] / NORMALIZE_EPS;
      }
    }
  }
  let dGamma = 0;
  for (let i = 0; i < B * T; i++) dGamma += dQuality[i] * quality[i] * logn[i];
  return dGamma;
}

/** Multi-head self-attention within each set's K' rows; A = softmax before dropout [B, H, K', K']. */
function selfAttentionForward(qkv: Float32Array, B: number, K: number, H: number, dh: number, scale: number, mask: Float32Array | undefined): { A: Float64Array; heads: Float32Array } {
  const D = H * dh;
  const A = new Float64Array(B * H * K * K);
  const heads = new Float32Array(B * K * D);
  const row = new Float64Array(K);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < K; i++) {
        const qo = (b * K + i) * 3 * D + h * dh;
        for (let j = 0; j < K; j++) row[j] = dot(qkv, qo, qkv, (b * K + j) * 3 * D + D + h * dh, dh) * scale;
        const ao = ((b * H + h) * K + i) * K;
        softmaxInto(row, 0, K, A, ao);
        for (let j = 0; j < K; j++) axpy(A[ao + j] * (mask ? mask[ao + j] : 1), qkv, (b * K + j) * 3 * D + 2 * D + h * dh, heads, (b * K + i) * D + h * dh, dh);
      }
    }
  }
  return { A, heads };
}

/** dLoss/dqkv [M, 3D] from dLoss/dheads [M, D]. */
function selfAttentionBackward(dHeads: Float32Array, qkv: Float32Array, A: Float64Array, B: number, K: number, H: number, dh: number, scale: number, mask: Float32Array | undefined): Float32Array {
  const D = H * dh;
  const dQkv = new Float32Array(B * K * 3 * D);
  const dRow = new Float64Array(K);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < K; i++) {
        const ao = ((b * H + h) * K + i) * K;
        const go = (b * K + i) * D + h * dh;
        let inner = 0;
        for (let j = 0; j < K; j++) {
          const vo = (b * K + j) * 3 * D + 2 * D + h * dh;
          const keep = mask ? mask[ao + j] : 1;
          axpy(A[ao + j] * keep, dHeads, go, dQkv, vo, dh);
          dRow[j] = dot(dHeads, go, qkv, vo, dh) * keep;
          inner += A[ao + j] * dRow[j];
        }
        const qo = (b * K + i) * 3 * D + h * dh;
        for (let j = 0; j < K; j++) {
          const ds = A[ao + j] * (dRow[j] - inner) * scale;
          const ko = (b * K + j) * 3 * D + D + h * dh;
          axpy(ds, qkv, ko, dQkv, qo, dh);
          axpy(ds, qkv, qo, dQkv, ko, dh);
        }
      }
    }
  }
  return dQkv;
}

/** The cross-attention of one set: Q = H·K' folded queries (row q = h·K' + k) over its T items. */
interface SetAttention {
  /** [Q, D] folded queries */
  queries: Float32Array;
  /** [T, D] keys x + E(n) */
  keys: Float32Array;
  /** [Q, T] softmax before dropout */
  A: Float64Array;
  /** [Q] Σ_t of the weights after dropout */
  weightSum: Float64Array;
  /** [Q, D] Σ_t w_t·x_t */
  pooled: Float32Array;
}

/**
 * Attention of one set's queries over its items and the pooled items; products on the backend.
 * @param x [T, D] the set's items n·f; mask [Q, T] dropout of the weights (or none)
 */
function setAttentionForward(queries: Float32Array, keys: Float32Array, x: Float32Array, Q: number, T: number, D: number, mask: Float32Array | undefined): SetAttention {
  const scoresT = matmul(keys, T, D, transposed(queries, Q, D), Q); // [T, Q]
  const A = new Float64Array(Q * T);
  const weights = new Float32Array(Q * T);
  const weightSum = new Float64Array(Q);
  const row = new Float64Array(T);
  for (let q = 0; q < Q; q++) {
    for (let t = 0; t < T; t++) row[t] = scoresT[t * Q + q];
    softmaxInto(row, 0, T, A, q * T);
    for (let t = 0; t < T; t++) {
      weights[q * T + t] = A[q * T + t] * (mask ? mask[q * T + t] : 1);
      weightSum[q] += weights[q * T + t];
    }
  }
  return { queries, keys, A, weightSum, pooled: matmul(weights, Q, T, x, D) };
}

/**
 * Backward of one set's attention: from dLoss/dpooled [Q, D] and dLoss/dΣw [Q] to dLoss/dqueries
 * [Q, D] and dLoss/dkeys [T, D].
 * @param xT [D, T] the set's items, transposed
 */
function setAttentionBackward(att: SetAttention, dPooled: Float32Array, dWeightSum: Float64Array, xT: Float32Array, Q: number, T: number, D: number, mask: Float32Array | undefined): { dQueries: Float32Array; dKeys: Float32Array } {
  const dW = matmul(dPooled, Q, D, xT, T); // [Q, T]
  const { A } = att;
  const dS = new Float32Array(Q * T);
  const dA = new Float64Array(T);
  for (let q = 0; q < Q; q++) {
    let inner = 0;
    for (let t = 0; t < T; t++) {
      dA[t] = (dW[q * T + t] + dWeightSum[q]) * (mask ? mask[q * T + t] : 1);
      inner += A[q * T + t] * dA[t];
    }
    for (let t = 0; t < T; t++) dS[q * T + t] = A[q * T + t] * (dA[t] - inner);
  }
  return {
    dQueries: matmul(dS, Q, T, att.keys, D),
    dKeys: matmul(transposed(dS, Q, T), T, Q, att.queries, D),
  };
}

/** Transposes of weight matrices, per model, reused across steps. */
const transposeScratch = new WeakMap<FaceCoresetNet, Float32Array[]>();

/**
 * Wᵀ of each [rows, cols] weight, for the backward pass: computed on the worker thread during the
 * forward pass when the weights are in shared memory, else here when first asked for.
 */
function weightTransposes(model: FaceCoresetNet, weights: { w: Float32Array; rows: number; cols: number }[]): { get(i: number): Float32Array } {
  if (!weights.every((x) => isShared(x.w))) return { get: (i) => transposed(weights[i].w, weights[i].rows, weights[i].cols) };
  let outs = transposeScratch.get(model);
  if (!outs || outs.length !== weights.length || outs.some((o, i) => o.length !== weights[i].w.length)) {
    outs = weights.map((x) => new Float32Array(new SharedArrayBuffer(x.w.length * 4)));
    transposeScratch.set(model, outs);
  }
  const ready = outs;
  const pending = startPasses(weights.map((x, i) => ({ kernel: 'transposeRange', args: [x.w, x.rows, x.cols, ready[i]], start: 0, end: x.cols })));
  return {
    get: (i) => {
      pending.wait();
      return ready[i];
    },
  };
}

/** One training forward/backward; see aggregatorTrainGradients for the contract. */
export function fusedTrainStep(model: FaceCoresetNet, head: AdaFaceHead, batch: TrainBatch, randomness?: TrainRandomness, opts: { reuseBuffers?: boolean } = {}): TrainStepResult {
  const cfg = model.config;
  const { batch: B, size: T, features, norms } = batch;
  const D = cfg.embeddingSize;
  const H = cfg.heads;
  const dh = D / H;
  const K = Math.min(cfg.coresetSize, T);
  const M = B * K;
  const Q = H * K;
  const eps = cfg.layerNormEps;
  const scale = 1 / Math.sqrt(dh);
  const P = (name: string): Float32Array => {
    const t = model.params[name];
    if (!t) throw new Error(`aggregator parameter '${name}' is missing`);
    return t.data;
  };
  const learnedGamma = cfg.gamma === 'learned' && K > 1;
  const gamma = Math.fround(GAMMA_BASE + (cfg.gamma === 'learned' ? P('gamma')[0] : cfg.gamma));

  const wSaIn = P(SA + 'in_proj_weight');
  const wSaOut = P(SA + 'out_proj.weight');
  const wCaIn = P(CA + 'in_proj_weight');
  const wq = wCaIn.subarray(0, D * D);
  const wCaOut = P(CA + 'out_proj.weight');
  const weightsT = weightTransposes(model, [
    { w: wSaIn, rows: 3 * D, cols: D },
    { w: wSaOut, rows: D, cols: D },
    { w: wq, rows: D, cols: D },
    { w: wCaOut, rows: D, cols: D },
  ]);
  head.prepareTrainingStep();

  // ---- forward -----------------------------------------------------------------------------
  const items = prepareItems(features, norms, B * T, D, gamma);
  const { x } = items;
  const sel = selectCoreset(items, norms, B, T, D, K, randomness);
  const { C } = sel;

  // q0 = C + E(‖C‖)
  const posW = P('pos_trans_norm.weight');
  const posB = P('pos_trans_norm.bias');
  const freqs = normEncodingFrequencies(D);
  const coreNorm = new Float64Array(M);
  const rawC = new Float32Array(M * D);
  for (let m = 0; m < M; m++) {
    coreNorm[m] = Math.sqrt(dot(C, m * D, C, m * D, D));
    encodeNormRaw(Math.fround(coreNorm[m]), freqs, rawC, m * D);
  }
  const encC = new Float32Array(M * D);
  const lnC = layerNormForward(rawC, M, D, posW, posB, eps, encC);
  const q0 = new Float32Array(M * D);
  for (let i = 0; i < M * D; i++) q0[i] = C[i] + encC[i];

  // q1 = LN1(q0 + SelfAttn(q0))
  const qkv = linearForward(q0, M, wSaIn, 3 * D, P(SA + 'in_proj_bias')); // [M, 3D]
  const saMask = randomness?.dropoutMask(B * H * K * K);
  const sa = selfAttentionForward(qkv, B, K, H, dh, scale, saMask);
  const saOut = linearForward(sa.heads, M, wSaOut, D, P(SA + 'out_proj.bias'));
  const saOutMask = randomness?.dropoutMask(M * D);
  const u1 = new Float32Array(M * D);
  for (let i = 0; i < M * D; i++) u1[i] = q0[i] + saOut[i] * (saOutMask ? saOutMask[i] : 1);
  const q1 = new Float32Array(M * D);
  const ln1 = layerNormForward(u1, M, D, P('decoder_layer1.norm1.weight'), P('decoder_layer1.norm1.bias'), eps, q1);

  // Cross-attention: queries folded through each head's key projection (qk, H × [M, D]); keys
  // x + E(n), values x with the value projection applied after pooling.
  const bCaIn = P(CA + 'in_proj_bias');
  const wkHead = (h: number) => wCaIn.subarray((D + h * dh) * D, (D + (h + 1) * dh) * D); // [dh, D]
  const wvHead = (h: number) => wCaIn.subarray((2 * D + h * dh) * D, (2 * D + (h + 1) * dh) * D); // [dh, D]
  const cqPre = linearForward(q1, M, wq, D, bCaIn.subarray(0, D)); // [M, D]
  const cqHeads: Float32Array[] = [];
  const qk: Float32Array[] = [];
  for (let h = 0; h < H; h++) {
    cqHeads.push(headColumns(cqPre, M, D, h * dh, dh, scale));
    qk.push(matmul(cqHeads[h], M, dh, wkHead(h), D));
  }
  const rawT = new Float32Array(B * T * D);
  for (let i = 0; i < B * T; i++) encodeNormRaw(norms[i], freqs, rawT, i * D);
  const keys = Float32Array.from(x); // x + LN(E(n))
  const lnT = layerNormAddInto(rawT, B * T, D, posW, posB, eps, keys);
  const caMask = randomness?.dropoutMask(B * Q * T); // [B, Q, T]
  const attention: SetAttention[] = [];
  for (let b = 0; b < B; b++) {
    const queries = new Float32Array(Q * D);
    for (let h = 0; h < H; h++) queries.set(qk[h].subarray(b * K * D, (b + 1) * K * D), h * K * D);
    const sub = (a: Float32Array, n: number) => a.subarray(b * n, (b + 1) * n);
    attention.push(setAttentionForward(queries, sub(keys, T * D), sub(x, T * D), Q, T, D, caMask && sub(caMask, Q * T)));
  }
  /** Σ_t w_t of the query of row m in head h */
  const sumOf = (m: number, h: number) => attention[(m / K) | 0].weightSum[h * K + (m % K)];
  const values = new Float32Array(M * D);
  const pooledT: Float32Array[] = []; // H × [D, M]
  for (let h = 0; h < H; h++) {
    const pT = new Float32Array(D * M);
    for (let m = 0; m < M; m++) {
      const src = attention[(m / K) | 0].pooled;
      const o = (h * K + (m % K)) * D;
      for (let d = 0; d < D; d++) pT[d * M + m] = src[o + d];
    }
    pooledT.push(pT);
    const valsT = matmul(wvHead(h), dh, D, pT, M); // [dh, M]
    for (let m = 0; m < M; m++) {
      const ws = sumOf(m, h);
      for (let j = 0; j < dh; j++) values[m * D + h * dh + j] = valsT[j * M + m] + bCaIn[2 * D + h * dh + j] * ws;
    }
  }
  const caOut = linearForward(values, M, wCaOut, D, P(CA + 'out_proj.bias'));
  const caOutMask = randomness?.dropoutMask(M * D);
  // The second residual is the raw coreset.
  const u2 = new Float32Array(M * D);
  for (let i = 0; i < M * D; i++) u2[i] = C[i] + caOut[i] * (caOutMask ? caOutMask[i] : 1);
  const delta = new Float32Array(M * D);
  const ln2 = layerNormForward(u2, M, D, P('decoder_layer1.norm2.weight'), P('decoder_layer1.norm2.bias'), eps, delta);

  // aggregate = mean_k(C + delta), its norm and direction
  const aggregate = new Float32Array(B * D);
  const aggNorm = new Float32Array(B);
  const mean = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    mean.fill(0);
    for (let k = 0; k < K; k++) {
      axpy(1, C, (b * K + k) * D, mean, 0, D);
      axpy(1, delta, (b * K + k) * D, mean, 0, D);
    }
    for (let j = 0; j < D; j++) mean[j] /= K;
    aggNorm[b] = Math.sqrt(dot(mean, 0, mean, 0, D));
    for (let j = 0; j < D; j++) aggregate[b * D + j] = mean[j] / aggNorm[b];
  }

  // The kernel's gradient is finished on the worker thread while the aggregator's backward runs.
  const headStep = head.trainingStep(aggregate, aggNorm, batch.labels, { deferKernelGradient: true, reuseBuffers: opts.reuseBuffers });

  // ---- backward ----------------------------------------------------------------------------
  const grads = new Map<string, Float32Array>();
  const grad = (name: string): Float32Array => {
    let g = grads.get(name);
    if (!g) grads.set(name, (g = new Float32Array(P(name).length)));
    return g;
  };
  for (const name of model.trainableParamNames()) if (name !== 'gamma' || learnedGamma) grad(name);
  const dC = new Float64Array(M * D);
  const dDelta = new Float32Array(M * D);
  const dAgg = headStep.dEmbeddings;
  for (let b = 0; b < B; b++) {
    // The head detaches the norm: only the direction carries a gradient.
    const along = dot(aggregate, b * D, dAgg, b * D, D);
    for (let j = 0; j < D; j++) {
      const dm = (dAgg[b * D + j] - aggregate[b * D + j] * along) / aggNorm[b] / K;
      for (let k = 0; k < K; k++) {
        dC[(b * K + k) * D + j] += dm;
        dDelta[(b * K + k) * D + j] = dm;
      }
    }
  }
  const du2 = layerNormBackward(dDelta, ln2, M, D, P('decoder_layer1.norm2.weight'), grad('decoder_layer1.norm2.weight'), grad('decoder_layer1.norm2.bias')) as Float64Array;
  const dCaOut = new Float32Array(M * D);
  for (let i = 0; i < M * D; i++) {
    dC[i] += du2[i];
    dCaOut[i] = du2[i] * (caOutMask ? caOutMask[i] : 1);
  }
  const dValues = linearBackward(dCaOut, values, M, weightsT.get(3), D, grad(CA + 'out_proj.weight'), grad(CA + 'out_proj.bias')) as Float32Array;

  // Value projection, per head: dLoss/dpooled and dLoss/dΣw of every query.
  const gCaIn = grad(CA + 'in_proj_weight');
  const gCaInB = grad(CA + 'in_proj_bias');
  const dPooledSets = Array.from({ length: B }, () => new Float32Array(Q * D));
  const dSumSets = Array.from({ length: B }, () => new Float64Array(Q));
  for (let h = 0; h < H; h++) {
    const dVals = headColumns(dValues, M, D, h * dh, dh); // [M, dh]
    const gWv = matmul(transposed(dVals, M, dh), dh, M, transposed(pooledT[h], D, M), D); // [dh, D]
    gCaIn.set(gWv, (2 * D + h * dh) * D);
    const dPooled = matmul(dVals, M, dh, wvHead(h), D); // [M, D]
    for (let m = 0; m < M; m++) {
      const b = (m / K) | 0;
      const q = h * K + (m % K);
      const ws = sumOf(m, h);
      let s = 0;
      for (let j = 0; j < dh; j++) {
        gCaInB[2 * D + h * dh + j] += dVals[m * dh + j] * ws;
        s += dVals[m * dh + j] * bCaIn[2 * D + h * dh + j];
      }
      dSumSets[b][q] = s;
      dPooledSets[b].set(dPooled.subarray(m * D, (m + 1) * D), q * D);
    }
  }
  // Through the attention of each set to its folded queries and keys.
  const dKeys = new Float32Array(B * T * D);
  const dqk = Array.from({ length: H }, () => new Float32Array(M * D));
  for (let b = 0; b < B; b++) {
    const sub = (a: Float32Array, n: number) => a.subarray(b * n, (b + 1) * n);
    const r = setAttentionBackward(attention[b], dPooledSets[b], dSumSets[b], transposed(sub(x, T * D), T, D), Q, T, D, caMask && sub(caMask, Q * T));
    dKeys.set(r.dKeys, b * T * D);
    for (let h = 0; h < H; h++) dqk[h].set(r.dQueries.subarray(h * K * D, (h + 1) * K * D), b * K * D);
  }
  // qk_h = cq_h·W_k,h: dcq_h = dqk_h·W_k,hᵀ = (W_k,h·dqk_hᵀ)ᵀ; dW_k,h = cq_hᵀ·dqk_h
  const dcq = new Float32Array(M * D); // dLoss/d(cq before the scale)
  for (let h = 0; h < H; h++) {
    const dcqT = matmul(wkHead(h), dh, D, transposed(dqk[h], M, D), M); // [dh, M]
    for (let m = 0; m < M; m++) for (let j = 0; j < dh; j++) dcq[m * D + h * dh + j] = dcqT[j * M + m] * scale;
    const gWk = matmul(transposed(cqHeads[h], M, dh), dh, M, dqk[h], D);
    gCaIn.set(gWk, (D + h * dh) * D);
  }
  const gPosW = grad('pos_trans_norm.weight');
  const gPosB = grad('pos_trans_norm.bias');
  // keys = x + LN(E(n)): only the LayerNorm's parameters are upstream.
  layerNormParamGrads(dKeys, rawT, lnT, B * T, D, gPosW, gPosB);
  const dq1 = linearBackward(dcq, q1, M, weightsT.get(2), D, gCaIn.subarray(0, D * D), gCaInB.subarray(0, D)) as Float32Array;

  const du1 = layerNormBackward(dq1, ln1, M, D, P('decoder_layer1.norm1.weight'), grad('decoder_layer1.norm1.weight'), grad('decoder_layer1.norm1.bias')) as Float64Array;
  const dSaOut = new Float32Array(M * D);
  for (let i = 0; i < M * D; i++) dSaOut[i] = du1[i] * (saOutMask ? saOutMask[i] : 1);
  const dSaHeads = linearBackward(dSaOut, sa.heads, M, weightsT.get(1), D, grad(SA + 'out_proj.weight'), grad(SA + 'out_proj.bias')) as Float32Array;
  const dQkv = selfAttentionBackward(dSaHeads, qkv, sa.A, B, K, H, dh, scale, saMask);
  const dq0 = linearBackward(dQkv, q0, M, weightsT.get(0), 3 * D, grad(SA + 'in_proj_weight'), grad(SA + 'in_proj_bias')) as Float32Array;
  const dEncC = new Float64Array(M * D);
  for (let i = 0; i < M * D; i++) dEncC[i] = du1[i] + dq0[i];
  // q0 = C + E(‖C‖): dE/d‖c‖ through the encoding, then d‖c‖/dc = c/‖c‖.
  const dRawC = layerNormBackward(dEncC, lnC, M, D, posW, gPosW, gPosB) as Float64Array;
  for (let m = 0; m < M; m++) {
    const o = m * D;
    let dv = 0;
    for (let j = 0; j < D; j += 2) dv += (TWO_PI_F32 / freqs[j]) * (dRawC[o + j] * rawC[o + j + 1] - dRawC[o + j + 1] * rawC[o + j]);
    const along = coreNorm[m] > 0 ? dv / coreNorm[m] : 0;
    for (let j = 0; j < D; j++) dC[o + j] += dEncC[o + j] + along * C[o + j];
  }
  if (learnedGamma) grad('gamma')[0] = selectionBackward(sel, items, dC, B, T, D, K);

  const out = new Map<string, Float32Array>();
  let sumSquares = headStep.completeKernelGradient();
  for (const [name, g] of grads) {
    out.set(AGGREGATOR_STATE_PREFIX + name, g);
    sumSquares += dot(g, 0, g, 0, g.length);
  }
  out.set(ADAFACE_STATE_PREFIX + 'kernel', headStep.kernelGradient);
  return {
    loss: headStep.loss,
    grads: out,
    gradNorm: Math.sqrt(sumSquares),
    indices: sel.indices,
    selectionSoft: Float32Array.from(sel.soft),
    aggregate,
    norm: aggNorm,
    logits: headStep.logits,
  };
}
