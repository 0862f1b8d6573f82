/**
 * Eval-mode BatchNorm folding for IResNet, on plain arrays (float64 arithmetic, float32 results).
 *
 * In eval a BatchNorm is a per-channel affine map y = s·x + t with s = γ/√(var + ε), t = β − mean·s.
 * - After a conv (no padding issue): scale the conv's output channels by s, bias t.
 * - Before a conv (the unit's first BatchNorm): the scale moves into the conv's input channels, but
 *   the shift cannot become a conv bias, because the conv zero-pads *after* the BatchNorm and a
 *   folded bias would be wrong on the border. So it stays as a pre-add of t/s to the input
 *   (x + t/s)·s = s·x + t, which rounds no worse than s·x + t itself. A channel with s = 0 exactly
 *   has no such form; then the whole BatchNorm stays as a multiply-add before the conv.
 * - The output layer BN2d -> flatten -> Linear -> BN1d is one affine map: one matrix and one bias,
 *   with the rows permuted from PyTorch's (C, H, W) flatten order to our NHWC (H, W, C) order.
 */
import { IResNetConfig, iresnetFinalSize, iresnetUnits } from './config';
import { IResNetWeights } from './weights';

export interface BatchNormAffine {
  scale: Float64Array;
  shift: Float64Array;
}

/** s and t of an eval BatchNorm; `affine` false means γ = 1, β = 0 (BatchNorm1d(affine=False)). */
export function batchNormAffine(w: IResNetWeights, name: string, affine = true): BatchNormAffine {
  const get = (k: string) => {
    const v = w.tensors.get(`${name}.${k}`);
    if (!v) throw new Error(`IResNet weights lack '${name}.${k}'`);
    return v;
  };
  const mean = get('running_mean');
  const variance = get('running_var');
  const gamma = affine ? get('weight') : undefined;
  const beta = affine ? get('bias') : undefined;
  const n = mean.length;
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    // PyTorch computes 1/sqrt(var + eps) in float32; the difference is below float32 rounding of the result.
    const s = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + w.config.bnEps);
    scale[c] = s;
    shift[c] = (beta ? beta[c] : 0) - mean[c] * s;
  }
  return { scale, shift };
}

/** A conv as tfjs wants it: filter [kh, kw, I, O] and optional bias [O]. */
export interface FoldedConv {
  filter: Float32Array;
  shape: [number, number, number, number];
  bias: Float32Array;
}

/**
 * OIHW weights -> HWIO with output channel o scaled by outScale[o] and input channel i by inScale[i].
 */
export function foldConv(
  oihw: Float32Array,
  [o, i, kh, kw]: readonly number[],
  outScale: Float64Array | undefined,
  inScale: Float64Array | undefined,
  bias: ArrayLike<number> | undefined,
): FoldedConv {
  const filter = new Float32Array(o * i * kh * kw);
  for (let oc = 0; oc < o; oc++) {
    const so = outScale ? outScale[oc] : 1;
    for (let ic = 0; ic < i; ic++) {
      const s = so * (inScale ? inScale[ic] : 1);
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          filter[((y * kw + x) * i + ic) * o + oc] = oihw[((oc * i + ic) * kh + y) * kw + x] * s;
        }
      }
    }
  }
  return { filter, shape: [kh, kw, i, o], bias: Float32Array.from(bias ?? new Float64Array(o)) };
}

/** What runs before a unit's first conv. */
export type FoldedPreNorm = { kind: 'add'; offset: Float32Array } | { kind: 'affine'; scale: Float32Array; shift: Float32Array };

export interface FoldedUnit {
  index: number;
  stride: 1 | 2;
  preNorm: FoldedPreNorm;
  /** conv3x3 (stride 1) with the following BatchNorm folded in; then PReLU. */
  conv1: FoldedConv;
  prelu: Float32Array;
  /** conv3x3 (stride s) with its BatchNorm folded in. */
  conv2: FoldedConv;
  /** 1x1 conv (stride s) with its BatchNorm folded in; absent: subsample x[::s, ::s]. */
  shortcut?: FoldedConv;
}

