/**
 * RecordIO -> Parquet ingest benchmark.
 *
 * Generates an insightface-layout RecordIO set of about --mb MiB (112x112 JPEGs of noise, ~6 KB
 * each, grouped into identities) in a temp folder, then times in the same run:
 *   copy      fs.copyFileSync of train.rec (the floor any ingest is measured against)
 *   rw-copy   the same bytes read and written in 16 MiB chunks by this process
 *   ingest    ingestRecordIO (label pass over the .idx, sequential scan, image checks, Parquet parts)
 * and prints a table. Floor: ingest within 3x of the copy's time.
 *
 *   npx tsx bench/ingest.ts [--mb 1024] [--dir <folder>] [--keep]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '@facecoreset/common';
import { ingestRecordIO, InsightfaceRecordIOWriter } from '@facecoreset/data';
import * as jpeg from 'jpeg-js';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '1024' }, dir: { type: 'string' }, keep: { type: 'boolean' } } });
const targetBytes = Number(values.mb) * (1 << 20);
const dir = values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-bench-ingest-'));

/** A pool of distinct JPEGs; records cycle through it (the ingest never decodes pixels). */
function jpegPool(count: number): Uint8Array[] {
  const rng = Rng.stream(1, 'bench-ingest');
  return Array.from({ length: count }, () => {
    const data = new Uint8Array(112 * 112 * 4);
    for (let i = 0; i < data.length; i++) data[i] = i % 4 === 3 ? 255 : (rng.float() * 64 + ((i >> 6) & 127)) | 0;
    return jpeg.encode({ data, width: 112, height: 112 }, 85).data;
  });
}

function generate(): { rec: string; images: number; bytes: number } {
  const pool = jpegPool(64);
  const avg = pool.reduce((s, b) => s + b.length, 0) / pool.length;
  const images = Math.max(1, Math.round(targetBytes / (avg + 40)));
  const perIdentity = 20;
  const sizes = Array.from({ length: Math.ceil(images / perIdentity) }, (_, i) => Math.min(perIdentity, images - i * perIdentity));
  const rec = path.join(dir, 'train.rec');
  const w = InsightfaceRecordIOWriter.open(rec, path.join(dir, 'train.idx'), sizes);
  let n = 0;
  sizes.forEach((size, label) => {
    for (let k = 0; k < size; k++) w.writeImage(label, pool[n++ % pool.length]);
  });
  w.close();
  return { rec, images, bytes: fs.statSync(rec).size };
}

interface Timed<T> {
  seconds: number;
  /** user + system CPU seconds of this process: steadier than wall time on a shared machine */
  cpu: number;
  result: T;
}

function time<T>(fn: () => T): Timed<T> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const result = fn();
  const c = process.cpuUsage(c0);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpu: (c.user + c.system) / 1e6, result };
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const result = await fn();
  const c = process.cpuUsage(c0);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpu: (c.user + c.system) / 1e6, result };
}

function rwCopy(src: string, dst: string): void {
  const inFd = fs.openSync(src, 'r');
  const outFd = fs.openSync(dst, 'w');
  const buf = Buffer.allocUnsafe(16 << 20);
  for (let pos = 0; ; ) {
    const n = fs.readSync(inFd, buf, 0, buf.length, pos);
    if (n === 0) break;
    fs.writeSync(outFd, buf, 0, n);
    pos += n;
  }
  fs.closeSync(inFd);
  fs.closeSync(outFd);
}

async function main(): Promise<void> {
  const gen = time(generate);
  const { rec, images, bytes } = gen.result;
  const mb = bytes / 1e6;
  console.log(`generated ${images} records, ${mb.toFixed(0)} MB in ${gen.seconds.toFixed(1)} s (${dir})`);
  // Warm the page cache equally for every contender.
  rwCopy(rec, path.join(dir, 'warm.tmp'));
  fs.rmSync(path.join(dir, 'warm.tmp'));

  const copy = time(() => fs.copyFileSync(rec, path.join(dir, 'copy.rec')));
  fs.rmSync(path.join(dir, 'copy.rec'));
  const rw = time(() => rwCopy(rec, path.join(dir, 'rwcopy.rec')));
  fs.rmSync(path.join(dir, 'rwcopy.rec'));
  const ingest = await timeAsync(() => ingestRecordIO({ input: dir, out: path.join(dir, 'parquet') }));
  const outBytes = Object.values(ingest.result.tables).reduce((s, t) => s + t.bytes, 0);

  const rows = [
    ['copy (copyFileSync)', copy],
    ['rw-copy (16 MiB chunks)', rw],
    ['ingest -> Parquet', ingest],
  ] as const;
  console.log('');
  console.log(`| step | wall s | MB/s | x copy (wall) | CPU s | x copy (CPU) |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const [name, t] of rows) {
    console.log(`| ${name} | ${t.seconds.toFixed(2)} | ${(mb / t.seconds).toFixed(0)} | ${(t.seconds / copy.seconds).toFixed(2)} | ${t.cpu.toFixed(2)} | ${(t.cpu / copy.cpu).toFixed(2)} |`);
  }
  console.log('');
  console.log(`input ${mb.toFixed(0)} MB, ${images} images; output ${(outBytes / 1e6).toFixed(0)} MB in ${ingest.result.tables.images.parts} image parts; floor: ingest <= 3x copy (wall) -> ${ingest.seconds <= 3 * copy.seconds ? 'met' : 'NOT met'}; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`);
  if (!values.keep && !values.dir) fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
