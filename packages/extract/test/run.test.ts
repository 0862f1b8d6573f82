/**
 * Extraction runs over files: shards, resume after an interrupted run, merge, the IJB aligned table,
 * bad inputs, and the CLI. A random-weights IResNet with small widths at 112x112 on wasm.
 */
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, UsageError } from '@facecoreset/common';
import { readManifest } from '@facecoreset/data';
import { extractMain, extractMergeMain } from '../src/cli';
import { mergeFeatureShards } from '../src/io/merge';
import { runExtraction, type ExtractRunOptions } from '../src/io/run';
import { encodePng, patternRgb, readFeatures, sameBits, sampleImages, tempDir, TINY_CONFIG, writeAlignedTable, writeImagesTable, writeTinyCheckpoint, type FeatureRowsRead } from './helpers';

const D = TINY_CONFIG.embeddingSize;
const VIEWS = 'original,flip,aug:2';
let root: string;
let input: string;
let checkpoint: string;
let full: FeatureRowsRead;

function opts(out: string, extra: Partial<ExtractRunOptions> = {}): ExtractRunOptions {
  return { images: input, checkpoint, out: path.join(root, out), views: VIEWS, partRows: 2, batchSize: 5, seed: 7, backend: 'wasm', ...extra };
}

function expectSameTable(a: FeatureRowsRead, b: FeatureRowsRead): void {
  expect(b.records).toBe(a.records);
  expect([...b.byKey.keys()].sort()).toEqual([...a.byKey.keys()].sort());
  const differing = [...a.byKey].filter(([k, v]) => {
    const w = b.byKey.get(k)!;
    return !sameBits(v.embedding, w.embedding) || !sameBits(Float32Array.of(v.norm), Float32Array.of(w.norm));
  });
  expect(differing.map(([k]) => k)).toEqual([]);
}

function partStats(dir: string): Map<string, { mtimeMs: number; ino: number }> {
  const f = path.join(dir, 'features');
  return new Map(fs.readdirSync(f).map((n) => [n, { mtimeMs: fs.statSync(path.join(f, n)).mtimeMs, ino: fs.statSync(path.join(f, n)).ino }]));
}

