/**
 * Gradients of the tfjs kernels our differentiable code uses.
 *
 * Why: tfjs-core's CommonJS build (the one Node loads) registers no gradients at all; the union
 * package @tensorflow/tfjs normally does it. Only kernels without a registered gradient are
 * registered here, so an installation that brings tfjs's own set keeps it. Every rule has a
 * finite-difference test (test/tf-gradients.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';

type Attrs = Record<string, unknown>;

/** Sums dy over the axes along which an input of `shape` was broadcast, then reshapes to it. */
export function unbroadcast(dy: tf.Tensor, shape: number[]): tf.Tensor {
  const lead = dy.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dy.rank; i++) {
    const inDim = i < lead ? 1 : shape[i - lead];
    if (inDim === 1 && dy.shape[i] !== 1) axes.push(i);
    else if (i < lead) axes.push(i);
  }
  return tf.reshape(axes.length ? tf.sum(dy, axes) : dy, shape);
}

function axesOf(axis: unknown, rank: number): number[] {
  if (axis === undefined || axis === null) return [...Array(rank).keys()];
  const list = Array.isArray(axis) ? (axis as number[]) : [axis as number];
  return list.map((a) => (a < 0 ? a + rank : a));
}

/** dy of a reduction (kept dims or not) reshaped so it broadcasts against the input. */
function expandReduced(dy: tf.Tensor, inShape: number[], axes: number[]): tf.Tensor {
  const shape = inShape.map((d, i) => (axes.includes(i) ? 1 : d));
  return tf.reshape(dy, shape);
}

function binary(kernelName: string, grads: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => [tf.Tensor, tf.Tensor]): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const d = dy as tf.Tensor;
      return {
        a: () => unbroadcast(grads(d, a, b)[0], a.shape),
        b: () => unbroadcast(grads(d, a, b)[1], b.shape),
      };
    },
  };
}

function unary(kernelName: string, grad: (dy: tf.Tensor, x: tf.Tensor, y: tf.Tensor | undefined) => tf.Tensor, saveOutput = false): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    outputsToSave: saveOutput ? [true] : undefined,
    gradFunc: (dy, saved) => ({ x: () => grad(dy as tf.Tensor, saved[0], saved[1]) }),
  };
}

const isFloat = (x: tf.Tensor) => x.dtype === 'float32';

const CONFIGS: tf.GradConfig[] = [
  binary('Add', (dy) => [dy, dy]),
  binary('Sub', (dy) => [dy, tf.neg(dy)]),
  binary('Multiply', (dy, a, b) => [tf.mul(dy, b), tf.mul(dy, a)]),
  binary('RealDiv', (dy, a, b) => [tf.div(dy, b), tf.neg(tf.div(tf.mul(dy, a), tf.square(b)))]),
  // Ties: the whole gradient goes to `a` (as tfjs does).
  binary('Maximum', (dy, a, b) => {
    const m = tf.cast(tf.greaterEqual(a, b), 'float32');
    return [tf.mul(dy, m), tf.mul(dy, tf.sub(1, m))];
  }),
  binary('Minimum', (dy, a, b) => {
    const m = tf.cast(tf.lessEqual(a, b), 'float32');
    return [tf.mul(dy, m), tf.mul(dy, tf.sub(1, m))];
  }),
  unary('Neg', (dy) => tf.neg(dy)),
  unary('Identity', (dy) => tf.clone(dy)),
  unary('Cast', (dy, x) => (isFloat(x) ? tf.clone(dy) : tf.zerosLike(x))),
  unary('Square', (dy, x) => tf.mul(dy, tf.mul(x, 2))),
  unary('Sqrt', (dy, _x, y) => tf.div(dy, tf.mul(y as tf.Tensor, 2)), true),
  unary('Exp', (dy, _x, y) => tf.mul(dy, y as tf.Tensor), true),
  unary('Log', (dy, x) => tf.div(dy, x)),
  unary('Sin', (dy, x) => tf.mul(dy, tf.cos(x))),
  unary('Cos', (dy, x) => tf.neg(tf.mul(dy, tf.sin(x)))),
  unary('Acos', (dy, x) => tf.neg(tf.div(dy, tf.sqrt(tf.sub(1, tf.square(x)))))),
  {
    kernelName: 'ClipByValue',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { clipValueMin, clipValueMax } = attrs as Attrs as { clipValueMin: number; clipValueMax: number };
      const inside = tf.logicalAnd(tf.greaterEqual(x, clipValueMin), tf.lessEqual(x, clipValueMax));
      return { x: () => tf.where(inside, dy as tf.Tensor, tf.zerosLike(dy as tf.Tensor)) };
    },
  },
  {
    kernelName: 'Reshape',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.reshape(dy as tf.Tensor, saved[0].shape) }),
  },
  {
    kernelName: 'ExpandDims',
    inputsToSave: ['input'],
    gradFunc: (dy, saved) => ({ input: () => tf.reshape(dy as tf.Tensor, saved[0].shape) }),
  },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _saved, attrs) => {
      const perm = (attrs as Attrs).perm as number[];
      const inverse = new Array<number>(perm.length);
      perm.forEach((p, i) => (inverse[p] = i));
      return { x: () => tf.transpose(dy as tf.Tensor, inverse) };
    },
  },
  {
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axes = axesOf((attrs as Attrs).axis, x.rank);
      return { x: () => tf.mul(expandReduced(dy as tf.Tensor, x.shape, axes), tf.onesLike(x)) };
    },
  },
  {
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [y] = saved;
      const dim = (attrs as Attrs).dim as number;
      const d = dy as tf.Tensor;
      return { logits: () => tf.mul(y, tf.sub(d, tf.sum(tf.mul(d, y), dim, true))) };
    },
  },
  {
    kernelName: 'Concat',
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const axis = axesOf((attrs as Attrs).axis, saved[0].rank)[0];
      const sizes = saved.map((t) => t.shape[axis]);
      const parts = tf.split(dy as tf.Tensor, sizes, axis);
      return parts.map((p) => () => p) as unknown as Record<string, () => tf.Tensor>;
    },
  },
  {
    kernelName: 'SplitV',
    gradFunc: (dy, _saved, attrs) => ({ x: () => tf.concat(dy as tf.Tensor[], (attrs as Attrs).axis as number) }),
  },
  {
    kernelName: 'Slice',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const a = attrs as Attrs;
      const beginRaw = a.begin as number | number[];
      const sizeRaw = a.size as number | number[] | undefined;
      const begin = x.shape.map((_, i) => (Array.isArray(beginRaw) ? (beginRaw[i] ?? 0) : i === 0 ? beginRaw : 0));
      const size = x.shape.map((d, i) => {
        const s = sizeRaw === undefined ? -1 : Array.isArray(sizeRaw) ? (sizeRaw[i] ?? -1) : i === 0 ? sizeRaw : -1;
        return s === -1 ? d - begin[i] : s;
      });
      return { x: () => tf.pad(dy as tf.Tensor, x.shape.map((d, i) => [begin[i], d - begin[i] - size[i]] as [number, number])) };
    },
  },
];

let registered = false;

/** Registers the rules above for every kernel that has no gradient yet. Idempotent. */
export function registerMissingGradients(): void {
  if (registered) return;
  registered = true;
  for (const c of CONFIGS) if (!tf.getGradient(c.kernelName)) tf.registerGradient(c);
}

/** Kernel names this module can differentiate (for tests). */
export const GRADIENT_KERNELS = CONFIGS.map((c) => c.kernelName);
