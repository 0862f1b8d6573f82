/**
 * A small images table of JPEG faces-that-are-not-faces: each identity is a fixed arrangement of
 * coloured blocks; its images add brightness changes and pixel noise whose strength is the image's
 * (known) degradation. Written with the data package's Parquet writer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '@facecoreset/common';
import { binaryColumn, columnType, imagesTable, int32Column, int64Column, makeTypedTable, utf8Column, writeTable } from '@facecoreset/data';
import * as jpeg from 'jpeg-js';

export interface SyntheticImagesOptions {
  identities: number;
  imagesPerIdentity: number;
  seed: number;
  size?: number;
}

export function writeSyntheticImages(dir: string, o: SyntheticImagesOptions): { imagesDir: string; qualityCsv: string; count: number } {
  const size = o.size ?? 112;
  const rng = Rng.stream(o.seed, 'synthetic-images');
  const encoded: Uint8Array[] = [];
  const labels: number[] = [];
  const quality: string[] = ['image_id,quality'];
  for (let id = 0; id < o.identities; id++) {
    const blocks = Array.from({ length: 6 }, () => ({ x: rng.int(0, size - 30), y: rng.int(0, size - 30), w: rng.int(10, 30), h: rng.int(10, 30), c: [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)] }));
    for (let k = 0; k < o.imagesPerIdentity; k++) {
      const noise = rng.float() * 80;
      const gain = 0.7 + 0.6 * rng.float();
      const data = new Uint8Array(size * size * 4);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          let c = [90, 90, 90];
          for (const b of blocks) if (x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h) c = b.c;
          for (let ch = 0; ch < 3; ch++) data[(y * size + x) * 4 + ch] = Math.max(0, Math.min(255, Math.round(c[ch] * gain + (rng.float() - 0.5) * noise)));
          data[(y * size + x) * 4 + 3] = 255;
        }
      }
      quality.push(`${labels.length},${(1 - noise / 80).toFixed(4)}`);
      encoded.push(new Uint8Array(jpeg.encode({ data, width: size, height: size }, 90).data));
      labels.push(id);
    }
  }
  const imagesDir = path.join(dir, 'images-out');
  writeTable(
    imagesDir,
    imagesTable,
    makeTypedTable(imagesTable, {
      image_id: int64Column(columnType(imagesTable, 'image_id'), labels.map((_, i) => i)),
      label: int32Column(columnType(imagesTable, 'label'), Int32Array.from(labels)),
      identity: utf8Column(columnType(imagesTable, 'identity'), labels.map((l) => `id${l}`)),
      image: binaryColumn(columnType(imagesTable, 'image'), encoded),
      source: utf8Column(columnType(imagesTable, 'source'), labels.map((_, i) => `img${i}.jpg`)),
    }),
  );
  const qualityCsv = path.join(dir, 'quality.csv');
  fs.writeFileSync(qualityCsv, quality.join('\n') + '\n');
  return { imagesDir, qualityCsv, count: labels.length };
}
