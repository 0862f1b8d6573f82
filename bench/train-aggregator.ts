/**
 * Aggregator training throughput at the paper's settings: 20 sets per batch, T ~ U{1..20} per
 * batch, D = 512, K = 3, AdaFace head with 10,000 classes, dropout 0.1, clipping, AdamW (two
 * groups) — the loop's full step: sampling, gathering, forward, backward, clipping, update.
 * Features are synthetic (random unit vectors); the cost does not depend on their values.
 *
 *   npx tsx bench/train-aggregator.ts [--steps N] [--warmup N] [--classes C] [--backend wasm] [--json]
 *
 * The official PyTorch step on this machine (2 threads, same settings): 200 ms.
 */
import { parseArgs } from 'node:util';
import { Rng } from '@facecoreset/common';
import { initBackend } from '@facecoreset/model';
import { buildSetIndex, featureStoreFromArrays, gatherFeatures, modelTrainerFactory, paperAggregatorTrainConfig, SetSampler } from '@facecoreset/train';

const OFFICIAL_STEP_MS = 200;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '10' },
      classes: { type: 'string', default: '10000' },
      backend: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  const classes = Number(values.classes);
  const backend = await initBackend({ backend: values.backend, log: values.json ? null : undefined });
  const config = { ...paperAggregatorTrainConfig(), batches_per_epoch_fraction: 1 };
  const D = 512;
  const imagesPerClass = 4;
  const views = 2;
  // Synthetic table: `classes` identities × 4 images × 2 views of random unit vectors.
  const n = classes * imagesPerClass * views;
  const rng = Rng.stream(1, 'bench');
  const embedding = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += (embedding[i * D + d] = rng.float() - 0.5) ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < D; d++) embedding[i * D + d] *= inv;
  }
  const row = Float64Array.from({ length: n }, (_, i) => Math.floor(i / views));
  const view = Int8Array.from({ length: n }, (_, i) => i % views);
  const norm = Float32Array.from({ length: n }, () => 5 + 40 * rng.float());
  const store = featureStoreFromArrays(D, row, view, norm, embedding);
  const labels = Int32Array.from({ length: classes * imagesPerClass }, (_, r) => Math.floor(r / imagesPerClass));
  const index = buildSetIndex(store, labels);
  const sampler = new SetSampler(index, Int32Array.from({ length: classes }, (_, c) => c), {
    seed: config.seed,
    batchSize: config.batch_size,
    maxTemplateSize: config.max_template_size,
    maxClipSize: config.max_clip_size,
    batchesPerEpochFraction: 1,
  });
  const factory = modelTrainerFactory();
  const trainer = factory.create(factory.architecture(config, D, classes), config, config.seed);
  const lrs = { gamma: config.gamma_lr, other: config.lr };

  const sampleMs: number[] = [];
  const stepMs: number[] = [];
  const totalMs: number[] = [];
  const sizes: number[] = [];
  let pos = { epoch: 0, batch: 0 };
  for (let k = 0; k < warmup + steps; k++) {
    const t0 = performance.now();
    const batch = sampler.batch(pos);
    const { features, norms } = gatherFeatures(store, batch.featureRows);
    const t1 = performance.now();
    trainer.step({ features, norms, batch: batch.classes.length, setSize: batch.setSize, classes: batch.classes }, lrs, factory.randomness(config.seed, k, config.dropout));
    const t2 = performance.now();
    pos = sampler.advance(pos);
    if (k >= warmup) {
      sampleMs.push(t1 - t0);
      stepMs.push(t2 - t1);
      totalMs.push(t2 - t0);
      sizes.push(batch.setSize);
    }
  }
  trainer.dispose();
  const msPerStep = median(totalMs);
  const meanMs = totalMs.reduce((a, b) => a + b, 0) / totalMs.length;
  const result = {
    backend: backend.name,
    classes,
    batch: config.batch_size,
    max_template_size: config.max_template_size,
    steps,
    median_ms_per_step: +msPerStep.toFixed(1),
    mean_ms_per_step: +meanMs.toFixed(1),
    sets_per_s: +((config.batch_size * 1000) / meanMs).toFixed(1),
    median_sampling_ms: +median(sampleMs).toFixed(2),
    median_model_step_ms: +median(stepMs).toFixed(1),
    mean_set_size: +(sizes.reduce((a, b) => a + b, 0) / sizes.length).toFixed(1),
    official_pytorch_ms_per_step: OFFICIAL_STEP_MS,
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  const rows: [string, string][] = [
    ['backend', result.backend],
    ['settings', `B=${result.batch} sets, T~U{1..${result.max_template_size}} (mean ${result.mean_set_size}), D=512, K=3, ${classes} classes`],
    ['steps timed', `${steps} (after ${warmup} warm-up)`],
    ['ms per step (median / mean)', `${result.median_ms_per_step} / ${result.mean_ms_per_step}`],
    ['  of which sampling + gather', `${result.median_sampling_ms}`],
    ['  of which model step', `${result.median_model_step_ms}`],
    ['sets/s', `${result.sets_per_s}`],
    ['official PyTorch (2 threads)', `${OFFICIAL_STEP_MS} ms per step`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
}

main().catch((e) => {
  process.stderr.write(String(e instanceof Error ? e.stack : e) + '\n');
  process.exit(1);
});
