/**
 * An IResNet whose parameters are tf.Variables and whose training-mode forward (batch statistics,
 * running-statistic updates, optional dropout before the output Linear layer) carries its own
 * backward pass: one tf.customGrad over all parameters, whose gradient runs the explicit backward of
 * train-ops.ts layer by layer. So `tf.variableGrads(() => loss(net.forwardTrain(x)))` or an
 * optimiser's `minimize` work on wasm without tfjs's (slow or missing) conv gradient kernels, and
 * without any gradient registered for the ops inside the network.
 *
 * Layouts: conv filters HWIO [kh, kw, I, O]; the output Linear weight [H·W·C, D] with rows in NHWC
 * flatten order; everything else as in PyTorch. toWeights() converts back to PyTorch layouts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { IResNetConfig, iresnetFinalSize, iresnetUnits, IResNetUnit } from './config';
import {
  BatchNormTrainResult,
  BatchNormTrainSaved,
  batchNormTrainBackward,
  batchNormTrainForward,
  conv2dFilterGrad,
  conv2dForward,
  conv2dInputGrad,
  denseBackward,
  preluBackward,
  subsampleBackward,
} from './train-ops';
import { IResNetWeights, iresnetTensorSpecs } from './weights';

export interface TrainForwardOptions {
  /** Dropout probability before the output Linear layer (the official model uses 0.4). Default 0. */
  dropout?: number;
  /** Seed of the dropout mask (vary it per step). */
  dropoutSeed?: number;
  /** Update BatchNorm running statistics (PyTorch momentum semantics). Default true. */
  updateRunningStats?: boolean;
  /** BatchNorm momentum (PyTorch's default 0.1). */
  momentum?: number;
}

type Shape4 = [number, number, number, number];

/** Collects tensors for tf.customGrad's save() and hands out their positions. */
class SaveList {
  readonly tensors: tf.Tensor[] = [];
  add(t: tf.Tensor): number {
    this.tensors.push(t);
    return this.tensors.length - 1;
  }
  addBn(r: BatchNormTrainSaved): { centered: number; invStd: number } {
    return { centered: this.add(r.centered), invStd: this.add(r.invStd) };
  }
}

type BnSlots = { centered: number; invStd: number };

interface UnitRecord {
  unit: IResNetUnit;
  input: number;
  inputShape: Shape4;
  bn0: BnSlots;
  conv1In: number;
  bn1: BnSlots;
  preluIn: number;
  conv2In: number;
  bn2: BnSlots;
  bnShortcut?: BnSlots;
}

interface ForwardRecord {
  images: number;
  stemBn: BnSlots;
  stemPreluIn: number;
  units: UnitRecord[];
  outBn: BnSlots;
  mask?: number;
  finalShape: Shape4;
  flat: number;
  embBn: BnSlots;
}

