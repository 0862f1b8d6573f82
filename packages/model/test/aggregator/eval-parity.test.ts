/**
 * Eval-mode parity with the official TemplateAggregateModel (zero-noise outputs in
 * ../shared/fixtures/reference/aggregator), on both eval paths and both tfjs backends.
 * Tolerances (issue): unit aggregate ≤ 1e-5 abs, norm ≤ 1e-4 rel, identical indices; coreset rows
 * are exact float32 products n·f (equal); intermediates ≤ 1e-4 abs, except those downstream of the
 * coreset's norm encoding (≤ 2e-4): the encoding's argument 2π‖c‖ ≈ 300 has a float32 spacing of 3e-5,
 * so one ulp of difference in ‖c‖ (summation order) moves sin/cos by that much.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend';
import { FaceCoresetNet } from '../../src/aggregator/facecoresetnet';
import { encodeNorms, normEncodingFrequencies } from '../../src/aggregator/norm-encoding';
import { EVAL_CASES, checkpointStateDict, evalCase, floats, manifest, maxAbsDiff } from './fixtures';

const BACKENDS = ['wasm', 'cpu'] as const;

/** See the header: hooks downstream of the coreset's norm encoding get 2e-4. */
function hookTolerance(hook: string): number {
  return /core|self_attn1|norm1/.test(hook) ? 2e-4 : 1e-4;
}

function loadModel(): FaceCoresetNet {
  return FaceCoresetNet.fromStateDict(checkpointStateDict());
}

describe('norm encoding', () => {
  it('frequency table equals torch float32 within 1 ulp', () => {
    const ours = normEncodingFrequencies(512);
    const ref = floats('expected/pos_embed_dim_t_float32.npy');
    for (let j = 0; j < 512; j++) expect(Math.abs(ours[j] - ref[j])).toBeLessThanOrEqual(ref[j] * 2 ** -23);
  });

  it('template encoding (raw and after pos_trans_norm) matches the hooks of T100', () => {
    const model = loadModel();
    const c = evalCase('T100');
    const { raw, encoded } = encodeNorms(c.norms, 512, model.params['pos_trans_norm.weight'].data, model.params['pos_trans_norm.bias'].data, 1e-5);
    expect(maxAbsDiff(raw, c.intermediate('pos_embed_raw_template'))).toBeLessThan(1e-5);
    expect(maxAbsDiff(encoded, c.intermediate('pos_embed_ln_template'))).toBeLessThan(1e-4);
  });
});

describe.each(BACKENDS)('eval parity on %s', (backend) => {
  let model: FaceCoresetNet;
  beforeAll(async () => {
    await initBackend({ backend, log: null });
    model = loadModel();
  });
  afterAll(() => model.dispose());

  describe.each(['fused', 'tfjs'] as const)('%s path', (pathName) => {
    it.each(EVAL_CASES)('%s: aggregate, norm, coreset and indices', (name) => {
      const c = evalCase(name);
      const before = tf.memory().numTensors;
      const out = model.aggregate([{ features: c.features, norms: c.norms }], { path: pathName });
      const k = c.indices.length;
      expect(Array.from(out.indices.subarray(0, k))).toEqual(c.indices);
      expect(out.coresetSizes[0]).toBe(k);
      expect(maxAbsDiff(out.aggregate, c.aggregate)).toBeLessThanOrEqual(1e-5);
      expect(Math.abs(out.norm[0] - c.norm) / c.norm).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(out.coreset.subarray(0, k * 512), c.coreset)).toBe(0);
      // Nothing leaks besides the fused path's uploaded weights (created once).
      if (pathName === 'tfjs') expect(tf.memory().numTensors).toBe(before);
    });

    it('only_FPS on T20', () => {
      const c = evalCase('T20');
      const out = model.aggregate([{ features: c.features, norms: c.norms }], { path: pathName, onlyFps: true });
      const only = manifest().only_FPS_case;
      expect(maxAbsDiff(out.aggregate, floats(only.aggregated_feature_norm))).toBeLessThanOrEqual(1e-5);
      const refNorm = floats(only.norms)[0];
      expect(Math.abs(out.norm[0] - refNorm) / refNorm).toBeLessThanOrEqual(1e-4);
    });
  });

  it.each(EVAL_CASES)('fused, large-set kernels: %s', (name) => {
    // Large sets run selection's row products on tfjs and pool transposed features; force that path.
    const c = evalCase(name);
    const { output } = model.aggregateWithIntermediates([{ features: c.features, norms: c.norms }], { largeSetFrom: 1 });
    expect(Array.from(output.indices.subarray(0, c.indices.length))).toEqual(c.indices);
    expect(maxAbsDiff(output.aggregate, c.aggregate)).toBeLessThanOrEqual(1e-5);
  });

  it.each(EVAL_CASES)('%s: fused intermediates match the forward hooks', (name) => {
    const c = evalCase(name);
    const { intermediates } = model.aggregateWithIntermediates([{ features: c.features, norms: c.norms }]);
    const it0 = intermediates[0];
    // The reference logits are scaled by 1e4 in float32 (values ~3e5, float32 spacing 0.03).
    const scaled = Array.from(it0.selectionLogits, (v) => v * 1e4);
    expect(maxAbsDiff(scaled, c.scaledLogits)).toBeLessThan(0.1);
    const pairs: [string, Float32Array][] = [
      ['pos_embed_raw_template', it0.posEmbedRawTemplate],
      ['pos_embed_ln_template', it0.posEmbedLnTemplate],
      ['pos_embed_raw_core', it0.posEmbedRawCore],
      ['pos_embed_ln_core', it0.posEmbedLnCore],
      ['self_attn1_out', it0.selfAttnOut],
      ['norm1_out', it0.norm1Out],
      ['cross_attn1_out', it0.crossAttnOut],
      ['decoder_delta', it0.decoderDelta],
    ];
    for (const [hook, ours] of pairs) expect([hook, maxAbsDiff(ours, c.intermediate(hook)) < hookTolerance(hook)]).toEqual([hook, true]);
  });

  it.each(EVAL_CASES)('%s: tfjs intermediates match the forward hooks', (name) => {
    const c = evalCase(name);
    const T = c.T;
    tf.tidy(() => {
      const r = model.forwardTf(tf.tensor3d(c.features, [1, T, 512]), tf.tensor2d(c.norms, [1, T]), { mode: 'eval', intermediates: true });
      const scaled = Array.from(r.selectionLogits.dataSync(), (v) => v * 1e4);
      expect(maxAbsDiff(scaled, c.scaledLogits)).toBeLessThan(0.1);
      for (const hook of ['pos_embed_raw_template', 'pos_embed_ln_template', 'pos_embed_raw_core', 'pos_embed_ln_core', 'self_attn1_out', 'norm1_out', 'cross_attn1_out', 'decoder_delta']) {
        const ours = (r.intermediates as Record<string, tf.Tensor>)[hook].dataSync();
        expect([hook, maxAbsDiff(ours, c.intermediate(hook)) < hookTolerance(hook)]).toEqual([hook, true]);
      }
    });
  });
});
