/**
 * Small images + features tables for training tests: identities with a random centre, images
 * scattered around it, views scattered around their image, norms higher for images nearer the
 * centre. Written with the data package's Parquet writer, in two parts, rows shuffled.
 */
import * as path from 'node:path';
import { Rng } from '@facecoreset/common';
import { binaryColumn, columnType, featuresTable, fixedSizeListColumn, float32Column, imagesTable, int32Column, int64Column, int8Column, makeTypedTable, utf8Column, writeTable } from '@facecoreset/data';

export interface SyntheticTablesOptions {
  identities: number;
  minImages: number;
  maxImages: number;
  views: number;
  dim: number;
  seed: number;
}

function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
}

function unit(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return n;
}

export function writeSyntheticTables(dir: string, o: SyntheticTablesOptions): { featuresDir: string; imagesDir: string; featureRows: number; imageRows: number } {
  const rng = Rng.stream(o.seed, 'synthetic');
  const labels: number[] = [];
  const rows: number[] = [];
  const views: number[] = [];
  const norms: number[] = [];
  const embeddings: Float32Array[] = [];
  for (let id = 0; id < o.identities; id++) {
    const centre = Float32Array.from({ length: o.dim }, () => gaussian(rng));
    unit(centre);
    const images = rng.int(o.minImages, o.maxImages);
    for (let i = 0; i < images; i++) {
      const row = labels.length;
      labels.push(id);
      const spread = 0.3 + rng.float();
      const image = Float32Array.from(centre, (c) => c + (spread * gaussian(rng)) / Math.sqrt(o.dim));
      for (let v = 0; v < o.views; v++) {
        const e = Float32Array.from(image, (x) => x + (0.3 * gaussian(rng)) / Math.sqrt(o.dim));
        unit(e);
        rows.push(row);
        views.push(v);
        norms.push(Math.fround(30 / spread + 3 * rng.float()));
        embeddings.push(e);
      }
    }
  }
  const order = rng.shuffle(rows.map((_, i) => i));
  const spec = featuresTable(o.dim);
  const half = Math.ceil(order.length / 2);
  const featuresDir = path.join(dir, 'features-out');
  // Several parts: the reader must concatenate them.
  const part = (idx: number[]) => {
    const emb = new Float32Array(idx.length * o.dim);
    idx.forEach((k, j) => emb.set(embeddings[k], j * o.dim));
    return makeTypedTable(spec, {
      row: int64Column(columnType(spec, 'row'), idx.map((k) => rows[k])),
      view: int8Column(columnType(spec, 'view'), Int8Array.from(idx, (k) => views[k])),
      embedding: fixedSizeListColumn(columnType(spec, 'embedding'), emb),
      norm: float32Column(columnType(spec, 'norm'), Float32Array.from(idx, (k) => norms[k])),
    });
  };
  const first = part(order.slice(0, half));
  const second = part(order.slice(half));
  writeTable(featuresDir, spec, first.concat(second), { targetPartBytes: Math.max(1, Math.floor((half * o.dim * 4) / 1.01)) });
  const imagesDir = path.join(dir, 'images-out');
  writeTable(
    imagesDir,
    imagesTable,
    makeTypedTable(imagesTable, {
      image_id: int64Column(columnType(imagesTable, 'image_id'), labels.map((_, i) => i)),
      label: int32Column(columnType(imagesTable, 'label'), Int32Array.from(labels)),
      identity: utf8Column(columnType(imagesTable, 'identity'), labels.map((l) => `id${l}`)),
      image: binaryColumn(columnType(imagesTable, 'image'), labels.map(() => new Uint8Array(0))),
      source: utf8Column(columnType(imagesTable, 'source'), labels.map((_, i) => `img${i}.jpg`)),
    }),
  );
  return { featuresDir, imagesDir, featureRows: rows.length, imageRows: labels.length };
}
