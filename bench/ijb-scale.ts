/**
 * IJB-C-scale evaluation benchmark.
 *
 * Generates an IJB-C-sized benchmark in the official formats (469,375 face rows of 512 float32
 * features with norms in the official pickle layout; 23,124 templates with a long-tailed size
 * distribution of stills and video clips; 15,658,489 pairs of which 19,557 genuine) into a temp
 * folder, then runs the full 1:1 verification from those files — once with FaceCoresetNet (the
 * reference fixtures' aggregator checkpoint: same architecture, random weights) and once with the
 * mean baseline — each in a fresh process, printing wall time per phase and peak RSS.
 *
 *   npx tsx bench/ijb-scale.ts [--dir <folder>] [--keep] [--methods facecoresetnet,mean,norm-weighted] [--json]
 *
 * Floors on the 2-core reference machine: < 60 s end to end from the pickle for FaceCoresetNet,
 * peak RSS < 4 GB.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateMethod, loadFaceCoresetNetAggregator, loadOfficialInputs, meanAggregator, normWeightedAggregator, type Aggregator } from '@facecoreset/eval';
import { float32Array, writeNumpyDictPickleFile } from '../packages/eval/test/numpy-pickle-writer';

const ROWS = 469_375;
const TEMPLATES = 23_124;
const SUBJECTS = 3_531;
const PAIRS = 15_658_489;
const GENUINE = 19_557;
const DIM = 512;
const CHECKPOINT = path.resolve(__dirname, '../../shared/fixtures/reference/aggregator/facecoresetnet_random.ckpt');

/** xorshift128+ in [0, 1): fast enough for 240 M draws. */
function rng(seed: number): () => number {
  let s0 = (seed * 2654435761) >>> 0 || 1;
  let s1 = (seed ^ 0x9e3779b9) >>> 0 || 2;
  return () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    return ((s0 + s1) >>> 0) / 4294967296;
  };
}

/** Template sizes: log-normal (median ~6, long tail of video templates), scaled to sum to ROWS. */
function templateSizes(rand: () => number): Int32Array {
  const raw = new Float64Array(TEMPLATES);
  for (let t = 0; t < TEMPLATES; t++) {
    const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    raw[t] = Math.min(3000, Math.exp(1.8 + 1.3 * g));
  }
  const scale = ROWS / raw.reduce((a, b) => a + b, 0);
  const sizes = Int32Array.from(raw, (v) => Math.max(1, Math.round(v * scale)));
  let diff = ROWS - sizes.reduce((a, b) => a + b, 0);
  while (diff !== 0) {
    const t = Math.floor(rand() * TEMPLATES);
    if (diff > 0) {
      sizes[t]++;
      diff--;
    } else if (sizes[t] > 1) {
      sizes[t]--;
      diff++;
    }
  }
  return sizes;
}

function writeLines(file: string, count: number, line: (i: number) => string): void {
  const fd = fs.openSync(file, 'w');
  let buf: string[] = [];
  for (let i = 0; i < count; i++) {
    buf.push(line(i));
    if (buf.length === 200_000) {
      fs.writeSync(fd, buf.join(''));
      buf = [];
    }
  }
  fs.writeSync(fd, buf.join(''));
  fs.closeSync(fd);
}