beforeAll(async () => {
  root = tempDir('run');
  input = path.join(root, 'ingest');
  // 7 images over several input parts (so chunks straddle part boundaries)
  writeImagesTable(input, sampleImages(7), 3);
  checkpoint = path.join(root, 'tiny.safetensors');
  writeTinyCheckpoint(checkpoint);
  const r = await runExtraction(opts('full'));
  expect(r.computedParts).toBe(4);
  expect(r.table).toEqual(expect.objectContaining({ records: 28, images: 7, parts: 4 }));
  full = readFeatures(path.join(root, 'full'), D);
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('the features table', () => {
  it('holds one record per (row, view) with unit embeddings and positive norms; row = position in the images table', () => {
    expect(fs.readdirSync(path.join(input, 'images')).length).toBe(3);
    expect(full.records).toBe(7 * 4);
    for (let row = 0; row < 7; row++) for (const view of [0, 1, 2, 3]) expect(full.byKey.has(`${row}/${view}`)).toBe(true);
    for (const { embedding, norm } of full.byKey.values()) {
      expect(Math.abs(Math.hypot(...embedding) - 1)).toBeLessThan(1e-5);
      expect(norm).toBeGreaterThan(0);
    }
    const m = readManifest(path.join(root, 'full'));
    expect(m.kind).toBe('features');
    expect(m.counts).toEqual({ records: 28, images: 7, views: 4, dim: D });
    expect(m.tables.features).toEqual(expect.objectContaining({ rows: 28, parts: 4 }));
  });

  it('shard 0/2 + 1/2 in separate folders, merged by hard links, equal the unsharded table bit for bit', async () => {
    const s0 = await runExtraction(opts('s0', { shard: { index: 0, count: 2 } }));
    const s1 = await runExtraction(opts('s1', { shard: { index: 1, count: 2 }, batchSize: 3 }));
    expect([s0.computedParts, s1.computedParts]).toEqual([2, 2]);
    expect(s0.table).toBeUndefined();
    expect(fs.existsSync(path.join(root, 's0', 'manifest.json'))).toBe(false);
    const merged = await mergeFeatureShards(path.join(root, 'merged'), [path.join(root, 's0'), path.join(root, 's1')]);
    expect(merged).toEqual(expect.objectContaining({ records: 28, parts: 4, linked: 4, copied: 0 }));
    const name = 'part-000000000000.parquet';
    expect(fs.statSync(path.join(root, 'merged', 'features', name)).ino).toBe(fs.statSync(path.join(root, 's0', 'features', name)).ino);
    expectSameTable(full, readFeatures(path.join(root, 'merged'), D));
  });

  it('shards writing into one folder complete the table when the last one finishes', async () => {
    const results = [];
    for (const index of [2, 0, 1]) results.push(await runExtraction(opts('shared', { shard: { index, count: 3 } })));
    expect(results.map((r) => r.table !== undefined)).toEqual([false, false, true]);
    expectSameTable(full, readFeatures(path.join(root, 'shared'), D));
  });

  it('merge refuses missing shards and shards made with other settings', async () => {
    await expect(mergeFeatureShards(path.join(root, 'half'), [path.join(root, 's0')])).rejects.toThrow(/2 part\(s\) missing: rows 4-5 \(part-000000000004.parquet\), rows 6-6/);
    await runExtraction(opts('s1-seed8', { shard: { index: 1, count: 2 }, seed: 8 }));
    await expect(mergeFeatureShards(path.join(root, 'mixed'), [path.join(root, 's0'), path.join(root, 's1-seed8')])).rejects.toThrow(/s1-seed8\/extract.json: seed differs/);
  });
});

describe('resume', () => {
  it('after an interruption keeps the finished parts untouched, drops the unfinished one and computes the rest', async () => {
    const dir = path.join(root, 'resume');
    await runExtraction(opts('resume'));
    const features = path.join(dir, 'features');
    // What a kill during the last part leaves: no last part, a temp file of a dead writer, no manifest.
    fs.rmSync(path.join(features, 'part-000000000006.parquet'));
    fs.rmSync(path.join(dir, 'manifest.json'));
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const temp = `.fcn-tmp-part-000000000006.parquet-${dead}-mabc123xyz`;
    fs.writeFileSync(path.join(features, temp), 'half a part');
    const before = partStats(dir);
    await new Promise((r) => setTimeout(r, 20));

    const r = await runExtraction(opts('resume'));
    expect([r.keptParts, r.computedParts, r.images]).toEqual([3, 1, 1]);
    const after = partStats(dir);
    expect(after.has(temp)).toBe(false);
    for (const name of ['part-000000000000.parquet', 'part-000000000002.parquet', 'part-000000000004.parquet']) expect(after.get(name)).toEqual(before.get(name));
    expect(fs.existsSync(path.join(dir, 'manifest.json'))).toBe(true);
    expectSameTable(full, readFeatures(dir, D));

    const again = await runExtraction(opts('resume'));
    expect([again.keptParts, again.computedParts]).toEqual([4, 0]);
    expect(partStats(dir)).toEqual(after);
  });

  it('refuses to resume into a folder made with other settings', async () => {
    await expect(runExtraction(opts('full', { seed: 8 }))).rejects.toThrow(/full\/extract.json: seed differs: the folder holds parts made with 7, this run uses 8/);
    await expect(runExtraction(opts('full', { views: 'original' }))).rejects.toThrow(/views differs/);
    await expect(runExtraction(opts('full', { partRows: 3 }))).rejects.toThrow(/rows per part differs/);
  });
});

describe('the IJB aligned table', () => {
  it('uses the table row column as row, and raw crops give the same features as PNGs of the same pixels', async () => {
    const dir = path.join(root, 'ijb');
    const pixels = [0, 1, 2].map((i) => patternRgb(10 + i));
    writeAlignedTable(dir, [5, 9, 12], pixels);
    const pngs = path.join(root, 'pngs');
    writeImagesTable(pngs, pixels.map((p) => encodePng(p, 112, 112)));
    await runExtraction(opts('ijb-features', { images: dir, views: 'original,flip' }));
    await runExtraction(opts('png-features', { images: pngs, views: 'original,flip' }));
    const a = readFeatures(path.join(root, 'ijb-features'), D);
    const b = readFeatures(path.join(root, 'png-features'), D);
    expect([...a.byKey.keys()].sort()).toEqual(['12/0', '12/1', '5/0', '5/1', '9/0', '9/1']);
    [5, 9, 12].forEach((row, i) => {
      for (const view of [0, 1]) expect(sameBits(a.byKey.get(`${row}/${view}`)!.embedding, b.byKey.get(`${i}/${view}`)!.embedding)).toBe(true);
    });
    // the table folder itself is accepted too
    const viaTableDir = await runExtraction(opts('ijb-features', { images: path.join(dir, 'aligned'), views: 'original,flip' }));
    expect(viaTableDir.computedParts).toBe(0);
  });
});

describe('bad input', () => {
  it('names the missing table folder', async () => {
    await expect(runExtraction(opts('x1', { images: path.join(root, 'nope') }))).rejects.toThrow(/nope: images table folder not found/);
    fs.mkdirSync(path.join(root, 'empty-ingest'));
    await expect(runExtraction(opts('x1', { images: path.join(root, 'empty-ingest') }))).rejects.toThrow(/empty-ingest: no images\/ or aligned\/ table folder here/);
  });

  it('names the row and part file of a non-image record and writes nothing for its chunk', async () => {
    const dir = path.join(root, 'bad-bytes');
    const images = sampleImages(5);
    images[3] = new TextEncoder().encode('not an image at all');
    writeImagesTable(dir, images, 3);
    const out = path.join(root, 'bad-bytes-out');
    const err = await runExtraction(opts('bad-bytes-out', { images: dir })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/bad-bytes\/images\/part-00001.parquet:row 3: image bytes are not JPEG or PNG \(starts with 6e 6f 74 20\)/);
    expect(fs.readdirSync(path.join(out, 'features'))).toEqual(['part-000000000000.parquet']);
  });

  it('refuses an --out folder holding a features table it did not write', async () => {
    const foreign = path.join(root, 'foreign', 'features');
    fs.mkdirSync(foreign, { recursive: true });
    fs.writeFileSync(path.join(foreign, 'part-00000.parquet'), 'from a features pickle');
    await expect(runExtraction(opts('foreign'))).rejects.toThrow(/foreign\/features: holds a features table that fcn extract did not start \(no extract.json\)/);
    expect(fs.existsSync(path.join(root, 'foreign', 'extract.json'))).toBe(false);
  });

  it('names the row and size of an image that is not 112x112', async () => {
    const dir = path.join(root, 'small');
    writeImagesTable(dir, sampleImages(2, 64));
    await expect(runExtraction(opts('small-out', { images: dir }))).rejects.toThrow(/row 0: image is 64x64; the backbone takes aligned 112x112 crops/);
  });

  it('names a missing or unreadable checkpoint', async () => {
    await expect(runExtraction(opts('x2', { checkpoint: path.join(root, 'none.ckpt') }))).rejects.toThrow(/none.ckpt: backbone checkpoint not found/);
    const junk = path.join(root, 'junk.ckpt');
    fs.writeFileSync(junk, 'definitely not weights');
    await expect(runExtraction(opts('x2', { checkpoint: junk }))).rejects.toThrow(/junk.ckpt: not a backbone checkpoint/);
    await expect(runExtraction(opts('x2', { arch: 'ir_18' }))).rejects.toThrow(/tiny.safetensors: checkpoint holds ir\[8,16,24,32\]/);
  });
});

describe('fcn extract (CLI)', () => {
  it('runs end to end, prints progress and a summary, and resumes', async () => {
    const lines: string[] = [];
    const progress: string[] = [];
    const stream = Object.assign(new Writable({ write: (c: Buffer, _e: string, cb: () => void) => (progress.push(c.toString()), cb()) }), { isTTY: false });
    const io = { out: (l: string) => lines.push(l), progressStream: stream, progressIntervalMs: 0 };
    const out = path.join(root, 'cli');
    const args = ['--images', input, '--checkpoint', checkpoint, '--views', VIEWS, '--out', out, '--part-rows', '2', '--batch-size', '4', '--seed', '7', '--backend', 'wasm'];
    expect(await extractMain([...args, '--shard', '1/2'], io)).toBe(0);
    expect(await extractMain([...args, '--shard', '0/2'], io)).toBe(0);
    expect(lines[0]).toMatch(/^extract shard 1\/2: 2 part\(s\) computed \(3 images in [\d.]+ s, [\d.]+ images\/s\), 0 kept .*run fcn extract merge/);
    expect(lines[1]).toMatch(/^extract shard 0\/2: 2 part\(s\) computed \(4 images.*features table complete: 28 records \(7 images\) in 4 part\(s\)/);
    expect(progress.join('')).toMatch(/extract 0\/2: \d\/4 images, [\d.]+ images\/s/);
    expect(progress.join('')).toMatch(/ETA/);
    expectSameTable(full, readFeatures(out, D));
    expect(await extractMergeMain(['--out', out], io)).toBe(0);
    expect(lines[2]).toMatch(/^extract merge: features table complete: 28 records/);
  });

  it('refuses bad usage', async () => {
    await expect(extractMain(['--images', input, '--checkpoint', checkpoint])).rejects.toThrow(UsageError);
    await expect(extractMain(['--images', input, '--checkpoint', checkpoint, '--out', 'x', '--shard', '2/2'])).rejects.toThrow(/bad --shard '2\/2'/);
    await expect(extractMain(['--images', input, '--checkpoint', checkpoint, '--out', 'x', '--batch-size', '0'])).rejects.toThrow(/--batch-size must be an integer >= 1/);
    await expect(extractMain(['--bogus'])).rejects.toThrow(UsageError);
    await expect(extractMergeMain([])).rejects.toThrow(/--out is required/);
  });
});
