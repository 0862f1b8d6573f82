/**
 * Evaluation inputs from our own tables: the IJB meta files (official layout) plus a features
 * table (`row` = face-list line, `view` 0 original / 1 flip, `embedding` unit [D], `norm`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '@facecoreset/common';
import { tableFromIPC } from 'apache-arrow';
import * as parquetWasm from 'parquet-wasm';
import { featuresTable, iterateTableParts, listTableParts, readIjbMeta, validateFeatures, type IjbDataset } from '@facecoreset/data';
import type { SubjectTemplates } from '../lib/identification';
import { faceFeatures, fingerprintFile, type EvalInputs } from './inputs';

/** The folder that holds `features/part-*.parquet`: `dir` itself or its parent when `dir` is the table folder. */
function tableRoot(dir: string): string {
  if (fs.existsSync(path.join(dir, 'features'))) return dir;
  if (path.basename(path.resolve(dir)) === 'features' && fs.existsSync(dir)) return path.dirname(path.resolve(dir));
  throw new InputError('no features/ table folder here; expected the output folder of ingest or extract (or its features/ folder)', dir);
}

/** The embedding width from the first part's schema (one row of the embedding column is decoded). */
function tableDim(root: string): number {
  const first = listTableParts(root, { name: 'features' })[0];
  let listSize: number | undefined;
  try {
    const head = tableFromIPC(parquetWasm.readParquet(fs.readFileSync(first), { columns: ['embedding'], limit: 1 }).intoIPCStream());
    listSize = (head.schema.fields.find((f) => f.name === 'embedding')?.type as { listSize?: number } | undefined)?.listSize;
  } catch (e) {
    throw new InputError(`not a readable features table part (${e instanceof Error ? e.message : String(e)})`, first);
  }
  if (!listSize) throw new InputError('column embedding is not a fixed-size list of float32', first);
  return listSize;
}

interface ViewArrays {
  features: Float32Array;
  norms: Float32Array;
  seen: Uint8Array;
}

export async function loadTableInputs(root: string, dataset: IjbDataset, featuresDir: string, opts: { identification?: boolean } = {}): Promise<EvalInputs> {
  const meta = readIjbMeta(root, dataset, { pairs: 'require', landmarks: 'auto', identification: opts.identification === false ? 'skip' : 'auto' });
  const pairs = meta.pairs;
  if (!pairs) throw new InputError('pair list not found', meta.paths.pairs);
  const n = meta.faces.templateIds.length;
  const dirRoot = tableRoot(featuresDir);
  const dim = tableDim(dirRoot);
  const views = new Map<number, ViewArrays>();
  const view = (v: number): ViewArrays => {
    let a = views.get(v);
    if (!a) {
      a = { features: new Float32Array(n * dim), norms: new Float32Array(n), seen: new Uint8Array(n) };
      views.set(v, a);
    }
    return a;
  };
  const fingerprints = [fingerprintFile(meta.faces.file), fingerprintFile(pairs.file)];
  for (const { file, table } of iterateTableParts(dirRoot, featuresTable(dim))) {
    fingerprints.push(fingerprintFile(file));
    for (const batch of table.batches) {
      const rows = batch.getChild('row')?.toArray() as BigInt64Array;
      const viewIds = batch.getChild('view')?.toArray() as Int8Array;
      const norms = batch.getChild('norm')?.toArray() as Float32Array;
      const emb = batch.getChild('embedding');
      if (!rows || !viewIds || !norms || !emb) throw new InputError('expected columns row, view, embedding, norm', file);
      const values = emb.data[0].children[0].values as Float32Array;
      const base = (emb.data[0].children[0].offset + emb.data[0].offset * dim) | 0;
      for (let i = 0; i < batch.numRows; i++) {
        const r = Number(rows[i]);
        const v = viewIds[i];
        if (v !== 0 && v !== 1) continue; // augmented views are for training
        if (!(r >= 0 && r < n)) throw new InputError(`row ${r} is outside the face list (${n} rows in ${meta.faces.file})`, file, `record ${i}`);
        const a = view(v);
        if (a.seen[r]) throw new InputError(`row ${r} view ${v} appears twice; expected one feature per face row and view`, file, `record ${i}`);
        a.seen[r] = 1;
        a.norms[r] = norms[i];
        a.features.set(values.subarray(base + i * dim, base + (i + 1) * dim), r * dim);
      }
    }
  }
  const original = views.get(0);
  const have = original ? original.seen.reduce((s, x) => s + x, 0) : 0;
  if (!original || have !== n) {
    throw new InputError(`has ${have} original-view (view 0) feature rows but ${meta.faces.file} lists ${n} faces; expected one per face-list line`, path.join(dirRoot, 'features'));
  }
  const arrays = { rows: n, dim, embeddings: original.features, norms: original.norms, faceness: meta.landmarks?.faceness };
  validateFeatures(arrays, path.join(dirRoot, 'features'));
  const faces = faceFeatures(arrays);
  const flipView = views.get(1);
  const flip = flipView && flipView.seen.every((x) => x === 1) ? { features: flipView.features, norms: flipView.norms } : undefined;
  let identification: EvalInputs['identification'];
  if (meta.identification) {
    const { galleries, probe } = meta.identification;
    const asList = (l: typeof probe): SubjectTemplates => ({ templateIds: l.templateIds, subjectIds: l.subjectIds, file: l.file });
    identification = { galleries: galleries.map((g) => ({ name: g.name, list: asList(g) })), probe: asList(probe) };
  }
  return {
    dataset,
    faceListFile: meta.faces.file,
    index: meta.templates,
    medias: meta.faces.mediaIds,
    images: meta.faces.images,
    faces,
    flip,
    pairs: { file: pairs.file, t1: pairs.t1, t2: pairs.t2, labels: pairs.labels, lines: pairs.lines },
    identification,
    fingerprints,
  };
}
