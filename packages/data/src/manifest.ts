/**
 * manifest.json of an output folder: what was written (tables, counts), from what (a fingerprint
 * of the source files), and with which library versions, so a later stage can tell stale inputs.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '@facecoreset/common';
import { SCHEMA_VERSION } from './schemas';
import type { TableWriteSummary } from './parquet';

export interface SourceFileFingerprint {
  /** Path relative to the source root. */
  path: string;
  size: number;
  /** sha256 of the whole file when small, else of its first and last MiB plus its size. */
  sha256: string;
  sampled: boolean;
}

export interface SourceFingerprint {
  root: string;
  fileCount: number;
  totalBytes: number;
  /** sha256 over every file's (path, size, content hash): changes when any file does. */
  digest: string;
  /** The per-file entries when there are few files (large image folders list only the digest). */
  files?: SourceFileFingerprint[];
}

const LISTED_FILES = 100;

/** Builds a SourceFingerprint incrementally, file by file, in a fixed order. */
export class SourceHasher {
  private readonly hash = createHash('sha256');
  private readonly entries: SourceFileFingerprint[] = [];
  private count = 0;
  private bytes = 0;

  constructor(private readonly root: string) {}

  /** Adds a file whose bytes are already in memory. */
  addBytes(relPath: string, data: Uint8Array): void {
    this.addEntry({ path: relPath, size: data.length, sha256: createHash('sha256').update(data).digest('hex'), sampled: false });
  }

  addFile(file: string): void {
    this.addEntry(fingerprintFile(file, this.root));
  }

  private addEntry(e: SourceFileFingerprint): void {
    this.hash.update(JSON.stringify(e));
    this.count++;
    this.bytes += e.size;
    if (this.entries.length <= LISTED_FILES) this.entries.push(e);
  }

  finish(): SourceFingerprint {
    const fp: SourceFingerprint = { root: path.resolve(this.root), fileCount: this.count, totalBytes: this.bytes, digest: this.hash.digest('hex') };
    if (this.count <= LISTED_FILES) fp.files = this.entries;
    return fp;
  }
}

export interface DataManifest {
  kind: string;
  schemaVersion: number;
  source: SourceFingerprint;
  tables: Record<string, TableWriteSummary>;
  counts: Record<string, number>;
  /** Records/files skipped under --skip-bad, with the reason. */
  skipped: Array<{ where: string; reason: string }>;
  options: Record<string, unknown>;
  libraries: Record<string, string>;
}

const SAMPLE_BYTES = 1 << 20;

/**
 * Fingerprints a file without reading all of it when large: datasets of many GB are fingerprinted
 * every run, and a change in size, head or tail catches replaced or truncated files.
 */
export function fingerprintFile(file: string, root: string): SourceFileFingerprint {
  const size = fs.statSync(file).size;
  const hash = createHash('sha256');
  const sampled = size > 2 * SAMPLE_BYTES;
  const fd = fs.openSync(file, 'r');
  try {
    const read = (at: number, len: number): Buffer => {
      const b = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const n = fs.readSync(fd, b, got, len - got, at + got);
        if (n === 0) break;
        got += n;
      }
      return b.subarray(0, got);
    };
    if (sampled) {
      hash.update(read(0, SAMPLE_BYTES));
      hash.update(read(size - SAMPLE_BYTES, SAMPLE_BYTES));
      hash.update(String(size));
    } else {
      hash.update(read(0, size));
    }
  } finally {
    fs.closeSync(fd);
  }
  return { path: path.relative(root, file) || path.basename(file), size, sha256: hash.digest('hex'), sampled };
}

export function fingerprintSource(root: string, files: readonly string[]): SourceFingerprint {
  const h = new SourceHasher(root);
  for (const f of [...files].sort()) h.addFile(f);
  return h.finish();
}

function packageVersion(name: string): string {
  try {
    const pkg = require.resolve(`${name}/package.json`);
    return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function libraryVersions(): Record<string, string> {
  return { node: process.versions.node, 'apache-arrow': packageVersion('apache-arrow'), 'parquet-wasm': packageVersion('parquet-wasm') };
}

export function buildManifest(m: Omit<DataManifest, 'schemaVersion' | 'libraries'>): DataManifest {
  return { ...m, schemaVersion: SCHEMA_VERSION, libraries: libraryVersions() };
}

export function writeManifest(dir: string, m: DataManifest): void {
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m, null, 2) + '\n');
}

export function readManifest(dir: string): DataManifest {
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(file)) throw new InputError('manifest.json not found: not a complete output folder', dir);
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as DataManifest;
  if (m.schemaVersion !== SCHEMA_VERSION) throw new InputError(`schema version ${m.schemaVersion}, this code reads ${SCHEMA_VERSION}; re-run the ingest`, file);
  return m;
}
