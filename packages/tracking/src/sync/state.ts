/**
 * What has been sent of a local run to a server, kept beside the run in `fcn-sync.json` (MLflow
 * ignores extra files in a run folder). Keyed by server URL, so one local run can go to several
 * servers. Together with the append-only metric files this makes the local store the outbox.
 */
import { writeJsonAtomic } from '@facecoreset/common';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { walkFiles } from '../file-store/fs-utils';

export const SYNC_STATE_FILE = 'fcn-sync.json';
export const SYNC_LOCK_FILE = 'fcn-sync.lock';

export interface TargetState {
  remoteRunId?: string;
  remoteExperimentId?: string;
  /** Param keys sent. */
  params: string[];
  /** Tag values sent (after mapping the parent run id to the server's). */
  tags: Record<string, string>;
  /** Number of complete lines of each metric file sent. */
  metrics: Record<string, number>;
  /** Metric keys whose last send may or may not have reached the server: checked against its history. */
  uncertain: string[];
  /** Artifact path -> "size:mtimeMs" of the copy sent. */
  artifacts: Record<string, string>;
  status?: string;
  endTime?: number | null;
  /** Fingerprint of the local run when it was last sent in full. */
  fingerprint?: string;
  syncedAt?: number;
}

interface StateFile {
  version: 1;
  targets: Record<string, TargetState>;
}

export function emptyTargetState(): TargetState {
  return { params: [], tags: {}, metrics: {}, uncertain: [], artifacts: {} };
}

export function readSyncState(runDir: string): StateFile {
  const file = path.join(runDir, SYNC_STATE_FILE);
  if (!fs.existsSync(file)) return { version: 1, targets: {} };
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as StateFile;
    if (parsed?.version !== 1 || typeof parsed.targets !== 'object') throw new Error('unknown layout');
    return parsed;
  } catch (e) {
    throw new Error(`${file}: not a sync state file (${(e as Error).message}); delete it to resend this run`);
  }
}

export function readTargetState(runDir: string, target: string): TargetState | undefined {
  const t = readSyncState(runDir).targets[target];
  return t ? { ...emptyTargetState(), ...t } : undefined;
}

export function writeTargetState(runDir: string, target: string, state: TargetState): void {
  const file = readSyncState(runDir);
  file.targets[target] = state;
  writeJsonAtomic(path.join(runDir, SYNC_STATE_FILE), file);
}

/** Changes whenever a file of the run is written (atomic renames give new inodes; appends change sizes). */
export function runFingerprint(runDir: string, artifactDir: string): string {
  const hash = crypto.createHash('sha1');
  const add = (base: string, prefix: string): void => {
    for (const rel of walkFiles(base)) {
      if (rel === SYNC_STATE_FILE || rel === SYNC_LOCK_FILE) continue;
      const st = fs.statSync(path.join(base, ...rel.split('/')));
      hash.update(`${prefix}${rel} ${st.size} ${st.mtimeMs} ${st.ino}\n`);
    }
  };
  add(runDir, '');
  if (!path.resolve(artifactDir).startsWith(path.resolve(runDir) + path.sep)) add(artifactDir, 'artifacts:');
  return hash.digest('hex');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stale after this long even if its process still exists (a hung sync must not block forever). */
const LOCK_STALE_MS = 30 * 60_000;

/**
 * Takes the run's sync lock (a file created exclusively), so two processes never push the same
 * run at once. Returns a release function, or undefined when another live process holds it.
 */
export function acquireSyncLock(runDir: string): (() => void) | undefined {
  const file = path.join(runDir, SYNC_LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify({ pid: process.pid, at: Date.now() }), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder: { pid?: number; at?: number } = {};
      try {
        holder = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch {
        // Half-written by a process that died between create and write: treat as stale.
      }
      const stale = !holder.pid || !processAlive(holder.pid) || Date.now() - (holder.at ?? 0) > LOCK_STALE_MS;
      if (!stale) return undefined;
      fs.rmSync(file, { force: true });
    }
  }
  return undefined;
}
