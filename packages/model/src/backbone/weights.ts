/**
 * IResNet weights as plain arrays under the official PyTorch names and layouts (conv [O, I, kh, kw],
 * linear [out, in]), and the list of tensors an architecture has. The names are those of the
 * official `Backbone` module: `input_layer.{0,1,2}`, `output_layer.{0,3,4}`, `body.N.res_layer.{0..5}`,
 * `body.N.shortcut_layer.{0,1}` (only where a unit changes width).
 */
import { IResNetConfig, iresnetFlattenSize, iresnetUnits } from './config';

export type IResNetTensorKind =
  | 'conv'
  | 'bn.weight'
  | 'bn.bias'
  | 'bn.running_mean'
  | 'bn.running_var'
  | 'bn.num_batches_tracked'
  | 'prelu'
  | 'linear.weight'
  | 'linear.bias';

export interface IResNetTensorSpec {
  /** PyTorch name without any checkpoint prefix, e.g. `body.3.res_layer.1.weight`. */
  name: string;
  shape: number[];
  kind: IResNetTensorKind;
}

export interface IResNetWeights {
  config: IResNetConfig;
  /** Every floating parameter and buffer by spec name (PyTorch layout, C order). */
  tensors: Map<string, Float32Array>;
  /**
   * `num_batches_tracked` counters by spec name. Unused by the math; kept so that a checkpoint
   * written back holds what was read.
   */
  counters: Map<string, number>;
}

function batchNorm(prefix: string, c: number, affine = true): IResNetTensorSpec[] {
  const out: IResNetTensorSpec[] = [];
  if (affine) out.push({ name: `${prefix}.weight`, shape: [c], kind: 'bn.weight' }, { name: `${prefix}.bias`, shape: [c], kind: 'bn.bias' });
  out.push(
    { name: `${prefix}.running_mean`, shape: [c], kind: 'bn.running_mean' },
    { name: `${prefix}.running_var`, shape: [c], kind: 'bn.running_var' },
    { name: `${prefix}.num_batches_tracked`, shape: [], kind: 'bn.num_batches_tracked' },
  );
  return out;
}

/** Every tensor of the architecture in the official registration order (input, output, body). */
export function iresnetTensorSpecs(config: IResNetConfig): IResNetTensorSpec[] {
  const w0 = config.widths[0];
  const last = config.widths[config.widths.length - 1];
  const specs: IResNetTensorSpec[] = [
    { name: 'input_layer.0.weight', shape: [w0, 3, 3, 3], kind: 'conv' },
    ...batchNorm('input_layer.1', w0),
    { name: 'input_layer.2.weight', shape: [w0], kind: 'prelu' },
    ...batchNorm('output_layer.0', last),
    { name: 'output_layer.3.weight', shape: [config.embeddingSize, iresnetFlattenSize(config)], kind: 'linear.weight' },
    { name: 'output_layer.3.bias', shape: [config.embeddingSize], kind: 'linear.bias' },
    ...batchNorm('output_layer.4', config.embeddingSize, false),
  ];
  for (const u of iresnetUnits(config)) {
    const p = `body.${u.index}`;
    if (u.inChannels !== u.outChannels) {
      specs.push({ name: `${p}.shortcut_layer.0.weight`, shape: [u.outChannels, u.inChannels, 1, 1], kind: 'conv' }, ...batchNorm(`${p}.shortcut_layer.1`, u.outChannels));
    }
    specs.push(
      ...batchNorm(`${p}.res_layer.0`, u.inChannels),
      { name: `${p}.res_layer.1.weight`, shape: [u.outChannels, u.inChannels, 3, 3], kind: 'conv' },
      ...batchNorm(`${p}.res_layer.2`, u.outChannels),
      { name: `${p}.res_layer.3.weight`, shape: [u.outChannels], kind: 'prelu' },
      { name: `${p}.res_layer.4.weight`, shape: [u.outChannels, u.outChannels, 3, 3], kind: 'conv' },
      ...batchNorm(`${p}.res_layer.5`, u.outChannels),
    );
  }
  return specs;
}

/** Number of floating values (parameters and BatchNorm statistics). */
export function iresnetValueCount(config: IResNetConfig): number {
  return iresnetTensorSpecs(config)
    .filter((s) => s.kind !== 'bn.num_batches_tracked')
    .reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Small seeded generator (mulberry32) with Box-Muller normals; enough for weight init. */
export function seededNormal(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - uniform();
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/**
 * Fresh weights initialised as the official `initialize_weights`: conv and linear weights
 * Kaiming-normal (fan_out, ReLU gain: std = sqrt(2 / fan_out)), biases 0, BatchNorm weight 1 and
 * bias 0, running mean 0 and variance 1, PReLU slopes 0.25.
 */
export function initIResNetWeights(config: IResNetConfig, seed = 0): IResNetWeights {
  const normal = seededNormal(seed);
  const tensors = new Map<string, Float32Array>();
  const counters = new Map<string, number>();
  for (const spec of iresnetTensorSpecs(config)) {
    if (spec.kind === 'bn.num_batches_tracked') {
      counters.set(spec.name, 0);
      continue;
    }
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    switch (spec.kind) {
      case 'conv':
      case 'linear.weight': {
        // fan_out = out channels x kernel area (a Linear layer's kernel area is 1).
        const fanOut = spec.shape[0] * (spec.kind === 'conv' ? spec.shape[2] * spec.shape[3] : 1);
        const std = Math.sqrt(2 / fanOut);
        for (let i = 0; i < n; i++) data[i] = normal() * std;
        break;
      }
      case 'bn.weight':
      case 'bn.running_var':
        data.fill(1);
        break;
      case 'prelu':
        data.fill(0.25);
        break;
      default:
        break; // biases and running means start at 0
    }
    tensors.set(spec.name, data);
  }
  return { config, tensors, counters };
}

/** A deep copy (the arrays are not shared). */
export function cloneIResNetWeights(w: IResNetWeights): IResNetWeights {
  return {
    config: { ...w.config, widths: [...w.config.widths], units: [...w.config.units] },
    tensors: new Map([...w.tensors].map(([k, v]) => [k, v.slice()])),
    counters: new Map(w.counters),
  };
}
