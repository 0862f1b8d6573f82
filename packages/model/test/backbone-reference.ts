/**
 * A deliberately plain IResNet eval forward for tests: unfolded BatchNorms (tf.batchNorm), explicit
 * padding, PyTorch-layout weights converted on the fly, NCHW flatten before the Linear layer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { IResNetWeights, iresnetUnits } from '../src/backbone';

function t(w: IResNetWeights, name: string, shape?: number[]): tf.Tensor {
  const data = w.tensors.get(name);
  if (!data) throw new Error(`missing ${name}`);
  return tf.tensor(data, shape ?? [data.length]);
}

/** OIHW -> HWIO */
function filter(w: IResNetWeights, name: string, o: number, i: number, k: number): tf.Tensor4D {
  return tf.transpose(t(w, name, [o, i, k, k]), [2, 3, 1, 0]) as tf.Tensor4D;
}

function bn(w: IResNetWeights, x: tf.Tensor, name: string, affine = true): tf.Tensor {
  return tf.batchNorm(
    x,
    t(w, `${name}.running_mean`) as tf.Tensor1D,
    t(w, `${name}.running_var`) as tf.Tensor1D,
    affine ? (t(w, `${name}.bias`) as tf.Tensor1D) : undefined,
    affine ? (t(w, `${name}.weight`) as tf.Tensor1D) : undefined,
    w.config.bnEps,
  );
}

/** @param x [B, H, W, 3] -> pre-normalisation embedding [B, D] and unit outputs */
export function referenceForward(w: IResNetWeights, x: tf.Tensor4D): { pre: tf.Tensor2D; units: tf.Tensor4D[] } {
  const c = w.config;
  const units: tf.Tensor4D[] = [];
  let h = tf.conv2d(x, filter(w, 'input_layer.0.weight', c.widths[0], 3, 3), 1, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  h = tf.prelu(bn(w, h, 'input_layer.1') as tf.Tensor4D, t(w, 'input_layer.2.weight')) as tf.Tensor4D;
  for (const u of iresnetUnits(c)) {
    const p = `body.${u.index}`;
    let r = bn(w, h, `${p}.res_layer.0`) as tf.Tensor4D;
    r = tf.conv2d(r, filter(w, `${p}.res_layer.1.weight`, u.outChannels, u.inChannels, 3), 1, [[0, 0], [1, 1], [1, 1], [0, 0]]);
    r = tf.prelu(bn(w, r, `${p}.res_layer.2`), t(w, `${p}.res_layer.3.weight`)) as tf.Tensor4D;
    r = tf.conv2d(r, filter(w, `${p}.res_layer.4.weight`, u.outChannels, u.outChannels, 3), u.stride, [[0, 0], [1, 1], [1, 1], [0, 0]]);
    r = bn(w, r, `${p}.res_layer.5`) as tf.Tensor4D;
    let s: tf.Tensor4D;
    if (u.inChannels === u.outChannels) {
      const [b, hh, ww, ch] = h.shape;
      s = u.stride === 1 ? h : (tf.stridedSlice(h, [0, 0, 0, 0], [b, hh, ww, ch], [1, 2, 2, 1]) as tf.Tensor4D);
    } else {
      s = tf.conv2d(h, filter(w, `${p}.shortcut_layer.0.weight`, u.outChannels, u.inChannels, 1), u.stride, 'valid');
      s = bn(w, s, `${p}.shortcut_layer.1`) as tf.Tensor4D;
    }
    h = tf.add(r, s);
    units.push(h);
  }
  const flat = tf.reshape(tf.transpose(bn(w, h, 'output_layer.0'), [0, 3, 1, 2]), [h.shape[0], -1]) as tf.Tensor2D; // C, H, W order
  const lin = tf.add(tf.matMul(flat, tf.transpose(t(w, 'output_layer.3.weight', [c.embeddingSize, flat.shape[1]]))), t(w, 'output_layer.3.bias'));
  return { pre: bn(w, lin, 'output_layer.4', false) as tf.Tensor2D, units };
}
