/** Small inputs for extraction tests: generated face-sized images, an images table, a tiny IResNet checkpoint. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeSafetensors, type SafeTensorInput } from '@facecoreset/common';
import {
  binaryColumn,
  columnType,
  featuresTable,
  ijbAlignedTable,
  imagesTable,
  int32Column,
  int64Column,
  encodeParquet,
  listTableParts,
  makeTypedTable,
  partFileName,
  readParquetFile,
  utf8Column,
  writeTable,
} from '@facecoreset/data';
import { exportIResNetStateDict, initIResNetWeights, iresnetConfig, type IResNetConfig } from '@facecoreset/model';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

export const TINY_CONFIG: IResNetConfig = iresnetConfig({ widths: [8, 16, 24, 32], units: [1, 1, 1, 1], embeddingSize: 16, inputSize: 112 });

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `fcn-extract-${label}-`));
}

/** A smooth, image-specific RGB pattern (so features differ from image to image). */
export function patternRgb(seed: number, size = 112): Uint8Array {
  const data = new Uint8Array(size * size * 3);
  const a = 1 + (seed % 5);
  const b = 2 + ((seed * 7) % 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      data[o] = 128 + 100 * Math.sin((a * x) / 17 + seed);
      data[o + 1] = 128 + 100 * Math.cos((b * y) / 13 - seed);
      data[o + 2] = ((x * y + seed * 31) >> 4) & 0xff;
    }
  }
  return data;
}

export function encodePng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    png.data[i * 4] = rgb[j];
    png.data[i * 4 + 1] = rgb[j + 1];
    png.data[i * 4 + 2] = rgb[j + 2];
    png.data[i * 4 + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png));
}

export function encodeJpeg(rgb: Uint8Array, width: number, height: number, quality = 95): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    rgba[i * 4] = rgb[j];
    rgba[i * 4 + 1] = rgb[j + 1];
    rgba[i * 4 + 2] = rgb[j + 2];
    rgba[i * 4 + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ width, height, data: rgba }, quality).data);
}

/** Encoded images alternating JPEG and PNG. */
export function sampleImages(count: number, size = 112): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => (i % 2 === 0 ? encodeJpeg(patternRgb(i, size), size, size) : encodePng(patternRgb(i, size), size, size)));
}

/**
 * Writes `<dir>/images/` from encoded images (image_id = 1000 + i, so ids differ from positions),
 * `rowsPerPart` rows per Parquet part.
 */
export function writeImagesTable(dir: string, images: readonly Uint8Array[], rowsPerPart = images.length): void {
  const tableDir = path.join(dir, imagesTable.name);
  fs.mkdirSync(tableDir, { recursive: true });
  for (let at = 0, part = 0; at < images.length; at += rowsPerPart, part++) {
    const ids = Array.from({ length: Math.min(rowsPerPart, images.length - at) }, (_, k) => at + k);
    const table = makeTypedTable(imagesTable, {
      image_id: int64Column(columnType(imagesTable, 'image_id'), ids.map((i) => 1000 + i)),
      label: int32Column(columnType(imagesTable, 'label'), Int32Array.from(ids, (i) => i % 3)),
      identity: utf8Column(columnType(imagesTable, 'identity'), ids.map((i) => `id${i % 3}`)),
      image: binaryColumn(columnType(imagesTable, 'image'), ids.map((i) => images[i])),
      source: utf8Column(columnType(imagesTable, 'source'), ids.map((i) => `img${i}.jpg`)),
    });
    fs.writeFileSync(path.join(tableDir, partFileName(part)), encodeParquet(table, { rawColumns: ['image'] }));
  }
}

/** Writes `<dir>/aligned/` with the given face rows and raw RGB crops. */
export function writeAlignedTable(dir: string, rows: readonly number[], rgb: readonly Uint8Array[]): void {
  const table = makeTypedTable(ijbAlignedTable, {
    row: int32Column(columnType(ijbAlignedTable, 'row'), Int32Array.from(rows)),
    rgb: binaryColumn(columnType(ijbAlignedTable, 'rgb'), rgb),
  });
  writeTable(dir, ijbAlignedTable, table);
}

/** A random-weights IResNet saved as safetensors under `model.` (BatchNorm statistics made non-trivial). */
export function writeTinyCheckpoint(file: string, config: IResNetConfig = TINY_CONFIG, seed = 3): void {
  const weights = initIResNetWeights(config, seed);
  let k = 0;
  for (const [name, data] of weights.tensors) {
    if (name.endsWith('running_var')) for (let i = 0; i < data.length; i++) data[i] = 0.5 + ((i * 7 + k) % 10) / 10;
    if (name.endsWith('running_mean')) for (let i = 0; i < data.length; i++) data[i] = (((i * 13 + k) % 7) - 3) / 20;
    k++;
  }
  const tensors: Record<string, SafeTensorInput> = {};
  for (const [name, e] of exportIResNetStateDict(weights)) {
    tensors[name] = { dtype: e.dtype === 'int64' ? 'I64' : 'F32', shape: [...e.shape], values: e.data as ArrayLike<number> };
  }
  fs.writeFileSync(file, encodeSafetensors(tensors, { backbone: JSON.stringify(config) }));
}

export interface FeatureRowsRead {
  dim: number;
  /** "row/view" -> embedding bytes + norm, for bit-exact comparison. */
  byKey: Map<string, { embedding: Float32Array; norm: number }>;
  records: number;
}

/** Reads every part of `<dir>/features/`. */
export function readFeatures(dir: string, dim: number): FeatureRowsRead {
  const byKey = new Map<string, { embedding: Float32Array; norm: number }>();
  let records = 0;
  for (const file of listTableParts(dir, { name: 'features' })) {
    const t = readParquetFile(file, featuresTable(dim));
    const row = t.getChild('row')!;
    const view = t.getChild('view')!;
    const emb = t.getChild('embedding')!;
    const norm = t.getChild('norm')!;
    for (let i = 0; i < t.numRows; i++) {
      const key = `${row.get(i)}/${view.get(i)}`;
      if (byKey.has(key)) throw new Error(`duplicate record ${key}`);
      byKey.set(key, { embedding: Float32Array.from(emb.get(i)!), norm: norm.get(i)! });
      records++;
    }
  }
  return { dim, byKey, records };
}

export function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
