/**
 * Backbone extraction speed: images/s of the eval-mode IResNet forward at 112x112 on the chosen
 * tfjs backend, next to the same network in PyTorch (bench/torch_backbone.py) when python3 can
 * import torch. Random weights (speed does not depend on them); median of --runs batches after
 * one warm-up batch. Besides wall-clock images/s, images per CPU-second (all threads of the process)
 * are printed: on a machine shared with other work, wall time measures the neighbours as much as
 * the code, CPU time much less so.
 *
 * "threads" is 1 for IResNetInference in the main thread, N for IResNetWorkerPool with N workers.
 *
 *   npx tsx bench/extract.ts [--archs ir_18,ir_101] [--batch 16] [--runs 5] [--workers 1,2] [--backend wasm] [--threads 2]
 *     [--python /usr/bin/python3] [--no-torch] [--json]
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { IResNetInference, IResNetWorkerPool, initBackend, initIResNetWeights, iresnetConfig, isIResNetArch } from '@facecoreset/model';

interface Row {
  arch: string;
  threads: number;
  batch: number;
  backend: string;
  images_per_s: number;
  batch_ms: number;
  images_per_cpu_s: number;
  torch_images_per_s?: number;
  torch_batch_ms?: number;
  torch_images_per_cpu_s?: number;
  torch_note?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** One thread: IResNetInference.forward on tensors; more: IResNetWorkerPool.embed on arrays. */
async function timeOurs(arch: string, batch: number, runs: number, workers: number, backend: string): Promise<{ ms: number; cpuMs: number }> {
  const weights = initIResNetWeights(iresnetConfig(arch as never), 1);
  const images = tf.tidy(() => tf.randomNormal([batch, 112, 112, 3]).dataSync() as Float32Array);
  let embed: () => Promise<void>;
  let close: () => Promise<void>;
  if (workers > 1) {
    const pool = await IResNetWorkerPool.create(weights, { workers, backend: backend as 'wasm' | 'cpu' });
    embed = async () => void (await pool.embed(images, batch));
    close = () => pool.close();
  } else {
    const model = IResNetInference.fromWeights(weights);
    const x = tf.tensor4d(images, [batch, 112, 112, 3]);
    embed = async () => {
      const out = model.forward(x);
      await out.embedding.data();
      await out.norm.data();
      tf.dispose([out.embedding, out.norm]);
    };
    close = async () => {
      x.dispose();
      model.dispose();
    };
  }
  const once = async () => {
    const t0 = performance.now();
    const c0 = process.cpuUsage(); // all threads of the process, workers included
    await embed();
    const c = process.cpuUsage(c0);
    return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  };
  await once();
  const times: { ms: number; cpuMs: number }[] = [];
  for (let i = 0; i < runs; i++) times.push(await once());
  await close();
  return { ms: median(times.map((t) => t.ms)), cpuMs: median(times.map((t) => t.cpuMs)) };
}

/** The first interpreter that can import torch (Debian's python3-torch lives in /usr/bin/python3). */
function findTorchPython(candidates: string[]): string | undefined {
  return candidates.find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
}

function timeTorch(python: string | undefined, arch: string, batch: number, runs: number, threads: number): { ms?: number; cpuMs?: number; note?: string } {
  if (!python) return { note: 'no python3 that can import torch' };
  const script = path.join(__dirname, 'torch_backbone.py');
  const r = spawnSync(python, [script, '--arch', arch, '--batch', String(batch), '--runs', String(runs), '--threads', String(threads)], { encoding: 'utf8' });
  if (r.status !== 0) return { note: `torch run failed: ${(r.stderr || '').trim().split('\n').pop()}` };
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { ms: res.batch_ms, cpuMs: res.batch_cpu_ms, note: `torch ${res.torch}, ${res.threads} threads` };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      archs: { type: 'string', default: 'ir_18,ir_101' },
      batch: { type: 'string', default: '16' },
      runs: { type: 'string', default: '5' },
      backend: { type: 'string' },
      threads: { type: 'string', default: '2' },
      workers: { type: 'string', default: '1,2' },
      json: { type: 'boolean', default: false },
      'no-torch': { type: 'boolean', default: false },
      python: { type: 'string' },
    },
    strict: true,
  });
  const archs = values.archs.split(',');
  for (const a of archs) if (!isIResNetArch(a)) throw new Error(`unknown arch '${a}'`);
  const batch = Number(values.batch);
  const runs = Number(values.runs);
  const choice = await initBackend({ backend: values.backend });
  const python = values['no-torch'] ? undefined : findTorchPython(values.python ? [values.python] : ['python3', '/usr/bin/python3']);
  const rows: Row[] = [];
  const workerCounts = values.workers.split(',').map(Number);
  for (const arch of archs) {
    const t = values['no-torch'] ? { note: undefined } : timeTorch(python, arch, batch, runs, Number(values.threads));
    for (const workers of workerCounts) {
      const ours = await timeOurs(arch, batch, runs, workers, choice.name);
      const row: Row = {
        arch,
        threads: workers,
        batch,
        backend: choice.name,
        images_per_s: (batch / ours.ms) * 1000,
        batch_ms: ours.ms,
        images_per_cpu_s: (batch / ours.cpuMs) * 1000,
        torch_note: t.note,
      };
      if (t.ms !== undefined && t.cpuMs !== undefined) {
        row.torch_batch_ms = t.ms;
        row.torch_images_per_s = (batch / t.ms) * 1000;
        row.torch_images_per_cpu_s = (batch / t.cpuMs) * 1000;
      }
      rows.push(row);
    }
    if (!values.json) process.stderr.write(`done ${arch}\n`);
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({ backend: choice.name, rows }) + '\n');
    return;
  }
  const header = ['arch', 'batch', 'threads', `ours (${choice.name}) img/s`, 'img/CPU-s', 'PyTorch img/s', 'img/CPU-s', 'ours/PyTorch (wall)'];
  const lines = rows.map((r) => [
    r.arch,
    String(r.batch),
    String(r.threads),
    r.images_per_s.toFixed(2),
    r.images_per_cpu_s.toFixed(2),
    r.torch_images_per_s?.toFixed(2) ?? '-',
    r.torch_images_per_cpu_s?.toFixed(2) ?? '-',
    r.torch_images_per_s ? (r.images_per_s / r.torch_images_per_s).toFixed(2) + 'x' : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => c.padStart(widths[i])).join(' | ') + ' |';
  console.log(fmt(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const l of lines) console.log(fmt(l));
  const notes = [...new Set(rows.map((r) => r.torch_note).filter(Boolean))];
  if (notes.length) console.log(`PyTorch: ${notes.join('; ')}`);
  const load = os.loadavg()[0];
  console.log(`load average at the end: ${load.toFixed(1)} on ${os.cpus().length} cores${load > os.cpus().length ? ' (shared machine: trust the CPU-second columns more)' : ''}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
