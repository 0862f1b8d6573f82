/**
 * Backbone training-step speed: one training-mode forward + backward (loss Σ pre·R) of a small
 * IResNet through TrainableIResNet on the chosen backend, next to the same step in PyTorch
 * (bench/torch_backbone.py --train) when python3 can import torch. Median of --runs after a warm-up.
 * Images per CPU-second (all threads) beside wall-clock images/s, as in bench/extract.ts.
 *
 *   npx tsx bench/backbone-train.ts [--widths 16,32,64,128] [--units 1,1,1,1] [--embedding 128]
 *     [--sizes 112,56] [--batch 32] [--runs 3] [--backend wasm] [--python /usr/bin/python3] [--no-torch]
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { TrainableIResNet, initBackend, initIResNetWeights, iresnetConfig } from '@facecoreset/model';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface StepTime {
  ms: number;
  cpuMs: number;
}

function oursStep(widths: number[], units: number[], embeddingSize: number, size: number, batch: number, runs: number): StepTime {
  const net = TrainableIResNet.fromWeights(initIResNetWeights(iresnetConfig({ widths, units, embeddingSize, inputSize: size }), 1));
  const x = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
  const r = tf.randomNormal([batch, embeddingSize]);
  // The loss carries its own gradient so that no registered gradient is needed.
  const loss = tf.customGrad((...a: (tf.Tensor | tf.GradSaveFunc)[]) => ({ value: tf.sum(tf.mul(a[0] as tf.Tensor, r)), gradFunc: (dy: tf.Tensor) => tf.mul(dy, r) }));
  const step = (): StepTime => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const { value, grads } = tf.variableGrads(() => loss(net.forwardTrain(x)) as tf.Scalar, net.variables());
    for (const g of Object.values(grads)) g.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
    const c = process.cpuUsage(c0);
    return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  };
  step();
  const times = Array.from({ length: runs }, step);
  tf.dispose([x, r]);
  net.dispose();
  return { ms: median(times.map((t) => t.ms)), cpuMs: median(times.map((t) => t.cpuMs)) };
}

function torchStep(python: string | undefined, args: string[]): StepTime | undefined {
  if (!python) return undefined;
  const r = spawnSync(python, [path.join(__dirname, 'torch_backbone.py'), '--train', ...args], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { ms: res.batch_ms, cpuMs: res.batch_cpu_ms };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      widths: { type: 'string', default: '16,32,64,128' },
      units: { type: 'string', default: '1,1,1,1' },
      embedding: { type: 'string', default: '128' },
      sizes: { type: 'string', default: '112,56' },
      batch: { type: 'string', default: '32' },
      runs: { type: 'string', default: '3' },
      backend: { type: 'string' },
      threads: { type: 'string', default: '2' },
      python: { type: 'string' },
      'no-torch': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const widths = values.widths.split(',').map(Number);
  const units = values.units.split(',').map(Number);
  const embedding = Number(values.embedding);
  const batch = Number(values.batch);
  const runs = Number(values.runs);
  const choice = await initBackend({ backend: values.backend });
  const candidates = values.python ? [values.python] : ['python3', '/usr/bin/python3'];
  const python = values['no-torch'] ? undefined : candidates.find((py) => spawnSync(py, ['-c', 'import torch']).status === 0);
  console.log(`IResNet widths [${widths}] units [${units}] embedding ${embedding}, batch ${batch}, training step (forward + backward)`);
  console.log(`| size | ours (${choice.name}) img/s | img/CPU-s | PyTorch img/s | img/CPU-s | ours/PyTorch (CPU) |`);
  console.log('|-----:|------:|------:|------:|------:|------:|');
  for (const size of values.sizes.split(',').map(Number)) {
    const ours = oursStep(widths, units, embedding, size, batch, runs);
    const torch = torchStep(python, [
      ...['--widths', values.widths, '--units', values.units, '--embedding', values.embedding, '--size', String(size)],
      ...['--batch', String(batch), '--runs', String(runs), '--threads', values.threads],
    ]);
    const ips = (ms: number) => ((batch / ms) * 1000).toFixed(1);
    const cells = [ips(ours.ms), ips(ours.cpuMs), torch ? ips(torch.ms) : '-', torch ? ips(torch.cpuMs) : '-', torch ? (torch.cpuMs / ours.cpuMs).toFixed(2) + 'x' : '-'];
    console.log(`| ${size} | ${cells.join(' | ')} |`);
  }
  if (!python && !values['no-torch']) console.log('PyTorch: no python3 that can import torch');
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
