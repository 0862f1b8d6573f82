/**
 * MXNet RecordIO (`train.rec` + `train.idx`) -> images + identities tables.
 *
 * Two passes: the first reads only the record headers through the .idx (a few bytes per record) to
 * learn every source label, so dense labels are known before any row is written; the second reads
 * the .rec sequentially in large chunks and streams rows into Parquet parts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, writeDirAtomic } from '@facecoreset/common';
import { checkImageBytes } from '../image-check';
import { buildManifest, fingerprintSource, writeManifest, type DataManifest } from '../manifest';
import { decodePartHeader, IRHEADER_BYTES, primaryLabel, unpackRecord } from '../recordio/framing';
import { readLst } from '../recordio/index-file';
import { detectLayout, isImageKey, type RecordIOLayout } from '../recordio/layout';
import { RecordIOReader } from '../recordio/reader';
import { silentProgress, writeIdentitiesTable, writeImagesTable, type IngestCommonOptions } from './common';

export interface RecordIOFiles {
  rec: string;
  idx: string;
  lst?: string;
}

/** Finds `train.rec`/`.idx` (or the only `*.rec`) in a folder, or takes a .rec path. */
export function findRecordIOFiles(input: string): RecordIOFiles {
  if (!fs.existsSync(input)) throw new InputError('not found; expected a folder with train.rec and train.idx, or a .rec file', input);
  let rec = input;
  if (fs.statSync(input).isDirectory()) {
    const recs = fs.readdirSync(input).filter((f) => f.endsWith('.rec'));
    const pick = recs.includes('train.rec') ? 'train.rec' : recs.length === 1 ? recs[0] : undefined;
    if (!pick) throw new InputError(recs.length ? `several .rec files (${recs.join(', ')}) and no train.rec; pass the .rec file` : 'no .rec file in this folder', input);
    rec = path.join(input, pick);
  }
  const stem = rec.replace(/\.rec$/, '');
  const idx = stem + '.idx';
  if (!fs.existsSync(idx)) throw new InputError(`expected the index ${path.basename(idx)} next to it`, rec);
  const lst = fs.existsSync(stem + '.lst') ? stem + '.lst' : undefined;
  return { rec, idx, lst };
}

/** The primary label of the record at `offset`, from its first bytes only. */
function readHeaderLabel(reader: RecordIOReader, fd: number, offset: number, key: number, scratch: Uint8Array): number {
  const got = fs.readSync(fd, scratch, 0, scratch.length, offset);
  const view = new DataView(scratch.buffer, 0, got);
  if (got < 8) throw new InputError(`truncated: record header at offset ${offset} needs 8 bytes`, reader.recPath, `record ${key}`);
  const { cflag, length } = decodePartHeader(view, 0, offset, reader.recPath);
  const flag = got >= 8 + 4 ? view.getUint32(8, true) : 0;
  const need = IRHEADER_BYTES + (flag > 0 ? 4 : 0);
  // Whole first part in the scratch read and a single-part record: read the label in place.
  if (cflag === 0 && length >= need && got >= 8 + need) {
    return flag > 0 ? view.getFloat32(8 + IRHEADER_BYTES, true) : view.getFloat32(12, true);
  }
  return primaryLabel(reader.read(key).header);
}

interface LabelScan {
  sourceLabels: Float64Array;
  labelOfKey: Map<number, number>;
}

function scanLabels(reader: RecordIOReader, layout: RecordIOLayout): LabelScan {
  const index = reader.index!;
  const imageKeys = index.keys.filter((k) => isImageKey(layout, k));
  const sourceLabels = new Float64Array(imageKeys.length);
  const labelOfKey = new Map<number, number>();
  const fd = fs.openSync(reader.recPath, 'r');
  const scratch = new Uint8Array(64);
  try {
    imageKeys.forEach((key, i) => {
      const label = readHeaderLabel(reader, fd, reader.offsetOf(key), key, scratch);
      if (!Number.isFinite(label)) throw new InputError(`label ${label} is not a finite number`, reader.recPath, `record ${key}`);
      sourceLabels[i] = label;
      labelOfKey.set(key, label);
    });
  } finally {
    fs.closeSync(fd);
  }
  return { sourceLabels, labelOfKey };
}

