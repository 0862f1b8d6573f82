import * as path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { InputError, Rng } from '@facecoreset/common';
import { Binary, FixedSizeList, Float32, Int32, Int64, Int8, Table, Utf8, type DataType, type TypeMap } from 'apache-arrow';
import { binaryColumn, fixedSizeListColumn, float32Column, int32Column, int64Column, int8Column, makeBatch, utf8Column } from '../src/arrow-columns';
import { arrowByteLength, iterateTableParts, listTableParts, PartedTableWriter, readTable, writeTable } from '../src/parquet';
import { FlatParquetWriter } from '../src/parquet-stream';
import { tempDirs } from './helpers';
import { featuresTable, identitiesTable, ijbAlignedTable, ijbFacesTable, ijbIdentificationTable, ijbPairsTable, imagesTable, type ImagesType, type TableSpec } from '../src/schemas';

/** Code points of 1 to 4 UTF-8 bytes. */
const CHARS = Array.from('aZ9_/é字😀');

type Plain = bigint | number | string | Uint8Array | Float32Array | null;

function randomValue(type: DataType, nullable: boolean, rand: () => number): Plain {
  if (nullable && rand() < 0.2) return null;
  if (type instanceof Int64) return BigInt(Math.floor((rand() - 0.5) * 2 ** 52));
  if (type instanceof Int32) return Math.floor((rand() - 0.5) * 2 ** 32);
  if (type instanceof Int8) return Math.floor((rand() - 0.5) * 256);
  if (type instanceof Float32) return Math.fround((rand() - 0.5) * 1e3);
  if (type instanceof Utf8) return Array.from({ length: Math.floor(rand() * 12) }, () => CHARS[Math.floor(rand() * CHARS.length)]).join('');
  if (type instanceof Binary) return Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
  if (type instanceof FixedSizeList) return Float32Array.from({ length: type.listSize }, () => Math.fround(rand() * 2 - 1));
  throw new Error(`no generator for ${String(type)}`);
}

function columnFromPlain(type: DataType, values: Plain[]) {
  const valid = values.map((v) => v !== null);
  if (type instanceof Int64) return int64Column(type, BigInt64Array.from(values as bigint[]));
  if (type instanceof Int32) return int32Column(type, Int32Array.from(values as number[]));
  if (type instanceof Int8) return int8Column(type, Int8Array.from(values as number[]));
  if (type instanceof Float32) return float32Column(type, Float32Array.from(values, (v) => (v as number) ?? 0), valid);
  if (type instanceof Utf8) return utf8Column(type, values as string[]);
  if (type instanceof Binary) return binaryColumn(type, values as Uint8Array[]);
  if (type instanceof FixedSizeList) {
    const flat = new Float32Array(values.length * type.listSize);
    values.forEach((v, i) => v && flat.set(v as Float32Array, i * type.listSize));
    return fixedSizeListColumn(type, flat, valid);
  }
  throw new Error(`no builder for ${String(type)}`);
}

interface Generated<T extends TypeMap> {
  spec: TableSpec<T>;
  rows: Record<string, Plain>[];
  batches: Table<T>;
}

function generate<T extends TypeMap>(spec: TableSpec<T>, n: number, seed: number, batchRows = 17): Generated<T> {
  const rng = Rng.stream(seed, 'parquet-test');
  const rand = () => rng.float();
  const rows = Array.from({ length: n }, () => Object.fromEntries(spec.schema.fields.map((f) => [f.name, randomValue(f.type, f.nullable, rand)])));
  const batches = [];
  for (let s = 0; s < n; s += batchRows) {
    const slice = rows.slice(s, s + batchRows);
    const cols = Object.fromEntries(spec.schema.fields.map((f) => [f.name, columnFromPlain(f.type, slice.map((r) => r[f.name]))]));
    batches.push(makeBatch(spec, cols as never));
  }
  return { spec, rows, batches: new Table(spec.schema, batches) };
}

function plainOf(v: unknown): Plain {
  if (v === null || v === undefined) return null;
  if (typeof v === 'object' && 'toArray' in (v as object)) return Float32Array.from((v as { toArray(): ArrayLike<number> }).toArray());
  return v as Plain;
}

const specs: Array<TableSpec<any>> = [imagesTable, identitiesTable, ijbFacesTable, ijbPairsTable, ijbIdentificationTable('gallery_S1'), ijbAlignedTable, featuresTable(8)];

const DUCK_TYPES: Record<string, string> = { Int64: 'BIGINT', Int32: 'INTEGER', Int8: 'TINYINT', Float32: 'FLOAT', Utf8: 'VARCHAR', Binary: 'BLOB' };
function duckTypeOf(type: DataType): string {
  return type instanceof FixedSizeList ? 'FLOAT[]' : DUCK_TYPES[String(type)] ?? '?';
}

