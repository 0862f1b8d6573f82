/**
 * IR-18 eval forward vs the official code's outputs (../shared/fixtures/reference/backbone):
 * preprocessing, per-block activations, embeddings, norms, flip test and the three flip fusions.
 * Tolerances: cosine >= 0.99999 per embedding, norms 1e-4 relative, activations 1e-5 relative to
 * the tensor's largest magnitude (the reference's own float32-vs-float64 spread is <= 1.1e-6).
 * The cpu backend is ~50x slower than wasm, so on cpu only image 0 runs (all checks still apply).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import {
  FLIP_FUSION_METHODS,
  IResNetInference,
  IResNetWeights,
  backboneInputFromRgb,
  describeIResNetConfig,
  flipImagesHorizontally,
  fuseFlipFeatures,
  importIResNetStateDict,
} from '../src/backbone';
import { fixtureFloats, fixtureImages, ir18StateDict, maxRelToMax, nchwToNhwc } from './backbone-fixtures';

const S = 112;
const D = 512;

let weights: IResNetWeights;
let input: Float32Array; // [4, 112, 112, 3] NHWC

beforeAll(() => {
  weights = importIResNetStateDict(ir18StateDict(), { file: 'ir18_random_fp16.ckpt' });
  const images = fixtureImages();
  input = new Float32Array(4 * S * S * 3);
  images.forEach((im, i) => input.set(backboneInputFromRgb(im.rgba, im.height, im.width, 4), i * S * S * 3));
});

it('reads the checkpoint as ir_18 under the model. prefix with float16 values widened exactly', () => {
  expect(describeIResNetConfig(weights.config)).toBe('ir_18');
  expect(weights.counters.get('body.0.res_layer.0.num_batches_tracked')).toBe(400000);
  expect(weights.tensors.get('output_layer.3.weight')!.length).toBe(512 * 25088);
});

it('preprocesses the PNGs to the official BGR (x/255 - 0.5)/0.5 tensor bit for bit', () => {
  const expected = nchwToNhwc(fixtureFloats('inputs/input_bgr_normalized.npy'), [4, 3, S, S]);
  expect(input.length).toBe(expected.length);
  let mismatches = 0;
  for (let i = 0; i < input.length; i++) if (input[i] !== expected[i]) mismatches++;
  expect(mismatches).toBe(0);
});

function cosine(a: ArrayLike<number>, b: ArrayLike<number>, off: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let d = 0; d < D; d++) {
    ab += a[off + d] * b[off + d];
    aa += a[off + d] ** 2;
    bb += b[off + d] ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

function expectEmbeddings(embedding: Float32Array, norm: Float32Array, expEmb: Float32Array, expNorm: Float32Array, count: number): void {
  for (let b = 0; b < count; b++) {
    expect(cosine(embedding, expEmb, b * D)).toBeGreaterThanOrEqual(0.99999);
    expect(Math.abs(norm[b] - expNorm[b]) / expNorm[b]).toBeLessThanOrEqual(1e-4);
  }
}

const INTERMEDIATES: [string, string, number[]][] = [
  ['input_layer', 'input_layer_out', [64, 112, 112]],
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((i): [string, string, number[]] => [`body.${i}`, `body${i}_out`, [[64, 64, 128, 128, 256, 256, 512, 512][i], ...[56, 56, 28, 28, 14, 14, 7, 7].map((s) => [s, s])[i]]]),
];

describe.each([
  ['wasm', 4],
  ['cpu', 1],
])('on %s (%i images)', (backend, count) => {
  let model: IResNetInference;
  let embedding: Float32Array;
  let norm: Float32Array;
  let flipped: { embedding: Float32Array; norm: Float32Array };
  let flipModelResult: { embedding: Float32Array; norm: Float32Array } | undefined;
  const acts = new Map<string, Float32Array>();

  beforeAll(async () => {
    await initBackend({ backend, log: null });
    model = IResNetInference.fromWeights(weights);
    const run = (data: Float32Array, keep: boolean) => {
      const x = tf.tensor4d(data.subarray(0, count * S * S * 3), [count, S, S, 3]);
      const out = model.forward(x, { intermediates: keep });
      const res = { embedding: out.embedding.dataSync() as Float32Array, norm: out.norm.dataSync() as Float32Array };
      for (const [k, t] of out.intermediates ?? []) acts.set(k, t.dataSync() as Float32Array);
      tf.dispose([x, out.embedding, out.norm, ...(out.intermediates?.values() ?? [])]);
      return res;
    };
    ({ embedding, norm } = run(input, true));
    flipped = run(flipImagesHorizontally(input, 4, S, S, 3), false);
    // The plain-array path runs the same kernels; checked once, on the faster backend.
    if (backend === 'wasm') flipModelResult = model.embedWithFlip(input.subarray(0, count * S * S * 3), count);
    model.dispose();
  }, 600_000); // the cpu backend needs ~10 s per image, far more on a busy machine

  it('matches every intermediate activation within 1e-5 of the tensor max', () => {
    const errors: Record<string, number> = {};
    for (const [name, file, [c, h, w]] of INTERMEDIATES) {
      const full = fixtureFloats(`expected/intermediates/${file}.npy`);
      // Early blocks are stored for image 0 only; body.7 for all four.
      const n = file === 'body7_out' ? count : 1;
      const expected = nchwToNhwc(full.subarray(0, n * c * h * w), [n, c, h, w]);
      errors[name] = maxRelToMax(acts.get(name)!.subarray(0, expected.length), expected);
    }
    const pre = fixtureFloats('expected/intermediates/output_layer_out.npy').subarray(0, count * D);
    errors.output_layer = maxRelToMax(acts.get('output_layer')!.subarray(0, count * D), pre);
    expect(Object.keys(errors)).toHaveLength(10);
    // Listed by name so that a failure says which block drifted.
    expect(Object.entries(errors).filter(([, e]) => !(e <= 1e-5))).toEqual([]);
  });

  it('matches the embeddings (cosine >= 0.99999) and norms (1e-4 relative)', () => {
    expectEmbeddings(embedding, norm, fixtureFloats('expected/embeddings.npy'), fixtureFloats('expected/norms.npy'), count);
  });

  it('matches the flipped batch and the three flip fusions', () => {
    expectEmbeddings(flipped.embedding, flipped.norm, fixtureFloats('expected/flip_embeddings.npy'), fixtureFloats('expected/flip_norms.npy'), count);
    const pre = fixtureFloats('expected/intermediates/flip_output_layer_out.npy').subarray(0, count * D);
    expect(maxRelToMax(Float32Array.from(pre, (_, i) => flipped.embedding[i] * flipped.norm[Math.floor(i / D)]), pre)).toBeLessThanOrEqual(1e-5);
    const files: Record<string, [string, string]> = {
      pre_norm_vector_add: ['flip_fused_pre_norm_vector_add', 'flip_fused_norm_pre_norm_vector_add'],
      norm_weighted_avg: ['flip_fused_norm_weighted_avg', 'flip_fused_norm_norm_weighted_avg'],
      average: ['flip_fused_average', 'flip_fused_norm_average'],
    };
    // The convenience path used by extraction gives the same default fusion.
    const viaModel = flipModelResult ?? fuseFlipFeatures({ embedding, norm }, flipped, 'pre_norm_vector_add');
    expectEmbeddings(viaModel.embedding, viaModel.norm, fixtureFloats('expected/flip_fused_pre_norm_vector_add.npy'), fixtureFloats('expected/flip_fused_norm_pre_norm_vector_add.npy'), count);
    for (const method of FLIP_FUSION_METHODS) {
      const fused = fuseFlipFeatures({ embedding, norm }, flipped, method);
      const [embFile, normFile] = files[method];
      expectEmbeddings(fused.embedding, fused.norm, fixtureFloats(`expected/${embFile}.npy`), fixtureFloats(`expected/${normFile}.npy`), count);
    }
  });
});
