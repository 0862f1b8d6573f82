/**
 * Features: the official pre-extracted IJB features pickle ({img_feats float32 [N, D] unit rows,
 * norms float32 [N, 1], faceness_scores float32 [N]}, row i = line i of the face list) and the
 * features table built from such arrays.
 */
import * as fs from 'node:fs';
import { InputError, isNpyArray, PyDict, readNumpyPickle, type NpyArray } from '@facecoreset/common';
import { Int64, Int8, type Table } from 'apache-arrow';
import { columnType, fixedSizeListColumn, float32Column, int64Column, int8Column, makeTypedTable } from './arrow-columns';
import { featuresTable, type FeaturesType } from './schemas';

/** How far a row's L2 norm may be from 1 and still count as a unit row (float32 rounding). */
export const UNIT_NORM_TOLERANCE = 1e-3;

export interface FeatureArrays {
  rows: number;
  dim: number;
  /** [rows, dim] unit rows */
  embeddings: Float32Array;
  /** [rows] backbone feature norms */
  norms: Float32Array;
  /** [rows] when the source has them */
  faceness?: Float32Array;
}

function toFloat32(a: NpyArray): Float32Array {
  return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number>);
}

function field(dict: Map<unknown, unknown>, key: string, file: string, optional = false): NpyArray | undefined {
  const v = dict.get(key);
  if (v === undefined && optional) return undefined;
  if (!isNpyArray(v)) throw new InputError(`expected key '${key}' to hold a numpy array, found ${v === undefined ? 'no such key' : typeof v}`, file);
  if (!['float32', 'float64'].includes(v.dtype)) throw new InputError(`'${key}': expected a float array, found ${v.dtype}`, file);
  return v;
}

/**
 * Checks rows are finite, non-zero and unit length, and norms finite and positive.
 * @param embeddings [rows, dim]
 */
export function validateFeatures(f: FeatureArrays, file: string): void {
  const { rows, dim, embeddings, norms } = f;
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = r * dim; j < (r + 1) * dim; j++) {
      const v = embeddings[j];
      if (!Number.isFinite(v)) throw new InputError(`embedding has a non-finite value (${v}) at column ${j - r * dim}`, file, `row ${r}`);
      ss += v * v;
    }
    const n = Math.sqrt(ss);
    if (n === 0) throw new InputError('embedding is all zeros (zero norm); expected a unit row', file, `row ${r}`);
    if (Math.abs(n - 1) > UNIT_NORM_TOLERANCE) throw new InputError(`embedding has L2 norm ${n.toPrecision(6)}; expected a unit row (|norm - 1| <= ${UNIT_NORM_TOLERANCE})`, file, `row ${r}`);
    const bn = norms[r];
    if (!Number.isFinite(bn) || bn <= 0) throw new InputError(`feature norm ${bn}; expected a finite positive number`, file, `row ${r}`);
  }
  if (f.faceness) {
    const bad = f.faceness.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new InputError(`faceness score ${f.faceness[bad]} is not finite`, file, `row ${bad}`);
  }
}

/** Reads the official IJB features pickle (allow-listed unpickling; nothing in it is executed). */
export function readFeaturesPickle(file: string): FeatureArrays {
  if (!fs.existsSync(file)) throw new InputError('features pickle not found', file);
  const value = readNumpyPickle(fs.readFileSync(file), file);
  if (!(value instanceof PyDict || value instanceof Map)) throw new InputError('expected a pickled dict with img_feats, norms, faceness_scores', file);
  const feats = field(value, 'img_feats', file)!;
  const norms = field(value, 'norms', file)!;
  const faceness = field(value, 'faceness_scores', file, true);
  if (feats.shape.length !== 2 || feats.shape[1] < 1) throw new InputError(`'img_feats': expected shape [N, D], found [${feats.shape.join(', ')}]`, file);
  const [rows, dim] = feats.shape;
  const normsOk = (norms.shape.length === 2 && norms.shape[0] === rows && norms.shape[1] === 1) || (norms.shape.length === 1 && norms.shape[0] === rows);
  if (!normsOk) throw new InputError(`'norms': expected shape [${rows}, 1], found [${norms.shape.join(', ')}]`, file);
  if (faceness && !(faceness.shape.length === 1 && faceness.shape[0] === rows)) throw new InputError(`'faceness_scores': expected shape [${rows}], found [${faceness.shape.join(', ')}]`, file);
  const out: FeatureArrays = { rows, dim, embeddings: toFloat32(feats), norms: toFloat32(norms), faceness: faceness ? toFloat32(faceness) : undefined };
  validateFeatures(out, file);
  return out;
}

/** The features table of one view (0 = original) for rows 0..N-1. */
export function featuresArrowTable(f: FeatureArrays, view = 0): Table<FeaturesType> {
  const spec = featuresTable(f.dim);
  const rowIds = new BigInt64Array(f.rows);
  for (let i = 0; i < f.rows; i++) rowIds[i] = BigInt(i);
  return makeTypedTable(spec, {
    row: int64Column(new Int64(), rowIds),
    view: int8Column(new Int8(), new Int8Array(f.rows).fill(view)),
    embedding: fixedSizeListColumn(columnType(spec, 'embedding'), f.embeddings),
    norm: float32Column(columnType(spec, 'norm'), f.norms),
  });
}