/** Writes <dir>/ijb/IJBC/meta/{ijbc_face_tid_mid.txt, ijbc_template_pair_label.txt} and <dir>/IJBC_ir101_webface4m.pickle. */
function generate(dir: string): void {
  const rand = rng(5113);
  const meta = path.join(dir, 'ijb', 'IJBC', 'meta');
  fs.mkdirSync(meta, { recursive: true });
  const sizes = templateSizes(rand);
  // Non-contiguous template ids, shuffled file order (as in the real face list).
  const ids = Int32Array.from({ length: TEMPLATES }, (_, t) => 1 + t * 8 + Math.floor(rand() * 8));
  const subjectOf = Int32Array.from({ length: TEMPLATES }, (_, t) => (t < SUBJECTS ? t : Math.floor(rand() * SUBJECTS)));
  const rowTemplate = new Int32Array(ROWS);
  const rowMedia = new Int32Array(ROWS);
  const rowQuality = new Float32Array(ROWS);
  let r = 0;
  let media = 0;
  for (let t = 0; t < TEMPLATES; t++) {
    let left = sizes[t];
    while (left > 0) {
      const clip = rand() < 0.4 ? 1 : Math.min(left, 1 + Math.floor(-Math.log(1 - rand()) * 12));
      const q = rand();
      for (let k = 0; k < Math.min(clip, left); k++) {
        rowTemplate[r] = t;
        rowMedia[r] = media;
        rowQuality[r] = Math.min(1, Math.max(0, q + 0.05 * (rand() - 0.5)));
        r++;
      }
      left -= Math.min(clip, left);
      media++;
    }
  }
  writeLines(path.join(meta, 'ijbc_face_tid_mid.txt'), ROWS, (i) => `img/${i}.jpg ${ids[rowTemplate[i]]} ${rowMedia[i]}\n`);
  // Features: unit(q·centre_subject + (1.2 − q)·noise); norm = 5 + 30·q.
  const centres = new Float32Array(SUBJECTS * DIM);
  for (let i = 0; i < centres.length; i++) centres[i] = rand() - 0.5;
  const feats = new Float32Array(ROWS * DIM);
  const norms = new Float32Array(ROWS);
  const faceness = new Float32Array(ROWS);
  for (let i = 0; i < ROWS; i++) {
    const q = rowQuality[i];
    const c = subjectOf[rowTemplate[i]] * DIM;
    let ss = 0;
    for (let d = 0; d < DIM; d++) {
      const v = q * centres[c + d] + (1.2 - q) * (rand() - 0.5);
      feats[i * DIM + d] = v;
      ss += v * v;
    }
    const inv = 1 / Math.sqrt(ss);
    for (let d = 0; d < DIM; d++) feats[i * DIM + d] *= inv;
    norms[i] = 5 + 30 * q;
    faceness[i] = q;
  }
  writeNumpyDictPickleFile(path.join(dir, 'IJBC_ir101_webface4m.pickle'), [
    ['img_feats', float32Array(feats, [ROWS, DIM])],
    ['norms', float32Array(norms, [ROWS, 1])],
    ['faceness_scores', float32Array(faceness, [ROWS])],
  ]);
  // Pairs: GENUINE same-subject template pairs, the rest different-subject, shuffled.
  const bySubject: number[][] = Array.from({ length: SUBJECTS }, () => []);
  subjectOf.forEach((s, t) => bySubject[s].push(t));
  const multi = bySubject.filter((l) => l.length >= 2);
  const t1 = new Int32Array(PAIRS);
  const t2 = new Int32Array(PAIRS);
  const label = new Uint8Array(PAIRS);
  for (let p = 0; p < PAIRS; p++) {
    if (p < GENUINE) {
      const l = multi[Math.floor(rand() * multi.length)];
      const a = Math.floor(rand() * l.length);
      const b = (a + 1 + Math.floor(rand() * (l.length - 1))) % l.length;
      t1[p] = l[a];
      t2[p] = l[b];
      label[p] = 1;
    } else {
      let a: number, b: number;
      do {
        a = Math.floor(rand() * TEMPLATES);
        b = Math.floor(rand() * TEMPLATES);
      } while (subjectOf[a] === subjectOf[b]);
      t1[p] = a;
      t2[p] = b;
    }
  }
  for (let p = PAIRS - 1; p > 0; p--) {
    const q = Math.floor(rand() * (p + 1));
    [t1[p], t1[q]] = [t1[q], t1[p]];
    [t2[p], t2[q]] = [t2[q], t2[p]];
    [label[p], label[q]] = [label[q], label[p]];
  }
  writeLines(path.join(meta, 'ijbc_template_pair_label.txt'), PAIRS, (p) => `${ids[t1[p]]} ${ids[t2[p]]} ${label[p]}\n`);
}

interface ChildReport {
  method: string;
  /** Wall seconds per phase. */
  phases: { load: number; aggregate: number; score: number; roc: number };
  /** CPU seconds (user + system, all threads) per phase: what a busy machine cannot inflate. */
  cpu: { load: number; aggregate: number; score: number; roc: number };
  total: number;
  totalCpu: number;
  loadAverage: number;
  peakRssMB: number;
  tarAtFar: number[];
  backend?: string;
}

