/** Facts recorded beside every output: the git commit and the versions of the libraries that matter. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WORKSPACE } from '../config';

let commit: string | null | undefined;

export function gitCommit(): string | null {
  if (commit !== undefined) return commit;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: WORKSPACE, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    commit = null;
  }
  return commit;
}

const LIBRARIES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', 'apache-arrow', 'parquet-wasm', 'nx'];

export function libraryVersions(): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  for (const lib of LIBRARIES) {
    try {
      out[lib] = JSON.parse(fs.readFileSync(path.join(WORKSPACE, 'node_modules', lib, 'package.json'), 'utf8')).version;
    } catch {
      // not installed: left out
    }
  }
  return out;
}
