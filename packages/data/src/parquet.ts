/**
 * Parquet in and out through parquet-wasm (Rust arrow-rs compiled to WebAssembly) and apache-arrow.
 *
 * A stored table is a folder `<dir>/<spec.name>/` of `part-00000.parquet`, `part-00001.parquet`, ...
 * Large tables are split into parts of about `targetPartBytes` so no step holds more than one part
 * in memory (each part passes JS -> Arrow IPC -> wasm -> Parquet bytes, a few copies of itself).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '@facecoreset/common';
import { RecordBatch, Table, tableFromIPC, tableToIPC, type TypeMap } from 'apache-arrow';
import * as parquetWasm from 'parquet-wasm';
import type { TableSpec } from './schemas';

export type ParquetCompression = 'zstd' | 'snappy' | 'none';

export interface ParquetWriteOptions {
  /** Codec of every column but `rawColumns` (default zstd). */
  compression?: ParquetCompression;
  /** Rows per row group (default: derived from `rowGroupBytes`). */
  rowGroupRows?: number;
  /** Target bytes per row group when `rowGroupRows` is not given (default 32 MiB). */
  rowGroupBytes?: number;
  /** Columns stored uncompressed, without dictionary or statistics (already-compressed image bytes). */
  rawColumns?: readonly string[];
}

export const DEFAULT_ROW_GROUP_BYTES = 32 << 20;
export const DEFAULT_PART_BYTES = 128 << 20;

const CODECS: Record<ParquetCompression, parquetWasm.Compression> = {
  zstd: parquetWasm.Compression.ZSTD,
  snappy: parquetWasm.Compression.SNAPPY,
  none: parquetWasm.Compression.UNCOMPRESSED,
};

/** Bytes of the Arrow buffers behind a table (a good proxy for its Parquet size before compression). */
export function arrowByteLength(table: Table): number {
  let total = 0;
  const visit = (d: { buffers: ArrayLike<unknown>; children: unknown[] }): void => {
    for (const b of Array.from(d.buffers)) total += (b as ArrayBufferView | undefined)?.byteLength ?? 0;
    d.children.forEach((c) => visit(c as typeof d));
  };
  table.data.forEach((d) => visit(d as unknown as { buffers: ArrayLike<unknown>; children: unknown[] }));
  return total;
}

/** Encodes an Arrow table as one Parquet file's bytes. */
export function encodeParquet(table: Table, opts: ParquetWriteOptions = {}): Uint8Array {
  const rows = Math.max(1, table.numRows);
  const rowGroupRows = opts.rowGroupRows ?? Math.max(1, Math.min(1 << 20, Math.floor((opts.rowGroupBytes ?? DEFAULT_ROW_GROUP_BYTES) / Math.max(1, arrowByteLength(table) / rows))));
  let builder = new parquetWasm.WriterPropertiesBuilder()
    .setCompression(CODECS[opts.compression ?? 'zstd'])
    .setMaxRowGroupSize(rowGroupRows)
    .setCreatedBy('facecoreset (parquet-wasm)');
  for (const c of opts.rawColumns ?? []) {
    builder = builder.setColumnCompression(c, parquetWasm.Compression.UNCOMPRESSED).setColumnDictionaryEnabled(c, false).setColumnStatisticsEnabled(c, parquetWasm.EnabledStatistics.None);
  }
  const wasmTable = parquetWasm.Table.fromIPCStream(tableToIPC(table, 'stream'));
  return parquetWasm.writeParquet(wasmTable, builder.build());
}

/** Checks that a table read back has `spec`'s columns, in order, with the same Arrow types. */
export function checkSchema<T extends TypeMap>(table: Table, spec: TableSpec<T>, file: string, columns?: readonly string[]): Table<T> {
  const want = spec.schema.fields.filter((f) => !columns || columns.includes(f.name));
  const got = table.schema.fields;
  const describe = (fs_: readonly { name: string; type: unknown }[]): string => fs_.map((f) => `${f.name}: ${String(f.type)}`).join(', ');
  const same = want.length === got.length && want.every((f, i) => f.name === got[i].name && String(f.type) === String(got[i].type));
  if (!same) throw new InputError(`table ${spec.name}: expected columns [${describe(want)}], found [${describe(got)}]`, file);
  return table as unknown as Table<T>;
}

/** Decodes Parquet bytes into an Arrow table of `spec`'s schema (or only `columns` of it). */
export function decodeParquet<T extends TypeMap>(bytes: Uint8Array, spec: TableSpec<T>, file: string, columns?: readonly string[]): Table<T> {
  let table: Table;
  try {
    // parquet-wasm 0.6.1 ignores its `columns` option, so the projection happens here.
    table = tableFromIPC(parquetWasm.readParquet(bytes, { batchSize: 1 << 20 }).intoIPCStream());
  } catch (e) {
    throw new InputError(`not a readable Parquet file (${e instanceof Error ? e.message : String(e)})`, file);
  }
  const full = checkSchema(table, spec, file);
  return columns ? (full.select(columns as (keyof T & string)[]) as unknown as Table<T>) : full;
}