function convFilterToHWIO(oihw: Float32Array, [o, i, kh, kw]: readonly number[]): Float32Array {
  const out = new Float32Array(oihw.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = oihw[((a * i + b) * kh + y) * kw + x];
  return out;
}

function convFilterToOIHW(hwio: Float32Array, [o, i, kh, kw]: readonly number[]): Float32Array {
  const out = new Float32Array(hwio.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((a * i + b) * kh + y) * kw + x] = hwio[((y * kw + x) * i + b) * o + a];
  return out;
}

/** PyTorch Linear [D, C·S·S] (C, H, W flatten) <-> ours [S·S·C, D] (H, W, C flatten). */
function linearToOurs(w: Float32Array, d: number, c: number, s: number): Float32Array {
  const out = new Float32Array(w.length);
  const k = c * s * s;
  for (let row = 0; row < d; row++) for (let ch = 0; ch < c; ch++) for (let hw = 0; hw < s * s; hw++) out[(hw * c + ch) * d + row] = w[row * k + ch * s * s + hw];
  return out;
}

function linearToTorch(w: Float32Array, d: number, c: number, s: number): Float32Array {
  const out = new Float32Array(w.length);
  const k = c * s * s;
  for (let row = 0; row < d; row++) for (let ch = 0; ch < c; ch++) for (let hw = 0; hw < s * s; hw++) out[row * k + ch * s * s + hw] = w[(hw * c + ch) * d + row];
  return out;
}

export class TrainableIResNet {
  readonly config: IResNetConfig;
  /** Trainable parameters by official name, in our layouts (see the file comment). */
  readonly params: Map<string, tf.Variable>;
  /** BatchNorm running statistics by official name (`...running_mean`, `...running_var`). */
  readonly running: Map<string, Float32Array>;
  /** num_batches_tracked counters by official name. */
  readonly counters: Map<string, number>;
  private readonly names: string[];

  private constructor(config: IResNetConfig, params: Map<string, tf.Variable>, running: Map<string, Float32Array>, counters: Map<string, number>) {
    this.config = config;
    this.params = params;
    this.running = running;
    this.counters = counters;
    this.names = [...params.keys()];
  }

  /** Variables on the current backend, initialised from (copies of) the weights. */
  static fromWeights(w: IResNetWeights): TrainableIResNet {
    const c = w.config;
    const params = new Map<string, tf.Variable>();
    const running = new Map<string, Float32Array>();
    const counters = new Map<string, number>();
    const S = iresnetFinalSize(c);
    const last = c.widths[c.widths.length - 1];
    for (const spec of iresnetTensorSpecs(c)) {
      if (spec.kind === 'bn.num_batches_tracked') {
        counters.set(spec.name, w.counters.get(spec.name) ?? 0);
        continue;
      }
      const data = w.tensors.get(spec.name);
      if (!data) throw new Error(`IResNet weights lack '${spec.name}'`);
      if (spec.kind === 'bn.running_mean' || spec.kind === 'bn.running_var') {
        running.set(spec.name, data.slice());
        continue;
      }
      let value: tf.Tensor;
      if (spec.kind === 'conv') value = tf.tensor4d(convFilterToHWIO(data, spec.shape), [spec.shape[2], spec.shape[3], spec.shape[1], spec.shape[0]]);
      else if (spec.kind === 'linear.weight') value = tf.tensor2d(linearToOurs(data, c.embeddingSize, last, S), [last * S * S, c.embeddingSize]);
      else value = tf.tensor1d(data.slice());
      params.set(spec.name, tf.variable(value, true));
      value.dispose();
    }
    return new TrainableIResNet(c, params, running, counters);
  }

  /** The trainable variables (for an optimiser's var list). */
  variables(): tf.Variable[] {
    return this.names.map((n) => this.params.get(n)!);
  }

  /** Current weights in PyTorch names and layouts (a copy). */
  toWeights(): IResNetWeights {
    const c = this.config;
    const S = iresnetFinalSize(c);
    const last = c.widths[c.widths.length - 1];
    const tensors = new Map<string, Float32Array>();
    for (const spec of iresnetTensorSpecs(c)) {
      if (spec.kind === 'bn.num_batches_tracked') continue;
      if (spec.kind === 'bn.running_mean' || spec.kind === 'bn.running_var') {
        tensors.set(spec.name, this.running.get(spec.name)!.slice());
        continue;
      }
      const data = this.params.get(spec.name)!.dataSync() as Float32Array;
      if (spec.kind === 'conv') tensors.set(spec.name, convFilterToOIHW(data, spec.shape));
      else if (spec.kind === 'linear.weight') tensors.set(spec.name, linearToTorch(data, c.embeddingSize, last, S));
      else tensors.set(spec.name, data.slice());
    }
    return { config: { ...c, widths: [...c.widths], units: [...c.units] }, tensors, counters: new Map(this.counters) };
  }

  private p<T extends tf.Tensor = tf.Tensor1D>(name: string): T {
    return this.params.get(name) as unknown as T;
  }

  /**
   * Training-mode forward: the embedding before normalisation [B, D], differentiable with respect to
   * every variable (not to the images).
   * @param images [B, S, S, 3] (BGR, (x/255 − 0.5)/0.5)
   */
  forwardTrain(images: tf.Tensor4D, opts: TrainForwardOptions = {}): tf.Tensor2D {
    const c = this.config;
    if (images.shape[1] !== c.inputSize || images.shape[2] !== c.inputSize || images.shape[3] !== 3) {
      throw new Error(`IResNet forwardTrain: expected images [B, ${c.inputSize}, ${c.inputSize}, 3] (NHWC), got [${images.shape.join(', ')}]`);
    }
    if (images.shape[0] < 2) throw new Error('IResNet forwardTrain: batch statistics need at least 2 images');
    const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const list = new SaveList();
      const { pre, record } = this.forwardRecorded(images, list, opts);
      save(list.tensors);
      return {
        value: pre,
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
          const grads = this.backward(dy, record, saved);
          return this.names.map((n) => grads.get(n)!);
        },
      };
    });
    return run(...this.variables()) as tf.Tensor2D;
  }

  private bnForward(name: string, x: tf.Tensor, affine: boolean, opts: TrainForwardOptions): BatchNormTrainResult {
    const r = batchNormTrainForward(x, affine ? this.p<tf.Tensor1D>(`${name}.weight`) : undefined, affine ? this.p<tf.Tensor1D>(`${name}.bias`) : undefined, this.config.bnEps);
    if (opts.updateRunningStats ?? true) {
      const m = opts.momentum ?? 0.1;
      const n = x.size / x.shape[x.rank - 1];
      const mean = r.mean.dataSync();
      const variance = r.variance.dataSync();
      const rm = this.running.get(`${name}.running_mean`)!;
      const rv = this.running.get(`${name}.running_var`)!;
      for (let i = 0; i < rm.length; i++) {
        rm[i] = (1 - m) * rm[i] + m * mean[i];
        rv[i] = (1 - m) * rv[i] + (m * variance[i] * n) / (n - 1); // unbiased, as PyTorch
      }
      this.counters.set(`${name}.num_batches_tracked`, (this.counters.get(`${name}.num_batches_tracked`) ?? 0) + 1);
    }
    return r;
  }

  private forwardRecorded(images: tf.Tensor4D, list: SaveList, opts: TrainForwardOptions): { pre: tf.Tensor2D; record: ForwardRecord } {
    const c = this.config;
    const conv3 = { stride: 1 as const, pad: 1 };
    const stemZ = conv2dForward(images, this.p<tf.Tensor4D>('input_layer.0.weight'), conv3);
    const stemBn = this.bnForward('input_layer.1', stemZ, true, opts);
    let h = tf.prelu(stemBn.y, this.p('input_layer.2.weight')) as tf.Tensor4D;
    const record: Partial<ForwardRecord> & { units: UnitRecord[] } = {
      images: list.add(images),
      stemBn: list.addBn(stemBn),
      stemPreluIn: list.add(stemBn.y),
      units: [],
    };
    for (const u of iresnetUnits(c)) {
      const p = `body.${u.index}`;
      const bn0 = this.bnForward(`${p}.res_layer.0`, h, true, opts);
      const z1 = conv2dForward(bn0.y as tf.Tensor4D, this.p<tf.Tensor4D>(`${p}.res_layer.1.weight`), conv3);
      const bn1 = this.bnForward(`${p}.res_layer.2`, z1, true, opts);
      const a = tf.prelu(bn1.y, this.p(`${p}.res_layer.3.weight`)) as tf.Tensor4D;
      const z2 = conv2dForward(a, this.p<tf.Tensor4D>(`${p}.res_layer.4.weight`), { stride: u.stride, pad: 1 });
      const bn2 = this.bnForward(`${p}.res_layer.5`, z2, true, opts);
      let shortcut: tf.Tensor;
      let bnShortcut: BatchNormTrainResult | undefined;
      if (u.inChannels !== u.outChannels) {
        const zs = conv2dForward(h, this.p<tf.Tensor4D>(`${p}.shortcut_layer.0.weight`), { stride: u.stride, pad: 0 });
        bnShortcut = this.bnForward(`${p}.shortcut_layer.1`, zs, true, opts);
        shortcut = bnShortcut.y;
      } else shortcut = u.stride === 1 ? h : tf.maxPool(h, 1, u.stride, 'valid');
      record.units.push({
        unit: u,
        input: list.add(h),
        inputShape: h.shape,
        bn0: list.addBn(bn0),
        conv1In: list.add(bn0.y),
        bn1: list.addBn(bn1),
        preluIn: list.add(bn1.y),
        conv2In: list.add(a),
        bn2: list.addBn(bn2),
        bnShortcut: bnShortcut ? list.addBn(bnShortcut) : undefined,
      });
      h = tf.add(bn2.y, shortcut) as tf.Tensor4D;
    }
    const outBn = this.bnForward('output_layer.0', h, true, opts);
    let features = outBn.y;
    record.outBn = list.addBn(outBn);
    const rate = opts.dropout ?? 0;
    if (rate > 0) {
      const keep = tf.div(tf.cast(tf.greaterEqual(tf.randomUniform(h.shape, 0, 1, 'float32', opts.dropoutSeed), rate), 'float32'), 1 - rate);
      record.mask = list.add(keep);
      features = tf.mul(features, keep);
    }
    const [b, fh, fw, fc] = h.shape;
    record.finalShape = h.shape;
    const flat = tf.reshape(features, [b, fh * fw * fc]) as tf.Tensor2D;
    record.flat = list.add(flat);
    const lin = tf.add(tf.matMul(flat, this.p<tf.Tensor2D>('output_layer.3.weight')), this.p('output_layer.3.bias'));
    const embBn = this.bnForward('output_layer.4', lin, false, opts);
    record.embBn = list.addBn(embBn);
    return { pre: embBn.y as tf.Tensor2D, record: record as ForwardRecord };
  }

  private backward(dPre: tf.Tensor2D, rec: ForwardRecord, saved: tf.Tensor[]): Map<string, tf.Tensor> {
    const grads = new Map<string, tf.Tensor>();
    const bn = (s: BnSlots): BatchNormTrainSaved => ({ centered: saved[s.centered], invStd: saved[s.invStd] as tf.Tensor1D });
    const bnBack = (dy: tf.Tensor, name: string, s: BnSlots, affine = true): tf.Tensor => {
      const r = batchNormTrainBackward(dy, bn(s), affine ? this.p<tf.Tensor1D>(`${name}.weight`) : undefined);
      if (affine) {
        grads.set(`${name}.weight`, r.dgamma);
        grads.set(`${name}.bias`, r.dbeta);
      } else tf.dispose([r.dgamma, r.dbeta]);
      return r.dx;
    };
    const dLin = bnBack(dPre, 'output_layer.4', rec.embBn, false) as tf.Tensor2D;
    const dense = denseBackward(dLin, saved[rec.flat] as tf.Tensor2D, this.p<tf.Tensor2D>('output_layer.3.weight'));
    grads.set('output_layer.3.weight', dense.dw);
    grads.set('output_layer.3.bias', dense.db);
    let dFeat: tf.Tensor = tf.reshape(dense.dx, rec.finalShape);
    if (rec.mask !== undefined) dFeat = tf.mul(dFeat, saved[rec.mask]);
    let dh = bnBack(dFeat, 'output_layer.0', rec.outBn) as tf.Tensor4D;
    for (let k = rec.units.length - 1; k >= 0; k--) {
      const r = rec.units[k];
      const u = r.unit;
      const p = `body.${u.index}`;
      const dz2 = bnBack(dh, `${p}.res_layer.5`, r.bn2) as tf.Tensor4D;
      const w2 = this.p<tf.Tensor4D>(`${p}.res_layer.4.weight`);
      const a = saved[r.conv2In] as tf.Tensor4D;
      grads.set(`${p}.res_layer.4.weight`, conv2dFilterGrad(a, dz2, 3, { stride: u.stride, pad: 1 }));
      const da = conv2dInputGrad(dz2, w2, a.shape, { stride: u.stride, pad: 1 });
      const pr = preluBackward(da, saved[r.preluIn], this.p(`${p}.res_layer.3.weight`));
      grads.set(`${p}.res_layer.3.weight`, pr.dalpha);
      const dz1 = bnBack(pr.dx, `${p}.res_layer.2`, r.bn1) as tf.Tensor4D;
      const t1 = saved[r.conv1In] as tf.Tensor4D;
      grads.set(`${p}.res_layer.1.weight`, conv2dFilterGrad(t1, dz1, 3, { stride: 1, pad: 1 }));
      const dt1 = conv2dInputGrad(dz1, this.p<tf.Tensor4D>(`${p}.res_layer.1.weight`), t1.shape, { stride: 1, pad: 1 });
      const dRes = bnBack(dt1, `${p}.res_layer.0`, r.bn0);
      let dShort: tf.Tensor;
      if (r.bnShortcut) {
        const dzs = bnBack(dh, `${p}.shortcut_layer.1`, r.bnShortcut) as tf.Tensor4D;
        const x = saved[r.input] as tf.Tensor4D;
        grads.set(`${p}.shortcut_layer.0.weight`, conv2dFilterGrad(x, dzs, 1, { stride: u.stride, pad: 0 }));
        dShort = conv2dInputGrad(dzs, this.p<tf.Tensor4D>(`${p}.shortcut_layer.0.weight`), r.inputShape, { stride: u.stride, pad: 0 });
      } else dShort = u.stride === 1 ? dh : subsampleBackward(dh, r.inputShape);
      dh = tf.add(dRes, dShort) as tf.Tensor4D;
    }
    const stem = preluBackward(dh, saved[rec.stemPreluIn], this.p('input_layer.2.weight'));
    grads.set('input_layer.2.weight', stem.dalpha);
    const dz = bnBack(stem.dx, 'input_layer.1', rec.stemBn) as tf.Tensor4D;
    grads.set('input_layer.0.weight', conv2dFilterGrad(saved[rec.images] as tf.Tensor4D, dz, 3, { stride: 1, pad: 1 }));
    return grads;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}
