/**
 * A real crash: `fcn extract` (the workspace CLI, in a child process) is killed with SIGKILL after
 * it has finished some parts; a rerun keeps those parts byte for byte, computes the rest, and the
 * table equals an uninterrupted run's bit for bit.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runExtraction } from '../src/io/run';
import { readFeatures, sameBits, sampleImages, tempDir, TINY_CONFIG, writeImagesTable, writeTinyCheckpoint } from './helpers';

const FCN = path.resolve(__dirname, '../../pipeline/bin/fcn.js');

describe('fcn extract killed mid-way', () => {
  let root: string;
  afterAll(() => root && fs.rmSync(root, { recursive: true, force: true }));

  it('prints its usage', () => {
    const r = spawnSync(process.execPath, [FCN, 'extract', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: fcn extract --images <table dir> --checkpoint <backbone> --out <dir>/);
  });

  it('resumes after SIGKILL, keeping the finished parts and ending with the uninterrupted table', async () => {
    root = tempDir('kill');
    const input = path.join(root, 'ingest');
    writeImagesTable(input, sampleImages(24), 5);
    const checkpoint = path.join(root, 'tiny.safetensors');
    writeTinyCheckpoint(checkpoint);
    const out = path.join(root, 'killed');
    const common = { images: input, checkpoint, views: 'original,flip', partRows: 2, batchSize: 4, seed: 3, backend: 'wasm' };
    const args = ['extract', '--images', input, '--checkpoint', checkpoint, '--views', common.views, '--part-rows', '2', '--batch-size', '4', '--seed', '3', '--backend', 'wasm', '--out', out, '--quiet'];

    const child = spawn(process.execPath, [FCN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const features = path.join(out, 'features');
    const parts = () => (fs.existsSync(features) ? fs.readdirSync(features).filter((n) => n.endsWith('.parquet')) : []);
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const poll = setInterval(() => {
      if (parts().length >= 3) child.kill('SIGKILL');
    }, 5);
    const ended = await exit;
    clearInterval(poll);
    expect({ ...ended, stderr }).toEqual({ code: null, signal: 'SIGKILL', stderr });
    const kept = new Map(parts().map((n) => [n, fs.statSync(path.join(features, n))]));
    expect(kept.size).toBeGreaterThanOrEqual(3);
    expect(kept.size).toBeLessThan(12);
    expect(fs.existsSync(path.join(out, 'manifest.json'))).toBe(false);

    const resumed = await runExtraction({ ...common, out });
    expect(resumed.keptParts).toBe(kept.size);
    expect(resumed.computedParts).toBe(12 - kept.size);
    for (const [name, st] of kept) {
      const now = fs.statSync(path.join(features, name));
      expect([now.mtimeMs, now.ino, now.size]).toEqual([st.mtimeMs, st.ino, st.size]);
    }
    expect(fs.readdirSync(features).filter((n) => n.startsWith('.fcn-tmp-'))).toEqual([]);

    await runExtraction({ ...common, out: path.join(root, 'uninterrupted') });
    const a = readFeatures(path.join(root, 'uninterrupted'), TINY_CONFIG.embeddingSize);
    const b = readFeatures(out, TINY_CONFIG.embeddingSize);
    expect(b.records).toBe(48);
    expect([...a.byKey].filter(([k, v]) => !sameBits(v.embedding, b.byKey.get(k)!.embedding) || v.norm !== b.byKey.get(k)!.norm).map(([k]) => k)).toEqual([]);
  });
});
