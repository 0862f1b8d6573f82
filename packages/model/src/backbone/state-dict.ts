/**
 * IResNet weights from and to a PyTorch-style state dict (name -> {shape, data}).
 *
 * Where the backbone lives in the checkpoints we read:
 * - AdaFace (Lightning): `model.input_layer.*`, `model.body.N.*`, `model.output_layer.*` beside `head.*`;
 * - FaceCoresetNet: the same under `model.`, and again under `template_model.module.` (the
 *   TimeDistributed wrapper registers the same module twice); `model.` is read, both are written.
 * - a bare `Backbone.state_dict()` has no prefix.
 */
import { InputError } from '@facecoreset/common';
import { IResNetArch, IResNetConfig, describeIResNetConfig, iresnetConfig, iresnetFlattenSize, validateIResNetConfig } from './config';
import { IResNetWeights, iresnetTensorSpecs } from './weights';

/** One tensor of a state dict. Floating data arrive widened to float32 (float16 included). */
export interface StateDictEntry {
  dtype?: string;
  shape: readonly number[];
  data: ArrayLike<number> | BigInt64Array;
}

export type StateDictLike = ReadonlyMap<string, StateDictEntry>;

/** Prefixes tried in this order when none is given. */
export const BACKBONE_PREFIXES = ['model.', 'template_model.module.', 'module.', 'backbone.', ''] as const;

const ANCHOR = 'input_layer.0.weight';

/** The prefix under which a state dict holds an IResNet, or undefined when it holds none. */
export function findBackbonePrefix(sd: StateDictLike): string | undefined {
  for (const p of BACKBONE_PREFIXES) if (sd.has(p + ANCHOR)) return p;
  const others = [...sd.keys()].filter((k) => k.endsWith('.' + ANCHOR)).map((k) => k.slice(0, k.length - ANCHOR.length));
  return others.length === 1 ? others[0] : undefined;
}

