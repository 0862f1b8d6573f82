/**
 * Features part files: one Parquet file per chunk of input rows under `<out>/features/`, each
 * written under a temporary name and renamed into place, so a part that exists is complete.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, writeFileAtomic } from '@facecoreset/common';
import { columnType, encodeParquet, featuresTable, fixedSizeListColumn, float32Column, int64Column, int8Column, makeTypedTable, type FeaturesType } from '@facecoreset/data';
import type { Table } from 'apache-arrow';
import * as parquetWasm from 'parquet-wasm';
import type { FeatureColumns } from '../lib/extract';

export const FEATURES_DIR = 'features';

/** The Arrow table of feature records (row int64, view int8, embedding float32[D], norm float32). */
export function featuresArrowTableOf(f: FeatureColumns): Table<FeaturesType> {
  const spec = featuresTable(f.dim);
  const rows = new BigInt64Array(f.count);
  for (let i = 0; i < f.count; i++) rows[i] = BigInt(f.row[i]);
  return makeTypedTable(spec, {
    row: int64Column(columnType(spec, 'row'), rows),
    view: int8Column(columnType(spec, 'view'), f.view),
    embedding: fixedSizeListColumn(columnType(spec, 'embedding'), f.embedding),
    norm: float32Column(columnType(spec, 'norm'), f.norm),
  });
}

/** Writes one part atomically (temp name + rename); returns its size in bytes. */
export function writeFeaturesPart(file: string, f: FeatureColumns): number {
  // Embeddings are near-incompressible float32; snappy costs little and still packs row/view.
  const bytes = encodeParquet(featuresArrowTableOf(f), { compression: 'snappy' });
  writeFileAtomic(file, bytes);
  return bytes.length;
}

/** Row count from a Parquet file's footer (reads only the footer). */
export async function parquetRowCount(file: string): Promise<number> {
  try {
    const pf = await parquetWasm.ParquetFile.fromFile(await fs.openAsBlob(file));
    try {
      return pf.metadata().fileMetadata().numRows();
    } finally {
      pf.free();
    }
  } catch (e) {
    throw new InputError(`not a readable Parquet file (${e instanceof Error ? e.message : String(e)}); delete it to recompute it`, file);
  }
}

/** Names of the part files in a features folder (not temporary files). */
export function listPartNames(featuresDir: string): string[] {
  if (!fs.existsSync(featuresDir)) return [];
  return fs
    .readdirSync(featuresDir)
    .filter((n) => /^part-.*\.parquet$/.test(n))
    .sort();
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary files left by a killed writer (`.fcn-tmp-<name>-<pid>-<id>`), except those of a
 * process still running (another shard writing into the same folder).
 * @returns the names removed
 */
export function removeStaleTempFiles(featuresDir: string): string[] {
  if (!fs.existsSync(featuresDir)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(featuresDir)) {
    const m = /^\.fcn-tmp-.*-(\d+)-[0-9a-z]+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && processAlive(pid)) continue;
    fs.rmSync(path.join(featuresDir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
