/**
 * An IJB-B/C release folder (+ optionally the official features pickle) -> faces, pairs, 1:N,
 * features and aligned-crop tables.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, writeDirAtomic } from '@facecoreset/common';
import { Int32, Int8, type Table } from 'apache-arrow';
import { alignFace, decodeRgb } from '../align';
import { binaryColumn, columnType, fixedSizeListColumn, float32Column, int32Column, int8Column, makeBatch, makeTypedTable, utf8Column } from '../arrow-columns';
import { featuresArrowTable, readFeaturesPickle, type FeatureArrays } from '../features';
import { checkImageBytes } from '../image-check';
import { readIjbMeta, type IjbMeta } from '../ijb/read-meta';
import type { IjbDataset, IjbTemplateSubjects } from '../ijb/meta';
import { buildManifest, SourceHasher, writeManifest, type DataManifest } from '../manifest';
import { PartedTableWriter, writeTable, type TableWriteSummary } from '../parquet';
import { ALIGNED_SIZE, featuresTable, ijbAlignedTable, ijbFacesTable, ijbIdentificationTable, ijbPairsTable, LANDMARK_VALUES, type IjbFacesType, type IjbIdentificationType, type IjbPairsType } from '../schemas';
import { silentProgress, type IngestCommonOptions } from './common';

export interface IngestIjbOptions extends IngestCommonOptions {
  /** The folder holding IJBB/ and/or IJBC/. */
  root: string;
  dataset: IjbDataset;
  /** The official features pickle (row i = face row i) -> the features table. */
  featuresPickle?: string;
  /** Align every loose crop to 112x112 -> the aligned table (needs the landmark file). */
  align?: boolean;
}

export function ijbFacesArrowTable(meta: IjbMeta, features?: FeatureArrays): Table<IjbFacesType> {
  const n = meta.faces.images.length;
  const lm = meta.landmarks;
  const faceness = lm?.faceness ?? features?.faceness;
  return makeTypedTable(ijbFacesTable, {
    row: int32Column(new Int32(), Int32Array.from({ length: n }, (_, i) => i)),
    image: utf8Column(columnType(ijbFacesTable, 'image'), meta.faces.images),
    template_id: int32Column(new Int32(), meta.faces.templateIds),
    media_id: int32Column(new Int32(), meta.faces.mediaIds),
    landmarks: fixedSizeListColumn(columnType(ijbFacesTable, 'landmarks'), lm?.landmarks ?? new Float32Array(n * LANDMARK_VALUES), lm ? undefined : new Array<boolean>(n).fill(false)),
    faceness: float32Column(columnType(ijbFacesTable, 'faceness'), faceness ?? new Float32Array(n), faceness ? undefined : new Array<boolean>(n).fill(false)),
  });
}

export function ijbPairsArrowTable(meta: IjbMeta): Table<IjbPairsType> {
  const p = meta.pairs!;
  return makeTypedTable(ijbPairsTable, { t1: int32Column(new Int32(), p.t1), t2: int32Column(new Int32(), p.t2), label: int8Column(new Int8(), p.labels) });
}

export function ijbIdentificationArrowTable(list: IjbTemplateSubjects): Table<IjbIdentificationType> {
  const spec = ijbIdentificationTable(list.name);
  return makeTypedTable(spec, { template_id: int32Column(new Int32(), list.templateIds), subject_id: int32Column(new Int32(), list.subjectIds) });
}

const ALIGN_BATCH_ROWS = 256;

