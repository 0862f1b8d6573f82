/**
 * The Arrow schemas of every table the pipeline stores, declared once. Each `TableSpec<T>` carries
 * the Arrow schema and its type map `T`, so code holding a `Table<T>` knows each column's type.
 * Bump SCHEMA_VERSION whenever a column is added, removed or changes type.
 */
import { Binary, DataType, Field, FixedSizeList, Float32, Int32, Int64, Int8, Schema, Utf8, type Table, type TypeMap } from 'apache-arrow';

export const SCHEMA_VERSION = 1;

interface ColumnSpec<T extends DataType = DataType> {
  type: T;
  nullable: boolean;
}

export interface TableSpec<T extends TypeMap> {
  /** Folder name of the table inside an output directory. */
  name: string;
  schema: Schema<T>;
}

function col<T extends DataType>(type: T, nullable = false): ColumnSpec<T> {
  return { type, nullable };
}

function defineTable<C extends Record<string, ColumnSpec>>(name: string, columns: C): TableSpec<{ [K in keyof C & string]: C[K]['type'] }> {
  const fields = Object.entries(columns).map(([n, c]) => new Field(n, c.type, c.nullable));
  return { name, schema: new Schema(fields) as Schema<{ [K in keyof C & string]: C[K]['type'] }> };
}

const float32List = (size: number): FixedSizeList<Float32> => new FixedSizeList(size, new Field('item', new Float32(), false));

/** Landmarks: x1 y1 ... x5 y5 in loose-crop pixel coordinates. */
export const LANDMARK_VALUES = 10;

/** Training images, encoded bytes exactly as stored in the source. `image_id` is the record key or file index. */
export const imagesTable = defineTable('images', {
  image_id: col(new Int64()),
  /** Dense 0..C-1 in sorted order of `identity`. */
  label: col(new Int32()),
  /** The source's identity: RecordIO label as an integer string, or the folder name. */
  identity: col(new Utf8()),
  image: col(new Binary()),
  /** `<file>@<offset>` for RecordIO, the root-relative path for folders. */
  source: col(new Utf8()),
});

export const identitiesTable = defineTable('identities', {
  label: col(new Int32()),
  identity: col(new Utf8()),
  count: col(new Int32()),
});

/** IJB faces: row i = line i of `<name>_face_tid_mid.txt`. */
export const ijbFacesTable = defineTable('faces', {
  row: col(new Int32()),
  image: col(new Utf8()),
  template_id: col(new Int32()),
  media_id: col(new Int32()),
  landmarks: col(float32List(LANDMARK_VALUES), true),
  faceness: col(new Float32(), true),
});

/** IJB 1:1 pairs in file order; label 1 = same subject. */
export const ijbPairsTable = defineTable('pairs', {
  t1: col(new Int32()),
  t2: col(new Int32()),
  label: col(new Int8()),
});

/** One IJB 1:N gallery/probe file: its distinct templates (ascending) and their subject. */
export function ijbIdentificationTable(name: string) {
  return defineTable(name, {
    template_id: col(new Int32()),
    subject_id: col(new Int32()),
  });
}

/**
 * Aligned crops of IJB faces, written by `ingest ijb --align`: `rgb` is ALIGNED_SIZE x ALIGNED_SIZE x 3
 * uint8, row-major HWC, RGB order (raw pixels; the table's zstd compression does the packing).
 */
export const ijbAlignedTable = defineTable('aligned', {
  row: col(new Int32()),
  rgb: col(new Binary()),
});

export const ALIGNED_SIZE = 112;

/**
 * Features of the images/faces table: `row` indexes that table, `view` 0 original, 1 flip,
 * 2.. augmented; `embedding` unit length [D]; `norm` the backbone feature norm.
 */
export function featuresTable(dim: number) {
  return defineTable('features', {
    row: col(new Int64()),
    view: col(new Int8()),
    embedding: col(float32List(dim)),
    norm: col(new Float32()),
  });
}

export type ImagesType = (typeof imagesTable)['schema'] extends Schema<infer T> ? T : never;
export type IdentitiesType = (typeof identitiesTable)['schema'] extends Schema<infer T> ? T : never;
export type IjbFacesType = (typeof ijbFacesTable)['schema'] extends Schema<infer T> ? T : never;
export type IjbPairsType = (typeof ijbPairsTable)['schema'] extends Schema<infer T> ? T : never;
export type IjbIdentificationType = ReturnType<typeof ijbIdentificationTable>['schema'] extends Schema<infer T> ? T : never;
export type IjbAlignedType = (typeof ijbAlignedTable)['schema'] extends Schema<infer T> ? T : never;
export type FeaturesType = ReturnType<typeof featuresTable>['schema'] extends Schema<infer T> ? T : never;

export type ImagesArrowTable = Table<ImagesType>;
export type IdentitiesArrowTable = Table<IdentitiesType>;
export type IjbFacesArrowTable = Table<IjbFacesType>;
export type IjbPairsArrowTable = Table<IjbPairsType>;
export type IjbIdentificationArrowTable = Table<IjbIdentificationType>;
export type FeaturesArrowTable = Table<FeaturesType>;