export function readParquetFile<T extends TypeMap>(file: string, spec: TableSpec<T>, columns?: readonly string[]): Table<T> {
  return decodeParquet(fs.readFileSync(file), spec, file, columns);
}

export function partFileName(index: number): string {
  return `part-${String(index).padStart(5, '0')}.parquet`;
}

/** The part files of table `spec` under `dir`, in order. */
export function listTableParts(dir: string, spec: { name: string }): string[] {
  const tableDir = path.join(dir, spec.name);
  if (!fs.existsSync(tableDir)) throw new InputError(`table folder ${spec.name}/ not found`, dir);
  const parts = fs.readdirSync(tableDir).filter((f) => /^part-\d+\.parquet$/.test(f)).sort();
  if (parts.length === 0) throw new InputError(`table folder has no part-*.parquet files`, tableDir);
  return parts.map((f) => path.join(tableDir, f));
}

/** Reads each part of a table in turn (one part in memory at a time). */
export function* iterateTableParts<T extends TypeMap>(dir: string, spec: TableSpec<T>, columns?: readonly string[]): Generator<{ file: string; table: Table<T> }> {
  for (const file of listTableParts(dir, spec)) yield { file, table: readParquetFile(file, spec, columns) };
}

/** Reads a whole table (all parts concatenated). */
export function readTable<T extends TypeMap>(dir: string, spec: TableSpec<T>, columns?: readonly string[]): Table<T> {
  const batches: RecordBatch<T>[] = [];
  let schema = spec.schema;
  for (const { table } of iterateTableParts(dir, spec, columns)) {
    schema = table.schema;
    batches.push(...table.batches);
  }
  return new Table(schema, batches);
}

export interface TableWriteSummary {
  name: string;
  rows: number;
  parts: number;
  bytes: number;
}

/**
 * Writes a table as parts of about `targetPartBytes` (Arrow bytes) each. Add record batches as
 * they are produced; a part is encoded and written whenever enough has accumulated.
 */
export class PartedTableWriter<T extends TypeMap> {
  private pending: RecordBatch<T>[] = [];
  private pendingBytes = 0;
  private parts = 0;
  private rows = 0;
  private bytes = 0;
  private readonly tableDir: string;

  constructor(
    dir: string,
    private readonly spec: TableSpec<T>,
    private readonly opts: ParquetWriteOptions & { targetPartBytes?: number } = {},
  ) {
    this.tableDir = path.join(dir, spec.name);
    fs.mkdirSync(this.tableDir, { recursive: true });
  }

  add(batch: RecordBatch<T>): void {
    if (batch.numRows === 0) return;
    const target = this.opts.targetPartBytes ?? DEFAULT_PART_BYTES;
    const bytes = arrowByteLength(new Table(batch));
    // A batch larger than a part (e.g. a whole features table) is split by rows. Slices share
    // their parent's buffers, so their size is estimated rather than measured.
    const rowsPerSlice = bytes > target ? Math.max(1, Math.floor((batch.numRows * target) / bytes)) : batch.numRows;
    for (let start = 0; start < batch.numRows; start += rowsPerSlice) {
      const end = Math.min(batch.numRows, start + rowsPerSlice);
      const sliceBytes = (bytes * (end - start)) / batch.numRows;
      if (this.pendingBytes > 0 && this.pendingBytes + sliceBytes > target) this.flush();
      this.pending.push(rowsPerSlice === batch.numRows ? batch : batch.slice(start, end));
      this.pendingBytes += sliceBytes;
      if (this.pendingBytes >= target) this.flush();
    }
  }

  addTable(table: Table<T>): void {
    table.batches.forEach((b) => this.add(b));
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const table = new Table(this.spec.schema, this.pending);
    const bytes = encodeParquet(table, this.opts);
    fs.writeFileSync(path.join(this.tableDir, partFileName(this.parts)), bytes);
    this.parts++;
    this.rows += table.numRows;
    this.bytes += bytes.length;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Writes what is left; an empty table still gets one (empty) part so readers find its schema. */
  finish(): TableWriteSummary {
    this.flush();
    if (this.parts === 0) {
      const bytes = encodeParquet(new Table(this.spec.schema), this.opts);
      fs.writeFileSync(path.join(this.tableDir, partFileName(0)), bytes);
      this.parts = 1;
      this.bytes += bytes.length;
    }
    return { name: this.spec.name, rows: this.rows, parts: this.parts, bytes: this.bytes };
  }
}

/** Writes a whole in-memory table (split into parts when large). */
export function writeTable<T extends TypeMap>(dir: string, spec: TableSpec<T>, table: Table<T>, opts: ParquetWriteOptions & { targetPartBytes?: number } = {}): TableWriteSummary {
  const w = new PartedTableWriter(dir, spec, opts);
  w.addTable(table);
  return w.finish();
}
