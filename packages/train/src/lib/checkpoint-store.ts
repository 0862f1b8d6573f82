/**
 * The checkpoint folder of a training run:
 *
 *   <out>/checkpoints/step-000001200.safetensors   the last `keepLast` checkpoints
 *   <out>/best.safetensors                         the checkpoint with the best validation metric
 *
 * Every file is written under a temporary name and renamed into place, so a crash at any moment
 * leaves only complete checkpoints (and perhaps a stray temporary file, removed on the next open).
 * The latest checkpoint is the one with the highest step.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '@facecoreset/common';

const STEP_FILE = /^step-(\d{9})\.safetensors$/;
const TEMP_PREFIX = '.fcn-tmp-';

export interface StoredCheckpoint {
  step: number;
  path: string;
}

export class CheckpointStore {
  readonly checkpointDir: string;
  readonly bestPath: string;

  /** Opens (creating) the folder and removes temporary files left by an interrupted write. */
  constructor(
    readonly outDir: string,
    /** May be changed later (e.g. once a resumed run's config is known). */
    public keepLast: number,
  ) {
    if (!Number.isInteger(keepLast) || keepLast < 1) throw new Error(`CheckpointStore: keepLast must be a positive integer, got ${keepLast}`);
    this.checkpointDir = path.join(outDir, 'checkpoints');
    this.bestPath = path.join(outDir, 'best.safetensors');
    fs.mkdirSync(this.checkpointDir, { recursive: true });
    for (const dir of [outDir, this.checkpointDir]) {
      for (const name of fs.readdirSync(dir)) {
        if (name.startsWith(TEMP_PREFIX) && name.includes('.safetensors')) fs.rmSync(path.join(dir, name), { force: true });
      }
    }
  }

  /** The latest checkpoint under `outDir` without creating or cleaning anything. */
  static latestIn(outDir: string): StoredCheckpoint | undefined {
    const dir = path.join(outDir, 'checkpoints');
    if (!fs.existsSync(dir)) return undefined;
    const steps = fs
      .readdirSync(dir)
      .map((name) => STEP_FILE.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const step = steps[steps.length - 1];
    return step === undefined ? undefined : { step, path: path.join(dir, CheckpointStore.fileName(step)) };
  }

  static fileName(step: number): string {
    if (!Number.isInteger(step) || step < 0 || step > 999_999_999) throw new Error(`CheckpointStore: step out of range: ${step}`);
    return `step-${String(step).padStart(9, '0')}.safetensors`;
  }

  /** Stored checkpoints, oldest first. */
  list(): StoredCheckpoint[] {
    if (!fs.existsSync(this.checkpointDir)) return [];
    return fs
      .readdirSync(this.checkpointDir)
      .map((name) => ({ name, match: STEP_FILE.exec(name) }))
      .filter((e) => e.match !== null)
      .map((e) => ({ step: Number(e.match![1]), path: path.join(this.checkpointDir, e.name) }))
      .sort((a, b) => a.step - b.step);
  }

  latest(): StoredCheckpoint | undefined {
    const all = this.list();
    return all[all.length - 1];
  }

  /**
   * Writes the checkpoint of `step` (replacing one of the same step), then deletes the oldest
   * beyond `keepLast`; with `best`, also replaces best.safetensors.
   */
  save(step: number, bytes: Uint8Array, opts: { best?: boolean } = {}): StoredCheckpoint {
    const target = path.join(this.checkpointDir, CheckpointStore.fileName(step));
    writeFileAtomic(target, bytes);
    if (opts.best) writeFileAtomic(this.bestPath, bytes);
    const all = this.list();
    for (const old of all.slice(0, Math.max(0, all.length - this.keepLast))) fs.rmSync(old.path, { force: true });
    return { step, path: target };
  }

  /** Deletes checkpoints after `step` (used when a run restarts from an earlier one). */
  dropAfter(step: number): void {
    for (const c of this.list()) if (c.step > step) fs.rmSync(c.path, { force: true });
  }
}
