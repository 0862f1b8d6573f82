/**
 * IResNet ("ir") backbone shapes as AdaFace defines them: a 3x3 stem, stages of basic residual
 * units (BN -> conv3x3 -> BN -> PReLU -> conv3x3(stride) -> BN, plus a subsampling or 1x1-conv
 * shortcut), and an output layer BN2d -> flatten (C,H,W) -> Linear -> BN1d (no affine).
 * The first unit of every stage has stride 2, so a 112x112 input ends at 7x7 after four stages.
 */

/** Names of the official architectures (`build_model(arch)` in the official code). */
export const IRESNET_ARCHS = ['ir_18', 'ir_34', 'ir_50', 'ir_101'] as const;
export type IResNetArch = (typeof IRESNET_ARCHS)[number];

export interface IResNetConfig {
  /** Output channels of each stage; the stem has widths[0] channels. */
  widths: number[];
  /** Residual units per stage (same length as widths). */
  units: number[];
  /** Length of the embedding (the output Linear layer's width). */
  embeddingSize: number;
  /** Side of the square input image in pixels. */
  inputSize: number;
  /** BatchNorm epsilon (PyTorch's default). */
  bnEps: number;
}

const OFFICIAL_WIDTHS = [64, 128, 256, 512];

/** Unit counts from the official `get_blocks(num_layers)` (ir_101 is its num_layers = 100). */
const OFFICIAL_UNITS: Record<IResNetArch, number[]> = {
  ir_18: [2, 2, 2, 2],
  ir_34: [3, 4, 6, 3],
  ir_50: [3, 4, 14, 3],
  ir_101: [3, 13, 30, 3],
};

export const DEFAULT_BN_EPS = 1e-5;

export function isIResNetArch(s: string): s is IResNetArch {
  return (IRESNET_ARCHS as readonly string[]).includes(s);
}

/**
 * The configuration of an official architecture, or a custom one (e.g. a small network for CPU
 * demos: `{ widths: [16, 32, 64, 128], units: [1, 1, 1, 1], embeddingSize: 128 }`).
 * Unknown keys and inconsistent values are errors.
 */
export function iresnetConfig(spec: IResNetArch | Partial<IResNetConfig>): IResNetConfig {
  if (typeof spec === 'string') {
    if (!isIResNetArch(spec)) throw new Error(`unknown IResNet architecture '${spec}': expected one of ${IRESNET_ARCHS.join(', ')}`);
    return { widths: [...OFFICIAL_WIDTHS], units: [...OFFICIAL_UNITS[spec]], embeddingSize: 512, inputSize: 112, bnEps: DEFAULT_BN_EPS };
  }
  const known = new Set(['widths', 'units', 'embeddingSize', 'inputSize', 'bnEps']);
  for (const key of Object.keys(spec)) {
    if (!known.has(key)) throw new Error(`IResNet config: unknown key '${key}' (expected ${[...known].join(', ')})`);
  }
  const config: IResNetConfig = {
    widths: spec.widths ? [...spec.widths] : [...OFFICIAL_WIDTHS],
    units: spec.units ? [...spec.units] : [...OFFICIAL_UNITS.ir_18],
    embeddingSize: spec.embeddingSize ?? 512,
    inputSize: spec.inputSize ?? 112,
    bnEps: spec.bnEps ?? DEFAULT_BN_EPS,
  };
  validateIResNetConfig(config);
  return config;
}

export function validateIResNetConfig(c: IResNetConfig): void {
  const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
  if (c.widths.length === 0 || !c.widths.every(positiveInt)) throw new Error(`IResNet config: widths must be positive integers, got [${c.widths}]`);
  if (c.units.length !== c.widths.length || !c.units.every(positiveInt)) {
    throw new Error(`IResNet config: units must be ${c.widths.length} positive integers (one per stage), got [${c.units}]`);
  }
  if (!positiveInt(c.embeddingSize)) throw new Error(`IResNet config: embeddingSize must be a positive integer, got ${c.embeddingSize}`);
  if (!positiveInt(c.inputSize)) throw new Error(`IResNet config: inputSize must be a positive integer, got ${c.inputSize}`);
  if (!(c.bnEps > 0)) throw new Error(`IResNet config: bnEps must be positive, got ${c.bnEps}`);
}

/** One residual unit: input and output channels and the stride of its second conv / shortcut. */
export interface IResNetUnit {
  /** Index N of `body.N`. */
  index: number;
  inChannels: number;
  outChannels: number;
  stride: 1 | 2;
  /** Input spatial side. */
  inSize: number;
  /** Output spatial side: ceil(inSize / stride) for a 3x3 conv with padding 1. */
  outSize: number;
}

/** The residual units in `body` order. */
export function iresnetUnits(c: IResNetConfig): IResNetUnit[] {
  const out: IResNetUnit[] = [];
  let inChannels = c.widths[0];
  let size = c.inputSize;
  for (let s = 0; s < c.widths.length; s++) {
    for (let u = 0; u < c.units[s]; u++) {
      const stride: 1 | 2 = u === 0 ? 2 : 1;
      const outSize = Math.floor((size - 1) / stride) + 1;
      out.push({ index: out.length, inChannels, outChannels: c.widths[s], stride, inSize: size, outSize });
      inChannels = c.widths[s];
      size = outSize;
    }
  }
  return out;
}

/** Spatial side of the last feature map (7 for 112x112 input and four stages). */
export function iresnetFinalSize(c: IResNetConfig): number {
  let size = c.inputSize;
  for (let s = 0; s < c.widths.length; s++) size = Math.floor((size - 1) / 2) + 1;
  return size;
}

/** Input width of the output Linear layer: C * H * W of the last feature map. */
export function iresnetFlattenSize(c: IResNetConfig): number {
  const s = iresnetFinalSize(c);
  return c.widths[c.widths.length - 1] * s * s;
}

/** A short human-readable description, e.g. "ir[64,128,256,512]x[2,2,2,2] -> 512". */
export function describeIResNetConfig(c: IResNetConfig): string {
  for (const arch of IRESNET_ARCHS) {
    const o = iresnetConfig(arch);
    if (sameConfig(o, c)) return arch;
  }
  return `ir[${c.widths}]x[${c.units}] ${c.inputSize}px -> ${c.embeddingSize}`;
}

export function sameConfig(a: IResNetConfig, b: IResNetConfig): boolean {
  return (
    a.widths.join() === b.widths.join() &&
    a.units.join() === b.units.join() &&
    a.embeddingSize === b.embeddingSize &&
    a.inputSize === b.inputSize &&
    a.bnEps === b.bnEps
  );
}
