/**
 * Reads what aggregator training needs from stored tables: the features table (row, view,
 * embedding, norm; every part) and the `label` column of the images table (row r = the r-th row
 * over all parts, which is what the features table's `row` indexes).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '@facecoreset/common';
import { featuresTable, imagesTable, iterateTableParts, listTableParts, readParquetFile, validateFeatures } from '@facecoreset/data';
import { tableFromIPC } from 'apache-arrow';
import * as parquetWasm from 'parquet-wasm';
import { FeatureStore, featureStoreFromParts } from '../lib/feature-store';

/**
 * Accepts either the folder holding a table folder (`<dir>/<name>/part-*.parquet`) or the table
 * folder itself; returns the former, as the data package's readers expect.
 */
export function tableParent(dir: string, name: string): string {
  const resolved = path.resolve(dir);
  if (path.basename(resolved) === name && !fs.existsSync(path.join(resolved, name))) return path.dirname(resolved);
  return resolved;
}

/** The embedding width D of a features table, from the schema of its first part. */
export function featureTableDim(dir: string): number {
  const first = listTableParts(dir, { name: 'features' })[0];
  let listSize: unknown;
  try {
    const t = tableFromIPC(parquetWasm.readParquet(fs.readFileSync(first), { limit: 1 }).intoIPCStream());
    listSize = (t.schema.fields.find((f) => f.name === 'embedding')?.type as { listSize?: number } | undefined)?.listSize;
  } catch (e) {
    throw new InputError(`cannot read the embedding column (${e instanceof Error ? e.message : String(e)})`, first);
  }
  if (typeof listSize !== 'number' || listSize < 1) throw new InputError('column embedding: expected fixed_size_list<float32>[D]', first);
  return listSize;
}

/** Reads every part of a features table, checking unit embeddings and positive norms. */
export function readFeatureStore(featuresDir: string): FeatureStore {
  const dir = tableParent(featuresDir, 'features');
  const dim = featureTableDim(dir);
  const spec = featuresTable(dim);
  const parts = listTableParts(dir, spec).map((file) => {
    const table = readParquetFile(file, spec);
    const embedding = columnFloat32(
      table.getChild('embedding')!.data.map((d) => {
        if (d.offset !== 0 || d.children[0].offset !== 0) throw new InputError('column embedding: sliced list data is not supported', file);
        return (d.children[0].values as Float32Array).subarray(0, d.length * dim);
      }),
    );
    const norm = columnFloat32(table.getChild('norm')!.data.map((d) => (d.values as Float32Array).subarray(d.offset, d.offset + d.length)));
    const rowValues = table.getChild('row')!.data.map((d) => (d.values as BigInt64Array).subarray(d.offset, d.offset + d.length));
    const row = new Float64Array(table.numRows);
    let at = 0;
    for (const chunk of rowValues) for (let i = 0; i < chunk.length; i++) row[at++] = Number(chunk[i]);
    const view = new Int8Array(table.numRows);
    at = 0;
    for (const chunk of table.getChild('view')!.data) {
      view.set((chunk.values as Int8Array).subarray(chunk.offset, chunk.offset + chunk.length), at);
      at += chunk.length;
    }
    validateFeatures({ rows: table.numRows, dim, embeddings: embedding, norms: norm }, file);
    return { row, view, norm, embedding };
  });
  return featureStoreFromParts(dim, parts);
}

function columnFloat32(chunks: Float32Array[]): Float32Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * The label of every images-table row, in table order. Parts are read one at a time and only
 * their labels kept (parquet-wasm 0.6's readParquet ignores column projection, so each part is
 * decoded whole; one part at a time bounds the memory).
 */
export function readImageLabels(imagesDir: string): Int32Array {
  const dir = tableParent(imagesDir, imagesTable.name);
  const chunks: Int32Array[] = [];
  for (const { table } of iterateTableParts(dir, imagesTable)) {
    for (const chunk of table.getChild('label')!.data) chunks.push((chunk.values as Int32Array).slice(chunk.offset, chunk.offset + chunk.length));
  }
  const out = new Int32Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
