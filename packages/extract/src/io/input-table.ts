/**
 * The table extraction reads: an images table (`images/`, encoded JPEG/PNG in `image`; a record's
 * row is its position over all parts, which is what the features table's `row` indexes) or the IJB
 * aligned table (`aligned/`, raw 112x112 RGB in `rgb`; a record's row is its `row` column, the
 * face-list line). Row counts come from each part's Parquet footer, so opening a table of many GB
 * reads a few KB; rows are then read chunk by chunk, one part's bytes in memory at a time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '@facecoreset/common';
import { checkSchema, ijbAlignedTable, imagesTable, listTableParts, type TableSpec } from '@facecoreset/data';
import { tableFromIPC, type Table, type TypeMap } from 'apache-arrow';
import * as parquetWasm from 'parquet-wasm';
import type { ImageInput } from '../lib/extract';

export type InputTableKind = 'images' | 'aligned';

export interface InputPart {
  file: string;
  /** Position of the part's first row in the whole table. */
  start: number;
  rows: number;
}

export interface InputTable {
  kind: InputTableKind;
  /** The table folder (holding part-*.parquet). */
  tableDir: string;
  parts: InputPart[];
  totalRows: number;
}

const SPECS = { images: imagesTable, aligned: ijbAlignedTable } as const;
const COLUMNS: Record<InputTableKind, string[]> = { images: ['image'], aligned: ['row', 'rgb'] };

/**
 * Finds the table under `dir`: `dir/images/`, `dir/aligned/`, or `dir` itself when it is one of
 * those folders.
 */
export function findInputTable(dir: string): { kind: InputTableKind; parent: string } {
  const resolved = path.resolve(dir);
  if (!fs.existsSync(resolved)) throw new InputError('images table folder not found', dir);
  for (const kind of ['images', 'aligned'] as const) {
    if (fs.existsSync(path.join(resolved, kind))) return { kind, parent: resolved };
  }
  const base = path.basename(resolved);
  if ((base === 'images' || base === 'aligned') && fs.statSync(resolved).isDirectory()) return { kind: base, parent: path.dirname(resolved) };
  throw new InputError('no images/ or aligned/ table folder here; expected the output folder of fcn ingest (recordio, folder, or ijb --align)', dir);
}

async function partRowCount(file: string): Promise<number> {
  try {
    const pf = await parquetWasm.ParquetFile.fromFile(await fs.openAsBlob(file));
    try {
      return pf.metadata().fileMetadata().numRows();
    } finally {
      pf.free();
    }
  } catch (e) {
    throw new InputError(`not a readable Parquet file (${e instanceof Error ? e.message : String(e)})`, file);
  }
}

export async function openInputTable(dir: string): Promise<InputTable> {
  const { kind, parent } = findInputTable(dir);
  const files = listTableParts(parent, SPECS[kind]);
  const parts: InputPart[] = [];
  let start = 0;
  for (const file of files) {
    const rows = await partRowCount(file);
    parts.push({ file, start, rows });
    start += rows;
  }
  return { kind, tableDir: path.join(parent, kind), parts, totalRows: start };
}

/** Reads rows of an input table by position, keeping the bytes of the last part read. */
export class InputRowReader {
  private cached?: { file: string; bytes: Uint8Array };

  constructor(private readonly table: InputTable) {}

  private bytesOf(file: string): Uint8Array {
    if (this.cached?.file !== file) this.cached = { file, bytes: fs.readFileSync(file) };
    return this.cached.bytes;
  }

  private readSlice(part: InputPart, offset: number, limit: number): Table {
    const spec: TableSpec<TypeMap> = SPECS[this.table.kind] as unknown as TableSpec<TypeMap>;
    const columns = COLUMNS[this.table.kind];
    let table: Table;
    try {
      // parquet-wasm 0.6 ignores `columns` when `offset`/`limit` are given: select after reading.
      table = tableFromIPC(parquetWasm.readParquet(this.bytesOf(part.file), { offset, limit }).intoIPCStream());
    } catch (e) {
      throw new InputError(`not a readable Parquet file (${e instanceof Error ? e.message : String(e)})`, part.file);
    }
    const missing = columns.filter((c) => !table.schema.fields.some((f) => f.name === c));
    if (missing.length > 0) checkSchema(table, spec, part.file); // names every expected column
    table = table.select(columns);
    checkSchema(table, spec, part.file, columns);
    if (table.numRows !== limit) throw new InputError(`expected ${limit} rows from row ${offset}, read ${table.numRows}`, part.file);
    return table;
  }

  /**
   * Rows at positions [start, end) as extraction inputs (each naming its part file).
   * @throws InputError naming the part for unreadable parts or a wrong schema.
   */
  read(start: number, end: number): ImageInput[] {
    const images: ImageInput[] = [];
    for (const part of this.table.parts) {
      const from = Math.max(start, part.start);
      const to = Math.min(end, part.start + part.rows);
      if (from >= to) continue;
      const t = this.readSlice(part, from - part.start, to - from);
      if (this.table.kind === 'images') {
        const col = t.getChild('image')!;
        for (let i = 0; i < t.numRows; i++) images.push({ row: from + i, encoded: col.get(i) as Uint8Array, file: part.file });
      } else {
        const rows = t.getChild('row')!;
        const rgb = t.getChild('rgb')!;
        for (let i = 0; i < t.numRows; i++) images.push({ row: Number(rows.get(i)), rgb: rgb.get(i) as Uint8Array, file: part.file });
      }
    }
    return images;
  }
}