/** Aligns every loose crop; corrupt or missing crops fail (or are recorded with --skip-bad). */
function writeAligned(tmp: string, meta: IjbMeta, opts: IngestIjbOptions, hasher: SourceHasher, skipped: DataManifest['skipped']): TableWriteSummary {
  const lm = meta.landmarks!;
  const writer = new PartedTableWriter(tmp, ijbAlignedTable, { compression: opts.compression, targetPartBytes: opts.targetPartBytes });
  const progress = (opts.progress ?? silentProgress)('align loose crops', meta.faces.images.length);
  let rows: number[] = [];
  let pixels: Uint8Array[] = [];
  const flush = (): void => {
    if (rows.length === 0) return;
    writer.add(makeBatch(ijbAlignedTable, { row: int32Column(new Int32(), Int32Array.from(rows)), rgb: binaryColumn(columnType(ijbAlignedTable, 'rgb'), pixels) }));
    rows = [];
    pixels = [];
  };
  // IJB re-uses stills across templates: hash each distinct file once.
  const hashed = new Set<string>();
  meta.faces.images.forEach((name, row) => {
    const file = path.join(meta.paths.looseCrop, name);
    const fail = (reason: string): void => {
      if (!opts.skipBad) throw new InputError(`${reason} (use --skip-bad to skip and record it)`, file, `face row ${row}`);
      skipped.push({ where: `${name} (face row ${row})`, reason });
    };
    if (!fs.existsSync(file)) return fail('loose crop not found');
    const bytes = fs.readFileSync(file);
    progress.tick(1, bytes.length);
    if (!hashed.has(name)) hasher.addBytes(name, bytes);
    hashed.add(name);
    const check = checkImageBytes(bytes);
    if (!check.ok) return fail(`corrupt image: ${check.reason}`);
    let rgb: Uint8Array;
    try {
      rgb = alignFace(decodeRgb(bytes), lm.landmarks.subarray(row * LANDMARK_VALUES, (row + 1) * LANDMARK_VALUES), ALIGNED_SIZE).data;
    } catch (e) {
      return fail(`cannot decode or align: ${e instanceof Error ? e.message : String(e)}`);
    }
    rows.push(row);
    pixels.push(rgb);
    if (rows.length >= ALIGN_BATCH_ROWS) flush();
  });
  flush();
  progress.finish();
  return writer.finish();
}

export async function ingestIjb(opts: IngestIjbOptions): Promise<DataManifest> {
  const meta = readIjbMeta(opts.root, opts.dataset, { pairs: 'require', landmarks: opts.align ? 'require' : 'auto' });
  const features = opts.featuresPickle ? readFeaturesPickle(opts.featuresPickle) : undefined;
  const n = meta.faces.images.length;
  if (features && features.rows !== n) {
    throw new InputError(`features pickle has ${features.rows} rows but ${path.basename(meta.faces.file)} has ${n}; expected one row per face-list line`, opts.featuresPickle);
  }
  const hasher = new SourceHasher(opts.root);
  const metaFiles = [meta.faces.file, meta.pairs!.file, meta.landmarks?.file, ...(meta.identification ? [...meta.identification.galleries.map((g) => g.file), meta.identification.probe.file] : [])];
  for (const f of metaFiles) if (f) hasher.addFile(f);
  if (opts.featuresPickle) hasher.addFile(opts.featuresPickle);

  return writeDirAtomic(opts.out, async (tmp) => {
    const parquet = { compression: opts.compression, targetPartBytes: opts.targetPartBytes };
    const tables: Record<string, TableWriteSummary> = {
      faces: writeTable(tmp, ijbFacesTable, ijbFacesArrowTable(meta, features), parquet),
      pairs: writeTable(tmp, ijbPairsTable, ijbPairsArrowTable(meta), parquet),
    };
    const counts: Record<string, number> = {
      faces: n,
      templates: meta.templates.templateIds.length,
      media: new Set(meta.faces.mediaIds).size,
      pairs: meta.pairs!.t1.length,
      genuinePairs: meta.pairs!.labels.reduce((s, v) => s + v, 0),
    };
    if (meta.identification) {
      for (const list of [...meta.identification.galleries, meta.identification.probe]) {
        tables[list.name] = writeTable(tmp, ijbIdentificationTable(list.name), ijbIdentificationArrowTable(list), parquet);
        counts[`${list.name}Templates`] = list.templateIds.length;
      }
    }
    if (features) {
      tables.features = writeTable(tmp, featuresTable(features.dim), featuresArrowTable(features), parquet);
      counts.featureDim = features.dim;
    }
    const skipped: DataManifest['skipped'] = [];
    if (opts.align) {
      tables.aligned = writeAligned(tmp, meta, opts, hasher, skipped);
      counts.aligned = tables.aligned.rows;
    }
    counts.skipped = skipped.length;
    const manifest = buildManifest({
      kind: 'ingest-ijb',
      source: hasher.finish(),
      tables,
      counts,
      skipped,
      options: { dataset: opts.dataset, featuresPickle: opts.featuresPickle ? path.basename(opts.featuresPickle) : null, align: !!opts.align, skipBad: !!opts.skipBad, compression: opts.compression ?? 'zstd' },
    });
    writeManifest(tmp, manifest);
    return manifest;
  });
}
