/**
 * Arrow column data from typed arrays, without arrow's per-value builders (ingest builds columns
 * of millions of values; these take the buffers as they are).
 */
import { Binary, makeData, RecordBatch, Struct, Table, Utf8, type Data, type DataType, type FixedSizeList, type Float32, type Int32, type Int64, type Int8, type TypeMap } from 'apache-arrow';
import type { TableSpec } from './schemas';

export type ColumnData<T extends TypeMap> = { [K in keyof T]: Data<T[K]> };

/** Packs validity flags into an Arrow null bitmap; undefined when every value is valid. */
function nullBitmap(valid: ArrayLike<boolean> | undefined, length: number): { nullBitmap?: Uint8Array; nullCount: number } {
  if (!valid) return { nullCount: 0 };
  const bits = new Uint8Array(Math.ceil(length / 8));
  let nulls = 0;
  for (let i = 0; i < length; i++) {
    if (valid[i]) bits[i >> 3] |= 1 << (i & 7);
    else nulls++;
  }
  return nulls === 0 ? { nullCount: 0 } : { nullBitmap: bits, nullCount: nulls };
}

export function int64Column(type: Int64, values: BigInt64Array | ArrayLike<number>): Data<Int64> {
  const data = values instanceof BigInt64Array ? values : BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
  return makeData({ type, length: data.length, data });
}

export function int32Column(type: Int32, values: Int32Array): Data<Int32> {
  return makeData({ type, length: values.length, data: values });
}

export function int8Column(type: Int8, values: Int8Array): Data<Int8> {
  return makeData({ type, length: values.length, data: values });
}

export function float32Column(type: Float32, values: Float32Array, valid?: ArrayLike<boolean>): Data<Float32> {
  return makeData({ type, length: values.length, data: values, ...nullBitmap(valid, values.length) });
}

/** @param values [length * listSize] row-major */
export function fixedSizeListColumn(type: FixedSizeList<Float32>, values: Float32Array, valid?: ArrayLike<boolean>): Data<FixedSizeList<Float32>> {
  const length = values.length / type.listSize;
  if (!Number.isInteger(length)) throw new RangeError(`fixed_size_list[${type.listSize}]: ${values.length} values is not a whole number of rows`);
  const child = makeData({ type: type.children[0].type, length: values.length, data: values });
  return makeData({ type, length, child, ...nullBitmap(valid, length) });
}

/** Binary column from byte strings; copies them into one buffer. */
export function binaryColumn(type: Binary, values: readonly Uint8Array[]): Data<Binary> {
  const offsets = new Int32Array(values.length + 1);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    total += values[i].length;
    if (total > 0x7fffffff) throw new RangeError('binary column larger than 2 GiB; write smaller parts');
    offsets[i + 1] = total;
  }
  const data = new Uint8Array(total);
  values.forEach((v, i) => data.set(v, offsets[i]));
  return makeData({ type, length: values.length, valueOffsets: offsets, data });
}

const encoder = new TextEncoder();

export function utf8Column(type: Utf8, values: readonly string[]): Data<Utf8> {
  const encoded = values.map((s) => encoder.encode(s));
  const bin = binaryColumn(new Binary(), encoded);
  return makeData({ type, length: values.length, valueOffsets: bin.valueOffsets, data: bin.values });
}

/** The Arrow type of column `name` of `spec`, typed. */
export function columnType<T extends TypeMap, K extends keyof T & string>(spec: TableSpec<T>, name: K): T[K] {
  const f = spec.schema.fields.find((x) => x.name === name);
  if (!f) throw new RangeError(`table ${spec.name} has no column ${name}`);
  return f.type as T[K];
}

/** Assembles one record batch of `spec`'s schema from its columns (checked for equal lengths). */
export function makeBatch<T extends TypeMap>(spec: TableSpec<T>, columns: ColumnData<T>): RecordBatch<T> {
  const fields = spec.schema.fields;
  const children = fields.map((f) => {
    const c = columns[f.name as keyof T] as Data<DataType> | undefined;
    if (!c) throw new RangeError(`table ${spec.name}: column ${f.name} missing`);
    return c;
  });
  const length = children.length ? children[0].length : 0;
  children.forEach((c, i) => {
    if (c.length !== length) throw new RangeError(`table ${spec.name}: column ${fields[i].name} has ${c.length} rows, expected ${length}`);
  });
  const struct = makeData({ type: new Struct<T>(spec.schema.fields), length, nullCount: 0, children });
  return new RecordBatch(spec.schema, struct);
}

export function makeTypedTable<T extends TypeMap>(spec: TableSpec<T>, columns: ColumnData<T>): Table<T> {
  return new Table(spec.schema, [makeBatch(spec, columns)]);
}