async function aggregatorFor(method: string): Promise<Aggregator> {
  if (method === 'mean') return meanAggregator;
  if (method === 'norm-weighted') return normWeightedAggregator;
  return loadFaceCoresetNetAggregator(CHECKPOINT);
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

/** One method, end to end from the files, in this (fresh) process. */
async function child(method: string, dir: string): Promise<void> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const aggregator = await aggregatorFor(method);
  const tLoad = process.hrtime.bigint();
  const cLoad = process.cpuUsage();
  const inputs = await loadOfficialInputs(path.join(dir, 'ijb'), 'IJBC', path.join(dir, 'IJBC_ir101_webface4m.pickle'), { identification: false });
  const load = Number(process.hrtime.bigint() - tLoad) / 1e9;
  const loadCpu = cpuSince(cLoad);
  const run = await evaluateMethod(inputs, aggregator, { protocol: 'set', identification: false, progress: false });
  const total = Number(process.hrtime.bigint() - t0) / 1e9;
  const report: ChildReport = {
    method,
    phases: { load, aggregate: run.timings.aggregate, score: run.timings.score, roc: run.timings.roc },
    cpu: { load: loadCpu, aggregate: run.cpu.aggregate, score: run.cpu.score, roc: run.cpu.roc },
    total,
    totalCpu: cpuSince(c0),
    loadAverage: os.loadavg()[0],
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    tarAtFar: run.verification.officialPercent,
  };
  process.stdout.write('REPORT ' + JSON.stringify(report) + '\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { dir: { type: 'string' }, keep: { type: 'boolean', default: false }, methods: { type: 'string', default: 'facecoresetnet,mean' }, json: { type: 'boolean', default: false }, child: { type: 'string' } },
  });
  if (values.child) return child(values.child, values.dir as string);
  const dir = values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-ijb-scale-'));
  const pickle = path.join(dir, 'IJBC_ir101_webface4m.pickle');
  if (!fs.existsSync(pickle)) {
    const t = Date.now();
    process.stderr.write(`generating IJB-C-sized inputs in ${dir} ...\n`);
    generate(dir);
    process.stderr.write(`generated in ${((Date.now() - t) / 1000).toFixed(1)} s (pickle ${(fs.statSync(pickle).size / 2 ** 20).toFixed(0)} MiB, pairs ${(fs.statSync(path.join(dir, 'ijb/IJBC/meta/ijbc_template_pair_label.txt')).size / 2 ** 20).toFixed(0)} MiB)\n`);
  }
  const reports: ChildReport[] = [];
  for (const method of (values.methods as string).split(',')) {
    const res = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', method, '--dir', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
    const line = res.stdout.split('\n').find((l) => l.startsWith('REPORT '));
    if (res.status !== 0 || !line) throw new Error(`${method} run failed (exit ${res.status}):\n${res.stdout}`);
    reports.push(JSON.parse(line.slice(7)));
  }
  if (!values.keep && !values.dir) fs.rmSync(dir, { recursive: true, force: true });
  if (values.json) {
    process.stdout.write(JSON.stringify(reports, null, 1) + '\n');
    return;
  }
  const pair = (wall: number, cpu: number): string => `${wall.toFixed(1)} (${cpu.toFixed(1)})`;
  const rows = reports.map((r) => [
    r.method,
    pair(r.phases.load, r.cpu.load),
    pair(r.phases.aggregate, r.cpu.aggregate),
    pair(r.phases.score, r.cpu.score),
    pair(r.phases.roc, r.cpu.roc),
    pair(r.total, r.totalCpu),
    r.peakRssMB.toFixed(0),
    r.loadAverage.toFixed(1),
  ]);
  const header = ['method', 'load s', 'aggregate s', 'score s', 'ROC s', 'total s', 'peak RSS MB', 'load avg'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (cells: string[]): string => '| ' + cells.map((c, i) => c.padStart(widths[i])).join(' | ') + ' |';
  console.log(`IJB-C scale: ${ROWS} rows x ${DIM}, ${TEMPLATES} templates, ${PAIRS} pairs (${GENUINE} genuine); node ${process.version}, ${os.cpus().length} CPUs`);
  console.log(fmt(header));
  console.log('| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |');
  rows.forEach((row) => console.log(fmt(row)));
  console.log('wall seconds (CPU seconds of all threads in parentheses); load avg = 1-minute load average at the end of the run');
  for (const r of reports) console.log(`${r.method}: TAR@FAR 1e-6..1e-1 = ${r.tarAtFar.join(', ')}`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