function duckPlain(v: unknown): Plain {
  if (v === null) return null;
  if (typeof v === 'object' && v !== null && 'bytes' in v) return new Uint8Array((v as { bytes: Uint8Array }).bytes);
  if (typeof v === 'object' && v !== null && 'items' in v) return Float32Array.from((v as { items: number[] }).items);
  return v as Plain;
}

const makeDir = tempDirs('parquet');

describe('Parquet tables (parquet-wasm + apache-arrow)', () => {
  let dir: string;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    dir = makeDir();
    conn = await (await DuckDBInstance.create(':memory:')).connect();
  });

  test.each(specs.map((s, i) => [s.name, i] as const))('%s: round trip through several parts and row groups, and read back by DuckDB column by column', async (_name, i) => {
    const spec = specs[i];
    const g = generate(spec, 101, 1000 + i);
    const out = path.join(dir, `t${i}`);
    // Tiny parts and row groups so part listing and row-group boundaries are exercised.
    const summary = writeTable(out, spec, g.batches, { targetPartBytes: arrowByteLength(g.batches) / 4, rowGroupRows: 7, rawColumns: spec === imagesTable ? ['image'] : [] });
    expect(summary.rows).toBe(101);
    expect(summary.parts).toBeGreaterThan(1);
    expect(listTableParts(out, spec).length).toBe(summary.parts);

    const back = readTable(out, spec);
    expect(back.numRows).toBe(101);
    expect(back.schema.fields.map((f) => `${f.name}: ${String(f.type)}`)).toEqual(spec.schema.fields.map((f) => `${f.name}: ${String(f.type)}`));
    for (const f of spec.schema.fields) {
      const column = back.getChild(f.name)!;
      expect(Array.from({ length: 101 }, (_, r) => plainOf(column.get(r)))).toEqual(g.rows.map((r) => r[f.name]));
    }

    const glob = path.join(out, spec.name, '*.parquet');
    const result = await conn.runAndReadAll(`select * from read_parquet('${glob}')`);
    expect(result.columnNames()).toEqual(spec.schema.fields.map((f) => f.name));
    expect(result.columnTypes().map(String)).toEqual(spec.schema.fields.map((f) => duckTypeOf(f.type)));
    const rows = result.getRows();
    spec.schema.fields.forEach((f, c) => {
      expect(rows.map((r) => duckPlain(r[c]))).toEqual(g.rows.map((r) => r[f.name]));
    });
    const meta = await conn.runAndReadAll(`select path_in_schema, compression, count(*) from parquet_metadata('${glob}') group by all order by 1`);
    for (const [col, codec] of meta.getRows()) expect(codec).toBe(spec === imagesTable && col === 'image' ? 'UNCOMPRESSED' : 'ZSTD');
    const groups = await conn.runAndReadAll(`select count(distinct (file_name, row_group_id)) from parquet_metadata('${glob}')`);
    expect(Number(groups.getRows()[0][0])).toBeGreaterThan(summary.parts);
  });

  test('FlatParquetWriter (plain TypeScript, used for the images table): parts, row groups and pages read back by parquet-wasm and DuckDB', async () => {
    const g = generate(imagesTable, 300, 99);
    const out = path.join(dir, 'flat');
    const w = new FlatParquetWriter(out, imagesTable, { rowGroupBytes: 1500, targetPartBytes: 5000 });
    for (const r of g.rows) w.append(imagesTable.schema.fields.map((f) => r[f.name] as bigint | number | string | Uint8Array));
    const summary = w.finish();
    expect(summary.rows).toBe(300);
    expect(summary.parts).toBeGreaterThan(1);
    const back = readTable(out, imagesTable);
    for (const f of imagesTable.schema.fields) {
      const column = back.getChild(f.name as keyof ImagesType)!;
      expect(Array.from({ length: 300 }, (_, r) => plainOf(column.get(r)))).toEqual(g.rows.map((r) => r[f.name]));
    }
    const glob = path.join(out, 'images', '*.parquet');
    const result = await conn.runAndReadAll(`select * from read_parquet('${glob}')`);
    expect(result.columnTypes().map(String)).toEqual(['BIGINT', 'INTEGER', 'VARCHAR', 'BLOB', 'VARCHAR']);
    const rows = result.getRows();
    imagesTable.schema.fields.forEach((f, c) => expect(rows.map((r) => duckPlain(r[c]))).toEqual(g.rows.map((r) => r[f.name])));
    const groups = await conn.runAndReadAll(`select count(distinct (file_name, row_group_id)) from parquet_metadata('${glob}')`);
    expect(Number(groups.getRows()[0][0])).toBeGreaterThan(summary.parts);

    const projected = readTable(out, imagesTable, ['label', 'image_id']);
    expect(projected.schema.fields.map((f) => f.name)).toEqual(['label', 'image_id']);
    expect(Array.from(projected.getChild('label')!.toArray())).toEqual(g.rows.map((r) => r.label));

    const empty = new FlatParquetWriter(path.join(dir, 'flat-empty'), imagesTable).finish();
    expect(empty).toMatchObject({ rows: 0, parts: 1 });
    expect(readTable(path.join(dir, 'flat-empty'), imagesTable).numRows).toBe(0);
    expect(Number((await conn.runAndReadAll(`select count(*) from read_parquet('${path.join(dir, 'flat-empty/images/*.parquet')}')`)).getRows()[0][0])).toBe(0);
    expect(() => new FlatParquetWriter(dir, ijbPairsTable)).toThrow(/column label has type Int8; supported: Int32, Int64, Utf8, Binary/);
    expect(() => new FlatParquetWriter(dir, ijbFacesTable)).toThrow(/column landmarks is nullable/);
  });

  test('FlatParquetWriter direct column: values written from a reused buffer before each overwrite, several pages per chunk', async () => {
    const g = generate(imagesTable, 120, 5);
    const out = path.join(dir, 'direct');
    const w = new FlatParquetWriter(out, imagesTable, { rowGroupBytes: 900, targetPartBytes: 2500, directColumn: 'image' });
    // Like the RecordIO scan: three rows per buffer fill, release() before the buffer is refilled.
    const scratch = new Uint8Array(3 * 64);
    g.rows.forEach((r, i) => {
      if (i % 3 === 0) {
        w.release();
        scratch.fill(0xee);
      }
      const img = r.image as Uint8Array;
      const at = (i % 3) * 64;
      scratch.set(img, at);
      w.append([r.image_id as bigint, r.label as number, r.identity as string, scratch.subarray(at, at + img.length), r.source as string]);
    });
    const summary = w.finish();
    expect(summary).toMatchObject({ rows: 120 });
    expect(summary.parts).toBeGreaterThan(1);
    const back = readTable(out, imagesTable);
    expect(Array.from({ length: 120 }, (_, r) => plainOf(back.getChild('image')!.get(r)))).toEqual(g.rows.map((r) => r.image));
    expect(Array.from({ length: 120 }, (_, r) => back.getChild('source')!.get(r))).toEqual(g.rows.map((r) => r.source));
    const glob = path.join(out, 'images', '*.parquet');
    const rows = (await conn.runAndReadAll(`select image, image_id from read_parquet('${glob}')`)).getRows();
    expect(rows.map((r) => duckPlain(r[0]))).toEqual(g.rows.map((r) => r.image));
    expect(rows.map((r) => r[1])).toEqual(g.rows.map((r) => r.image_id));
    expect(() => new FlatParquetWriter(out, imagesTable, { directColumn: 'source' })).toThrow(/direct column source must be a Binary column of images/);
  });

  test('PartedTableWriter streams batches into parts; iterateTableParts reads them one at a time', () => {
    const g = generate(imagesTable, 60, 7, 5);
    const w = new PartedTableWriter(path.join(dir, 'stream'), imagesTable, { targetPartBytes: 1500 });
    g.batches.batches.forEach((b) => w.add(b));
    const s = w.finish();
    const parts = [...iterateTableParts(path.join(dir, 'stream'), imagesTable)];
    expect(parts.length).toBe(s.parts);
    expect(parts.reduce((n, p) => n + p.table.numRows, 0)).toBe(60);
    expect(parts.flatMap((p) => Array.from(p.table.getChild('image_id')!.toArray() as BigInt64Array))).toEqual(g.rows.map((r) => r.image_id));
  });

  test('one batch larger than a part is split by rows into several parts', () => {
    const dim = 16;
    const spec = featuresTable(dim);
    const g = generate(spec, 200, 3, 200);
    expect(g.batches.batches.length).toBe(1);
    const s = writeTable(path.join(dir, 'split'), spec, g.batches, { targetPartBytes: 4000 });
    expect(s.parts).toBeGreaterThanOrEqual(4);
    const back = readTable(path.join(dir, 'split'), spec);
    expect(Array.from({ length: 200 }, (_, r) => plainOf(back.getChild('embedding')!.get(r)))).toEqual(g.rows.map((r) => r.embedding));
  });

  test('an empty table still has one readable part; a reader asking for the wrong schema is told which columns differ', () => {
    const s = writeTable(path.join(dir, 'empty'), identitiesTable, new Table(identitiesTable.schema));
    expect(s).toMatchObject({ rows: 0, parts: 1 });
    expect(readTable(path.join(dir, 'empty'), identitiesTable).numRows).toBe(0);
    const wrong = { ...ijbPairsTable, name: 'identities' };
    expect(() => readTable(path.join(dir, 'empty'), wrong)).toThrow(InputError);
    expect(() => readTable(path.join(dir, 'empty'), wrong)).toThrow(/expected columns \[t1: Int32, t2: Int32, label: Int8\], found \[label: Int32, identity: Utf8, count: Int32\]/);
    expect(() => listTableParts(path.join(dir, 'nowhere'), identitiesTable)).toThrow(/table folder identities\/ not found/);
  });
});
