/**
 * Demo-data generation speed: CPU milliseconds per drawn picture (training crop, IJB loose crop)
 * in one thread, then a whole `generateSynthDataset` run (default size unless flags say otherwise)
 * with wall time, CPU time of the process (all threads) and images/s. On a machine shared with
 * other work, wall time measures the neighbours as much as the code; CPU time much less so. The
 * load average is printed beside the numbers.
 *
 *   npx tsx bench/synth.ts [--workers N] [--identities N] [--ijb-subjects N] [--per-kind 200] [--keep <dir>]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SYNTH_OPTIONS, generateSynthDataset } from '@facecoreset/data';
import { runDrawTask, type DrawTask } from '../packages/data/src/synth/draw-task';
import { planIjb } from '../packages/data/src/synth/ijb-plan';
import { defaultWorkerCount } from '../packages/data/src/synth/draw-pool';

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function perPicture(tasks: DrawTask[]): number {
  for (const t of tasks.slice(0, 20)) runDrawTask(t); // warm up the JIT
  const start = cpuMs();
  for (const t of tasks) runDrawTask(t);
  return (cpuMs() - start) / tasks.length;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string' },
      identities: { type: 'string' },
      'ijb-subjects': { type: 'string' },
      'per-kind': { type: 'string', default: '200' },
      keep: { type: 'string' },
    },
  });
  const perKind = Number(values['per-kind']);
  const seed = 1;
  const train: DrawTask[] = Array.from({ length: perKind }, (_, i) => ({ kind: 'train', seed, label: i % 25, k: i }));
  const plan = planIjb({ seed, subjects: 8, templatesPerSubject: DEFAULT_SYNTH_OPTIONS.templatesPerSubject, maxVideoFrames: DEFAULT_SYNTH_OPTIONS.maxVideoFrames, impostorPairs: 10 });
  const ijb: DrawTask[] = plan.templates.flatMap((t) => t.items.map((it) => ({ kind: 'ijb' as const, seed, subjectIndex: t.subjectIndex, media: it.media, frame: it.frame }))).slice(0, perKind);

  const rows: Array<[string, string]> = [
    ['cores / load average (1 min)', `${os.cpus().length} / ${os.loadavg()[0].toFixed(1)}`],
    ['training crop 112x112, CPU ms per picture', perPicture(train).toFixed(2)],
    ['IJB loose crop, CPU ms per picture', perPicture(ijb).toFixed(2)],
  ];

  const options: Record<string, unknown> = {};
  if (values.identities) options.identities = Number(values.identities);
  if (values['ijb-subjects']) options.ijbSubjects = Number(values['ijb-subjects']);
  const workers = values.workers !== undefined ? Number(values.workers) : defaultWorkerCount();
  const out = values.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-bench-synth-'));
  const wall0 = Date.now();
  const cpu0 = cpuMs();
  const manifest = await generateSynthDataset(out, options, { workers, progress: false });
  const wall = (Date.now() - wall0) / 1000;
  const cpu = (cpuMs() - cpu0) / 1000;
  const images = manifest.train.images + manifest.ijb.images;
  rows.push(
    ['full run: images (train + IJB)', `${images} (${manifest.train.images} + ${manifest.ijb.images})`],
    ['full run: worker threads', String(workers)],
    ['full run: wall s', wall.toFixed(1)],
    ['full run: CPU s (all threads)', cpu.toFixed(1)],
    ['full run: images/s (wall)', (images / wall).toFixed(0)],
    ['load average after (1 min)', os.loadavg()[0].toFixed(1)],
  );
  if (!values.keep) fs.rmSync(out, { recursive: true, force: true });
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
