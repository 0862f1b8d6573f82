/**
 * `fcn extract` and `fcn extract merge`: argument parsing, progress lines and the summary line.
 * Each function takes the arguments after the sub-command and returns the exit code; bad usage
 * throws UsageError and bad input InputError (both exit 2 at the CLI's top level).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Progress, UsageError } from '@facecoreset/common';
import { isIResNetArch, IRESNET_ARCHS } from '@facecoreset/model';
import { formatShard, parseShard } from './lib/plan';
import { mergeFeatureShards } from './io/merge';
import { DEFAULT_BATCH_SIZE, DEFAULT_PART_ROWS, runExtraction, type ExtractRunResult, type RunReporter } from './io/run';

export interface CliIo {
  out: (line: string) => void;
  /** Where progress and log lines go (default stderr). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  progressIntervalMs?: number;
}

const defaultIo: CliIo = { out: (s) => process.stdout.write(s + '\n') };

export const EXTRACT_USAGE = `Usage: fcn extract --images <table dir> --checkpoint <backbone> --out <dir>
                   [--views original,flip,aug:N] [--shard i/n] [--batch-size N] [--seed N]
                   [--part-rows N] [--arch ir_18|ir_34|ir_50|ir_101] [--backend wasm|cpu|node|node-gpu] [--quiet]

Runs the backbone over every image of an ingested table and writes the features table
<out>/features/part-*.parquet (row int64, view int8, embedding float32[D] unit length, norm float32).

  --images       output folder of fcn ingest recordio|folder (images/: encoded JPEG/PNG, row = position
                 in the table) or fcn ingest ijb --align (aligned/: raw RGB, row = face-list line);
                 every image must be an aligned 112x112 crop
  --checkpoint   AdaFace / Lightning .ckpt (backbone under model.) or our .safetensors backbone
  --views        views per image (default original): original, flip (mirror), aug:N (N augmented
                 copies seeded by (seed, row, view): crop with black fill, low resolution,
                 photometric, p = 0.5 each, plus RandAugment-style ops)
  --shard i/n    compute only the i-th of n contiguous row ranges (default 0/1); shards may write into
                 one --out folder or into several, joined by fcn extract merge
  --batch-size   images per backbone call (default ${DEFAULT_BATCH_SIZE})
  --seed         seed of the augmented views (default 0)
  --part-rows    input rows per part file (default ${DEFAULT_PART_ROWS}); fixed for the life of an --out folder
  --arch         check the checkpoint holds this architecture
  --backend      tfjs backend (default FCN_BACKEND, then the fastest that loads)

Resumable: each part is written under a temporary name and renamed when complete, named by its
first row; a rerun with the same settings keeps the finished parts and computes the rest.
manifest.json is written when the folder holds the whole table.`;

export const MERGE_USAGE = `Usage: fcn extract merge --out <dir> [<shard dir> ...]

Joins the parts written by fcn extract --shard i/n runs into one features table in --out (hard
links, no copy; a copy only across filesystems), checks every row range is present exactly once
and writes manifest.json. With no shard folders, checks and completes --out itself (every shard
wrote into it).`;

function intFlag(value: string | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function reporterFor(io: CliIo, quiet: boolean): RunReporter {
  const stream = io.progressStream ?? process.stderr;
  return {
    log: (line) => {
      if (!quiet) stream.write(line + '\n');
    },
    progress: (label, total) => {
      const p = new Progress({ label, total, unit: 'images', stream, minIntervalMs: io.progressIntervalMs, silent: quiet });
      return { tick: (n) => p.tick(n), finish: () => p.finish() };
    },
  };
}

export function summaryLine(r: ExtractRunResult, out: string): string {
  const rate = r.seconds > 0 ? ` in ${r.seconds.toFixed(1)} s, ${(r.images / r.seconds).toFixed(2)} images/s` : '';
  const head = `extract shard ${formatShard(r.shard)}: ${r.computedParts} part(s) computed (${r.images} images${rate}), ${r.keptParts} kept from an earlier run`;
  if (r.table) return `${head}; features table complete: ${r.table.records} records (${r.table.images} images) in ${r.table.parts} part(s) in ${out}`;
  return `${head}; other shards' parts are still missing: when all shards are done, run fcn extract merge --out <dir> <shard dirs>`;
}

/** `fcn extract ...` */
export async function extractMain(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const { values } = parse(argv, {
    images: { type: 'string' },
    checkpoint: { type: 'string' },
    out: { type: 'string' },
    views: { type: 'string', default: 'original' },
    shard: { type: 'string', default: '0/1' },
    'batch-size': { type: 'string' },
    seed: { type: 'string' },
    'part-rows': { type: 'string' },
    arch: { type: 'string' },
    backend: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  });
  const v = values as Record<string, string | boolean | undefined>;
  for (const req of ['images', 'checkpoint', 'out'] as const) if (!v[req]) throw new UsageError(`--${req} is required (fcn extract --help)`);
  const arch = v.arch as string | undefined;
  if (arch !== undefined && !isIResNetArch(arch)) throw new UsageError(`--arch must be one of ${IRESNET_ARCHS.join(', ')}, got '${arch}'`);
  const seed = v.seed === undefined ? 0 : Number(v.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got '${v.seed}'`);
  const result = await runExtraction({
    images: v.images as string,
    checkpoint: v.checkpoint as string,
    out: v.out as string,
    views: v.views as string,
    shard: parseShard(v.shard as string),
    batchSize: intFlag(v['batch-size'] as string | undefined, 'batch-size', DEFAULT_BATCH_SIZE, 1),
    seed,
    partRows: intFlag(v['part-rows'] as string | undefined, 'part-rows', DEFAULT_PART_ROWS, 1),
    arch,
    backend: v.backend as string | undefined,
    reporter: reporterFor(io, v.quiet === true),
  });
  io.out(summaryLine(result, v.out as string));
  return 0;
}

/** `fcn extract merge ...` */
export async function extractMergeMain(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const { values, positionals } = parse(argv, { out: { type: 'string' } }, true);
  const out = values.out as string | undefined;
  if (!out) throw new UsageError('--out is required (fcn extract merge --help)');
  const r = await mergeFeatureShards(out, positionals.length > 0 ? positionals : [out]);
  io.out(`extract merge: features table complete: ${r.records} records (${r.images} images) in ${r.parts} part(s) in ${out} (${r.linked} linked, ${r.copied} copied)`);
  return 0;
}