export interface IngestRecordIOOptions extends IngestCommonOptions {
  /** A folder holding train.rec + train.idx (+ train.lst), or the .rec file. */
  input: string;
}

export async function ingestRecordIO(opts: IngestRecordIOOptions): Promise<DataManifest> {
  const files = findRecordIOFiles(opts.input);
  const reader = RecordIOReader.open(files.rec, files.idx);
  try {
    const index = reader.index!;
    const layout = detectLayout(reader);
    if (layout.kind === 'insightface') {
      for (let k = 1; k < layout.imageEnd; k++) {
        if (!reader.has(k)) throw new InputError(`the header (record 0) announces image records 1..${layout.imageEnd - 1} but key ${k} is not in the index`, files.idx);
      }
    }
    const lst = files.lst ? readLst(files.lst) : undefined;
    const { sourceLabels, labelOfKey } = scanLabels(reader, layout);
    const distinct = Float64Array.from(new Set(sourceLabels)).sort();
    const denseOf = new Map<number, number>();
    distinct.forEach((v, i) => denseOf.set(v, i));
    const identities = Array.from(distinct, (v) => String(v));
    const offsetToKey = new Map<number, number>();
    index.keys.forEach((k, i) => offsetToKey.set(index.offsets[i], k));

    const recName = path.basename(files.rec);
    const skipped: DataManifest['skipped'] = [];
    const counts = new Int32Array(identities.length);
    const progress = (opts.progress ?? silentProgress)('ingest recordio', index.keys.length);

    return await writeDirAtomic(opts.out, async (tmp) => {
      let scanned = 0;
      const imagesSummary = await writeImagesTable(tmp, opts, ({ append, release }) => {
        // One reused read buffer; image bytes go from it to the file, written before each refill.
        for (const raw of reader.scan({ reuseBuffer: true, beforeRefill: release })) {
          const key = offsetToKey.get(raw.offset);
          if (key === undefined) throw new InputError(`.idx/.rec mismatch: the record at offset ${raw.offset} is not in ${path.basename(files.idx)}`, files.rec, `offset ${raw.offset}`);
          scanned++;
          progress.tick(1, raw.end - raw.offset);
          if (!isImageKey(layout, key)) continue;
          const where = `record ${key} @ offset ${raw.offset}`;
          const { header, image } = unpackRecord(raw.payload, files.rec, where);
          const label = denseOf.get(primaryLabel(header));
          if (label === undefined || labelOfKey.get(key) !== primaryLabel(header)) throw new InputError(`record changed between the two passes (label ${primaryLabel(header)})`, files.rec, where);
          const check = checkImageBytes(image);
          if (!check.ok) {
            if (!opts.skipBad) throw new InputError(`corrupt image: ${check.reason} (use --skip-bad to skip and record it)`, files.rec, where);
            skipped.push({ where: `${recName}:${where}`, reason: check.reason });
            continue;
          }
          counts[label]++;
          append(key, label, identities[label], image, `${recName}@${raw.offset}`);
        }
      });
      if (scanned !== index.keys.length) {
        throw new InputError(`.idx/.rec mismatch: ${path.basename(files.idx)} lists ${index.keys.length} records, ${recName} holds ${scanned}`, files.rec);
      }
      const identitiesSummary = writeIdentitiesTable(tmp, identities, counts);
      progress.finish();
      const manifest = buildManifest({
        kind: 'ingest-recordio',
        source: fingerprintSource(path.dirname(files.rec), [files.rec, files.idx, ...(files.lst ? [files.lst] : [])]),
        tables: { images: imagesSummary, identities: identitiesSummary },
        counts: {
          records: index.keys.length,
          images: imagesSummary.rows,
          identities: identities.length,
          skipped: skipped.length,
          identityRecords: layout.kind === 'insightface' ? layout.identities.length : 0,
          lstEntries: lst?.length ?? 0,
        },
        skipped,
        options: { layout: layout.kind, skipBad: !!opts.skipBad, compression: 'none' },
      });
      writeManifest(tmp, manifest);
      return manifest;
    });
  } finally {
    reader.close();
  }
}
