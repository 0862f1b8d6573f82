/**
 * How an extraction run is cut up. The input table's rows (positions 0..N-1 over all its parts) are
 * split into fixed chunks of `chunkRows`; chunk k covers [k*chunkRows, min((k+1)*chunkRows, N)) and
 * becomes exactly one part file, named by its first row. Shard i/n takes a contiguous run of
 * chunks. Chunk boundaries depend only on N and chunkRows, so shards, reruns and resumed runs all
 * compute each chunk the same way, and a part file's name says which rows it holds.
 */
import { InputError, UsageError } from '@facecoreset/common';

export interface Shard {
  index: number;
  count: number;
}

export interface Chunk {
  index: number;
  /** First row (position in the input table). */
  start: number;
  /** One past the last row. */
  end: number;
}

/** Parses "i/n" (0 <= i < n). */
export function parseShard(spec: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new UsageError(`bad --shard '${spec}': expected i/n with 0 <= i < n, e.g. 0/4`);
  return { index, count };
}

export function formatShard(s: Shard): string {
  return `${s.index}/${s.count}`;
}

export function planChunks(totalRows: number, chunkRows: number): Chunk[] {
  if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new UsageError(`rows per part must be a positive integer, got ${chunkRows}`);
  const chunks: Chunk[] = [];
  for (let start = 0, index = 0; start < totalRows; start += chunkRows, index++) chunks.push({ index, start, end: Math.min(start + chunkRows, totalRows) });
  return chunks;
}

/** The chunks of shard i/n: chunks floor(i*K/n) .. floor((i+1)*K/n) - 1 (contiguous, sizes differ by at most one). */
export function shardChunks(chunks: readonly Chunk[], shard: Shard): Chunk[] {
  const k = chunks.length;
  return chunks.slice(Math.floor((shard.index * k) / shard.count), Math.floor(((shard.index + 1) * k) / shard.count));
}

/** Digits of the row number in part names: enough for 10^12 rows, and names sort in row order. */
const PART_DIGITS = 12;

/**
 * The part file of a chunk: `part-<first row, 12 digits>.parquet`. It matches the data package's
 * `part-<digits>.parquet` listing, so every table reader finds the parts, in row order.
 */
export function chunkPartName(chunk: Chunk): string {
  return `part-${String(chunk.start).padStart(PART_DIGITS, '0')}.parquet`;
}

/** The first row of a part written by extraction, or undefined for any other file name. */
export function partFirstRow(name: string): number | undefined {
  const m = new RegExp(`^part-(\\d{${PART_DIGITS}})\\.parquet$`).exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Checks that the part names found cover every chunk exactly (no chunk missing, no stray part).
 * @returns the chunks without a part
 */
export function missingChunks(chunks: readonly Chunk[], partNames: Iterable<string>, where: string): Chunk[] {
  const starts = new Set(chunks.map((c) => c.start));
  const have = new Set<number>();
  for (const name of partNames) {
    const first = partFirstRow(name);
    if (first === undefined || !starts.has(first)) {
      throw new InputError(`unexpected part file ${name}: it is not the part of a chunk of this extraction (rows per part changed?)`, where);
    }
    have.add(first);
  }
  return chunks.filter((c) => !have.has(c.start));
}