function shapeText(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

function shapeOf(sd: StateDictLike, key: string, file?: string): readonly number[] {
  const e = sd.get(key);
  if (!e) throw new InputError(`missing key '${key}' needed to infer the IResNet architecture`, file);
  return e.shape;
}

/**
 * Reads the architecture from tensor shapes: unit count and widths from `body.N.res_layer.1.weight`,
 * stage starts at unit 0 and wherever the width changes, the embedding size from the Linear layer,
 * and the input size from its input width (C * s * s with s = inputSize / 2^stages). A custom network
 * whose consecutive stages share a width cannot be told apart from one longer stage: pass its config.
 */
export function inferIResNetConfig(sd: StateDictLike, prefix: string, file?: string): IResNetConfig {
  const widths: number[] = [];
  const units: number[] = [];
  let n = 0;
  for (; sd.has(`${prefix}body.${n}.res_layer.1.weight`); n++) {
    const [out, inC] = shapeOf(sd, `${prefix}body.${n}.res_layer.1.weight`, file);
    if (n === 0 || out !== inC) {
      widths.push(out);
      units.push(1);
    } else units[units.length - 1]++;
  }
  if (n === 0) throw new InputError(`no '${prefix}body.0.res_layer.1.weight': not an IResNet state dict`, file);
  const [embeddingSize, flat] = shapeOf(sd, `${prefix}output_layer.3.weight`, file);
  const side = Math.round(Math.sqrt(flat / widths[widths.length - 1]));
  const config: IResNetConfig = { widths, units, embeddingSize, inputSize: side * 2 ** widths.length, bnEps: 1e-5 };
  validateIResNetConfig(config);
  if (iresnetFlattenSize(config) !== flat) {
    throw new InputError(`'${prefix}output_layer.3.weight' has ${flat} inputs, which is not ${widths[widths.length - 1]} channels x a square map`, file);
  }
  return config;
}

export interface ImportIResNetOptions {
  /** Key prefix; by default the first of BACKBONE_PREFIXES that holds `input_layer.0.weight`. */
  prefix?: string;
  /** Expected architecture; by default inferred from the shapes. */
  config?: IResNetConfig | IResNetArch;
  /** Names the source in error messages. */
  file?: string;
}

/**
 * Takes the backbone out of a state dict. Errors name the key and the expected vs found shape;
 * a key under the prefix that the architecture does not have is an error too (it means another
 * architecture). `num_batches_tracked` counters may be absent.
 */
export function importIResNetStateDict(sd: StateDictLike, opts: ImportIResNetOptions = {}): IResNetWeights {
  const file = opts.file;
  const prefix = opts.prefix ?? findBackbonePrefix(sd);
  if (prefix === undefined) {
    throw new InputError(`no IResNet backbone found: no key ends in '${ANCHOR}' (tried prefixes ${BACKBONE_PREFIXES.map((p) => `'${p}'`).join(', ')})`, file);
  }
  const inferred = inferIResNetConfig(sd, prefix, file);
  let config = inferred;
  if (opts.config !== undefined) {
    config = typeof opts.config === 'string' ? iresnetConfig(opts.config) : opts.config;
    // Shapes fix the width of every unit, not where stages start (consecutive stages may share a
    // width), so compare unit by unit, plus the embedding size and the flattened feature size.
    const unitWidths = (c: IResNetConfig) => c.widths.flatMap((w, i) => new Array<number>(c.units[i]).fill(w)).join(',');
    const compatible =
      unitWidths(inferred) === unitWidths(config) && inferred.embeddingSize === config.embeddingSize && iresnetFlattenSize(inferred) === iresnetFlattenSize(config);
    if (!compatible) {
      throw new InputError(`checkpoint holds ${describeIResNetConfig(inferred)} under '${prefix}', expected ${describeIResNetConfig(config)}`, file);
    }
  }
  const specs = iresnetTensorSpecs(config);
  const tensors = new Map<string, Float32Array>();
  const counters = new Map<string, number>();
  for (const spec of specs) {
    const key = prefix + spec.name;
    const entry = sd.get(key);
    if (spec.kind === 'bn.num_batches_tracked') {
      if (entry) counters.set(spec.name, Number(entry.data[0] ?? 0));
      continue;
    }
    if (!entry) throw new InputError(`missing key '${key}' (expected shape ${shapeText(spec.shape)})`, file);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    if (entry.shape.length !== spec.shape.length || entry.shape.some((d, i) => d !== spec.shape[i])) {
      throw new InputError(`key '${key}' has shape ${shapeText(entry.shape)}, expected ${shapeText(spec.shape)}`, file);
    }
    if (entry.data.length !== n) throw new InputError(`key '${key}' has ${entry.data.length} values for shape ${shapeText(spec.shape)} (${n})`, file);
    if (entry.data instanceof BigInt64Array) throw new InputError(`key '${key}' holds integers (${entry.dtype ?? 'int64'}), expected floating values`, file);
    tensors.set(spec.name, entry.data instanceof Float32Array ? entry.data.slice() : Float32Array.from(entry.data)); // a copy: training must not alter the source
  }
  const known = new Set(specs.map((s) => prefix + s.name));
  const isBackboneKey = (k: string) => k.startsWith(prefix) && /^(input_layer|output_layer|body)\./.test(k.slice(prefix.length));
  for (const key of sd.keys()) {
    if (isBackboneKey(key) && !known.has(key)) {
      throw new InputError(`unexpected key '${key}' for ${describeIResNetConfig(config)} (a different architecture, e.g. ir_se?)`, file);
    }
  }
  return { config, tensors, counters };
}

export interface ExportIResNetOptions {
  /** Prefix or prefixes to write under (default 'model.'). */
  prefix?: string | readonly string[];
  /** A state dict whose other keys are carried over unchanged, in their order. */
  base?: StateDictLike;
}

/**
 * The weights as a state dict with the official names. Keys of `base` keep their position (and
 * their entry when the backbone does not replace it); new keys follow in registration order.
 * Entries share the weights' arrays (no copy).
 */
export function exportIResNetStateDict(weights: IResNetWeights, opts: ExportIResNetOptions = {}): Map<string, StateDictEntry> {
  const prefixes = typeof opts.prefix === 'string' ? [opts.prefix] : (opts.prefix ?? ['model.']);
  const out = new Map<string, StateDictEntry>(opts.base ?? []);
  for (const prefix of prefixes) {
    for (const spec of iresnetTensorSpecs(weights.config)) {
      const key = prefix + spec.name;
      if (spec.kind === 'bn.num_batches_tracked') {
        const count = weights.counters.get(spec.name) ?? 0;
        const prev = out.get(key);
        if (prev && Number(prev.data[0]) === count) continue;
        out.set(key, { dtype: 'int64', shape: [], data: new Float64Array([count]) });
        continue;
      }
      const data = weights.tensors.get(spec.name);
      if (!data) throw new Error(`IResNet weights lack '${spec.name}'`);
      out.set(key, { dtype: 'float32', shape: [...spec.shape], data });
    }
  }
  return out;
}