export interface FoldedIResNet {
  config: IResNetConfig;
  stem: FoldedConv;
  stemPrelu: Float32Array;
  units: FoldedUnit[];
  /** Output layer as one matrix [S·S·C, D] (rows in H, W, C order) and bias [D]. */
  outMatrix: Float32Array;
  outBias: Float32Array;
}

function tensor(w: IResNetWeights, name: string): Float32Array {
  const v = w.tensors.get(name);
  if (!v) throw new Error(`IResNet weights lack '${name}'`);
  return v;
}

function foldUnit(w: IResNetWeights, index: number, inC: number, outC: number, stride: 1 | 2): FoldedUnit {
  const p = `body.${index}`;
  const bn0 = batchNormAffine(w, `${p}.res_layer.0`);
  const bn1 = batchNormAffine(w, `${p}.res_layer.2`);
  const bn2 = batchNormAffine(w, `${p}.res_layer.5`);
  const foldable = bn0.scale.every((s) => s !== 0 && Number.isFinite(1 / s));
  const preNorm: FoldedPreNorm = foldable
    ? { kind: 'add', offset: Float32Array.from(bn0.shift, (t, c) => t / bn0.scale[c]) }
    : { kind: 'affine', scale: Float32Array.from(bn0.scale), shift: Float32Array.from(bn0.shift) };
  const conv1 = foldConv(tensor(w, `${p}.res_layer.1.weight`), [outC, inC, 3, 3], bn1.scale, foldable ? bn0.scale : undefined, bn1.shift);
  const conv2 = foldConv(tensor(w, `${p}.res_layer.4.weight`), [outC, outC, 3, 3], bn2.scale, undefined, bn2.shift);
  let shortcut: FoldedConv | undefined;
  if (inC !== outC) {
    const bnS = batchNormAffine(w, `${p}.shortcut_layer.1`);
    shortcut = foldConv(tensor(w, `${p}.shortcut_layer.0.weight`), [outC, inC, 1, 1], bnS.scale, undefined, bnS.shift);
  }
  return { index, stride, preNorm, conv1, prelu: tensor(w, `${p}.res_layer.3.weight`), conv2, shortcut };
}

/** Folds every BatchNorm of an eval-mode IResNet (see the file comment for how). */
export function foldIResNet(w: IResNetWeights): FoldedIResNet {
  const c = w.config;
  const bnStem = batchNormAffine(w, 'input_layer.1');
  const stem = foldConv(tensor(w, 'input_layer.0.weight'), [c.widths[0], 3, 3, 3], bnStem.scale, undefined, bnStem.shift);
  const units = iresnetUnits(c).map((u) => foldUnit(w, u.index, u.inChannels, u.outChannels, u.stride));

  const C = c.widths[c.widths.length - 1];
  const S = iresnetFinalSize(c);
  const D = c.embeddingSize;
  const K = C * S * S;
  const bnIn = batchNormAffine(w, 'output_layer.0');
  const bnOut = batchNormAffine(w, 'output_layer.4', false);
  const linW = tensor(w, 'output_layer.3.weight'); // [D, C·S·S], column index c·S·S + h·S + w
  const linB = tensor(w, 'output_layer.3.bias');
  const outMatrix = new Float32Array(K * D);
  const outBias = new Float32Array(D);
  const channelOf = new Int32Array(K);
  for (let k = 0; k < K; k++) channelOf[k] = Math.floor(k / (S * S));
  for (let d = 0; d < D; d++) {
    const sd = bnOut.scale[d];
    let acc = linB[d];
    const row = d * K;
    for (let k = 0; k < K; k++) {
      const ch = channelOf[k];
      const hw = k - ch * S * S; // h·S + w
      const wv = linW[row + k];
      acc += wv * bnIn.shift[ch];
      outMatrix[(hw * C + ch) * D + d] = sd * wv * bnIn.scale[ch];
    }
    outBias[d] = sd * acc + bnOut.shift[d];
  }
  return { config: c, stem, stemPrelu: tensor(w, 'input_layer.2.weight'), units, outMatrix, outBias };
}
