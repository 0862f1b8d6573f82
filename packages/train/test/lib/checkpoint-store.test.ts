import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckpointStore } from '../../src/lib/checkpoint-store';

describe('CheckpointStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-ckpt-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps the last N checkpoints and finds the latest by step, not by name order or time', () => {
    const store = new CheckpointStore(dir, 2);
    for (const step of [5, 10, 100, 20]) store.save(step, Uint8Array.from([step]));
    expect(store.list().map((c) => c.step)).toEqual([20, 100]);
    expect(store.latest()?.step).toBe(100);
    expect(Array.from(fs.readFileSync(store.latest()!.path))).toEqual([100]);
  });

  it('writes best.safetensors only when asked, and keeps it when its step rotates out', () => {
    const store = new CheckpointStore(dir, 1);
    store.save(1, Uint8Array.from([1]), { best: true });
    store.save(2, Uint8Array.from([2]));
    store.save(3, Uint8Array.from([3]));
    expect(store.list().map((c) => c.step)).toEqual([3]);
    expect(Array.from(fs.readFileSync(store.bestPath))).toEqual([1]);
  });

  it('removes temporary files of an interrupted write on open and ignores unrelated files', () => {
    fs.mkdirSync(path.join(dir, 'checkpoints'));
    const stray = path.join(dir, 'checkpoints', '.fcn-tmp-step-000000007.safetensors-123-abc');
    fs.writeFileSync(stray, 'half');
    fs.writeFileSync(path.join(dir, 'checkpoints', 'notes.txt'), 'x');
    const store = new CheckpointStore(dir, 3);
    expect(fs.existsSync(stray)).toBe(false);
    expect(store.list()).toEqual([]);
    expect(store.latest()).toBeUndefined();
  });

  it('drops checkpoints after a step', () => {
    const store = new CheckpointStore(dir, 5);
    for (const step of [1, 2, 3]) store.save(step, Uint8Array.from([step]));
    store.dropAfter(1);
    expect(store.list().map((c) => c.step)).toEqual([1]);
  });
});
