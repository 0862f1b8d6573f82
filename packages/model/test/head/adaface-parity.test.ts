/**
 * AdaFace head parity with the official head.py (../shared/fixtures/reference/aggregator/head_only):
 * three consecutive calls with buffers carried over, logits ≤ 1e-4 relative (to the largest |logit|),
 * clamped cosines and margin scalers ≤ 1e-5, buffers ≤ 1e-6 relative, loss ≤ 1e-5 relative, and
 * the call-0 gradients of the mean cross-entropy w.r.t. embeddings and kernel ≤ 1e-4 relative L2.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend';
import { AdaFaceHead, crossEntropyTf } from '../../src/head/adaface';
import { checkpointStateDict, floats, ints, manifest, maxAbsDiff, relL2 } from '../aggregator/fixtures';

describe.each(['wasm', 'cpu'] as const)('AdaFace head parity on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, log: null });
  });

  it('three consecutive calls: logits, intermediates, buffers, losses, call-0 gradients', () => {
    const spec = manifest().head_only;
    const head = AdaFaceHead.fromStateDict(checkpointStateDict(), 'head.', { m: spec.m, h: spec.h, s: spec.s, tAlpha: spec.t_alpha });
    expect(head.classes).toBe(spec.classes);
    Object.assign(head.buffers, { t: spec.initial_buffers.t, batchMean: spec.initial_buffers.batch_mean, batchStd: spec.initial_buffers.batch_std });
    spec.calls.forEach((call: any, i: number) => {
      const e = floats(call.files.embeddings);
      const norms = floats(call.files.norms);
      const labels = ints(call.files.labels);
      const B = labels.length;
      const before = tf.memory().numTensors;
      const kernel = head.kernelTensor();
      const emb = tf.tensor2d(e, [B, 512]);
      let out: { logits: Float32Array; cosine: Float32Array; scaler: Float32Array; loss: number } | undefined;
      const lossFn = (embT: tf.Tensor, kT: tf.Tensor) => {
        const r = head.forwardTf(embT as tf.Tensor2D, norms, labels, kT as tf.Tensor2D);
        const loss = crossEntropyTf(r.logits, labels);
        out = { logits: r.logits.dataSync() as Float32Array, cosine: r.cosine.dataSync() as Float32Array, scaler: r.marginScaler, loss: loss.dataSync()[0] };
        return loss;
      };
      const { value, grads } = tf.valueAndGrads(lossFn)([emb, kernel]);
      const o = out as NonNullable<typeof out>;
      const refLogits = floats(call.files.logits_f64);
      const scale = Math.max(...Array.from(refLogits, Math.abs));
      expect(maxAbsDiff(o.logits, refLogits) / scale).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(o.logits, floats(call.files.logits))).toBeLessThanOrEqual(1e-4 * scale);
      expect(maxAbsDiff(o.cosine, floats(call.files.cosine_clamped))).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(o.scaler, floats(call.files.margin_scaler))).toBeLessThanOrEqual(1e-5);
      expect(Math.abs(head.buffers.batchMean - call.buffers_after.batch_mean[0]) / call.buffers_after.batch_mean[0]).toBeLessThanOrEqual(1e-6);
      expect(Math.abs(head.buffers.batchStd - call.buffers_after.batch_std[0]) / call.buffers_after.batch_std[0]).toBeLessThanOrEqual(1e-6);
      expect(head.buffers.t).toBe(call.buffers_after.t[0]);
      expect(Math.abs(o.loss - call.loss_f64) / call.loss_f64).toBeLessThanOrEqual(1e-5);
      if (i === 0) {
        expect(relL2(grads[0].dataSync(), floats(call.files.grad_embeddings))).toBeLessThanOrEqual(1e-4);
        expect(relL2(grads[1].dataSync(), floats(call.files.grad_kernel))).toBeLessThanOrEqual(1e-4);
      }
      tf.dispose([value, ...grads, emb, kernel]);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
  it('the training forward (kernel outside the tape) gives the same call-0 logits, buffers and gradients', () => {
    const spec = manifest().head_only;
    const head = AdaFaceHead.fromStateDict(checkpointStateDict(), 'head.', { m: spec.m, h: spec.h, s: spec.s, tAlpha: spec.t_alpha });
    Object.assign(head.buffers, { t: spec.initial_buffers.t, batchMean: spec.initial_buffers.batch_mean, batchStd: spec.initial_buffers.batch_std });
    const call = spec.calls[0];
    const labels = ints(call.files.labels);
    const B = labels.length;
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const kernel = head.prepareTrainingKernel();
      let kernelGradient: (() => Float32Array) | undefined;
      let logits: Float32Array | undefined;
      const { grads } = tf.valueAndGrads((e: tf.Tensor) => {
        const r = head.trainingForwardTf(e as tf.Tensor2D, floats(call.files.norms), labels, kernel);
        kernelGradient = r.kernelGradient;
        logits = r.logits.dataSync() as Float32Array;
        return crossEntropyTf(r.logits, labels);
      })([tf.tensor2d(floats(call.files.embeddings), [B, 512])]);
      const refLogits = floats(call.files.logits_f64);
      expect(maxAbsDiff(logits as Float32Array, refLogits) / Math.max(...Array.from(refLogits, Math.abs))).toBeLessThanOrEqual(1e-4);
      expect(relL2(grads[0].dataSync(), floats(call.files.grad_embeddings))).toBeLessThanOrEqual(1e-4);
      expect(relL2((kernelGradient as () => Float32Array)(), floats(call.files.grad_kernel))).toBeLessThanOrEqual(1e-4);
    });
    expect(head.buffers.batchMean).toBeCloseTo(call.buffers_after.batch_mean[0], 5);
    expect(tf.memory().numTensors).toBe(before);
  });
});
