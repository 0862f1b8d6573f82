/**
 * `fcn ingest recordio|folder|ijb`: argument parsing, progress lines and the summary line.
 * Each function takes the arguments after the sub-command and returns the exit code; bad usage
 * throws UsageError and bad input InputError (both exit 2 at the CLI's top level).
 */
import { parseArgs } from 'node:util';
import { Progress, UsageError } from '@facecoreset/common';
import type { ParquetCompression } from './parquet';
import { IJB_DATASETS, type IjbDataset } from './ijb/meta';
import { ingestImageFolder } from './ingest/folder';
import { ingestIjb } from './ingest/ijb';
import { ingestRecordIO } from './ingest/recordio';
import type { IngestCommonOptions, ProgressFactory } from './ingest/common';
import type { DataManifest } from './manifest';

export interface CliIo {
  out: (line: string) => void;
  /** Where progress lines go (default stderr). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Milliseconds between progress lines (default: Progress's own). */
  progressIntervalMs?: number;
}

const defaultIo: CliIo = { out: (s) => process.stdout.write(s + '\n') };

const COMMON_OPTIONS = `  --out <dir>            output folder (written under a temporary name, renamed when complete)
  --skip-bad             skip corrupt images, listing them in manifest.json, instead of failing
  --part-mb <n>          target size of each Parquet part file in MiB (default 128)
  --quiet                no progress line
  -h, --help             this help`;

export const INGEST_USAGE = {
  recordio: `Usage: fcn ingest recordio <dir|file.rec> --out <dir> [options]

Converts an MXNet RecordIO set (train.rec + train.idx [+ train.lst]; insightface layout with a
header record 0, or a plain one) into images/ and identities/ Parquet tables. Image bytes are
stored exactly as in the source (already compressed), so these tables are not compressed again.

${COMMON_OPTIONS}`,
  folder: `Usage: fcn ingest folder <root> --out <dir> [options]

Converts <root>/<identity>/<image>.{jpg,jpeg,png} (identities sorted, labels 0..C-1) into
images/ and identities/ Parquet tables (image bytes stored as they are).

${COMMON_OPTIONS}`,
  ijb: `Usage: fcn ingest ijb <root> --dataset IJBB|IJBC --out <dir> [--features-pickle <file>] [--align] [options]

Reads <root>/<IJBB|IJBC>/meta (face list, pairs, landmarks, 1:N lists) into faces/, pairs/,
gallery_*/ and probe_mixed/ tables; --features-pickle adds the official pre-extracted features
(features/); --align aligns every loose crop to 112x112 (aligned/).

  --dataset <name>       IJBB or IJBC
  --features-pickle <f>  the official features pickle (img_feats, norms, faceness_scores)
  --align                align loose_crop/ images with the 5-point landmarks
  --compression <codec>  zstd (default), snappy or none
${COMMON_OPTIONS}`,
};

const commonFlags = {
  out: { type: 'string' },
  'skip-bad': { type: 'boolean' },
  'part-mb': { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

function parse<T extends Record<string, { type: 'string' | 'boolean' }>>(argv: string[], flags: T, command: string) {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...commonFlags, ...flags }, allowPositionals: true, strict: true });
    if (positionals.length !== 1) throw new UsageError(`expected one input path, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}. See fcn ingest ${command} --help`);
    return { input: positionals[0], values: values as Record<string, string | boolean | undefined> };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // node's parseArgs messages can span lines; the CLI reports one line.
    const message = (e as Error).message.replace(/\s*\n\s*/g, ' ').replace(/\.+$/, '');
    throw new UsageError(`${message}. See fcn ingest ${command} --help`);
  }
}

function commonOptions(values: Record<string, string | boolean | undefined>, io: CliIo): IngestCommonOptions {
  const out = values.out;
  if (typeof out !== 'string' || out === '') throw new UsageError('--out <dir> is required');
  const compression = (values.compression ?? 'zstd') as ParquetCompression;
  if (!['zstd', 'snappy', 'none'].includes(compression)) throw new UsageError(`--compression: expected zstd, snappy or none, got ${compression}`);
  let targetPartBytes: number | undefined;
  if (values['part-mb'] !== undefined) {
    const mb = Number(values['part-mb']);
    if (!Number.isFinite(mb) || mb <= 0) throw new UsageError(`--part-mb: expected a positive number, got ${values['part-mb']}`);
    targetPartBytes = Math.round(mb * (1 << 20));
  }
  const progress: ProgressFactory = (label, total) => {
    const p = new Progress({ label, total, unit: 'records', secondary: { unit: 'MB/s', scale: 1e-6 }, stream: io.progressStream, minIntervalMs: io.progressIntervalMs, silent: values.quiet === true });
    return { tick: (n, bytes) => p.tick(n, bytes), finish: () => p.finish() };
  };
  return { out, skipBad: values['skip-bad'] === true, compression, targetPartBytes, progress };
}

function summarise(m: DataManifest, out: string): string {
  const tables = Object.values(m.tables)
    .map((t) => `${t.name} ${t.rows} rows`)
    .join(', ');
  const bytes = Object.values(m.tables).reduce((s, t) => s + t.bytes, 0);
  const skipped = m.skipped.length ? `; skipped ${m.skipped.length} bad (listed in manifest.json)` : '';
  return `wrote ${out}: ${tables} (${(bytes / 1e6).toFixed(1)} MB)${skipped}`;
}

export async function ingestRecordioMain(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const { input, values } = parse(argv, {}, 'recordio');
  const opts = commonOptions(values, io);
  io.out(summarise(await ingestRecordIO({ ...opts, input }), opts.out));
  return 0;
}

export async function ingestFolderMain(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const { input, values } = parse(argv, {}, 'folder');
  const opts = commonOptions(values, io);
  io.out(summarise(await ingestImageFolder({ ...opts, input }), opts.out));
  return 0;
}

export async function ingestIjbMain(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const { input, values } = parse(argv, { dataset: { type: 'string' }, 'features-pickle': { type: 'string' }, align: { type: 'boolean' }, compression: { type: 'string' } }, 'ijb');
  const dataset = values.dataset;
  if (typeof dataset !== 'string' || !IJB_DATASETS.includes(dataset as IjbDataset)) throw new UsageError(`--dataset: expected IJBB or IJBC, got ${dataset ?? 'nothing'}`);
  const opts = commonOptions(values, io);
  const manifest = await ingestIjb({ ...opts, root: input, dataset: dataset as IjbDataset, featuresPickle: values['features-pickle'] as string | undefined, align: values.align === true });
  io.out(summarise(manifest, opts.out));
  return 0;
}
