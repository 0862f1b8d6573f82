/** Pieces every ingest shares: progress reporting, the images-table writer, identities. */
import type { ParquetCompression, TableWriteSummary } from '../parquet';
import { FlatParquetWriter } from '../parquet-stream';
import { identitiesTable, imagesTable, type IdentitiesType, type ImagesType } from '../schemas';

/** What ingest needs of a progress line (common's Progress fits). */
export interface ProgressSink {
  tick(records: number, bytes: number): void;
  finish(): void;
}

export type ProgressFactory = (label: string, totalRecords?: number) => ProgressSink;

export const silentProgress: ProgressFactory = () => ({ tick: () => undefined, finish: () => undefined });

export interface IngestCommonOptions {
  /** Output folder; written under a temporary name and renamed when complete. */
  out: string;
  /** Record corrupt images in the manifest and go on, instead of failing. */
  skipBad?: boolean;
  /** Codec of the tables written through parquet-wasm (IJB tables); default zstd. */
  compression?: ParquetCompression;
  /** Arrow bytes per Parquet part file (default 128 MiB). */
  targetPartBytes?: number;
  progress?: ProgressFactory;
}

export type AppendImage = (imageId: number, label: number, identity: string, image: Uint8Array, source: string) => void;

export interface ImagesSink {
  append: AppendImage;
  /**
   * Image bytes are written straight from the caller's buffers: call this before overwriting a
   * buffer that appended images still point into.
   */
  release: () => void;
}

/**
 * Writes the images table under `dir`: `fill` appends rows; the part file is closed on failure
 * too (the caller's temporary folder is then discarded). Image bytes are stored as they are.
 */
export async function writeImagesTable(dir: string, opts: IngestCommonOptions, fill: (sink: ImagesSink) => void | Promise<void>): Promise<TableWriteSummary> {
  const writer = new FlatParquetWriter<ImagesType>(dir, imagesTable, { targetPartBytes: opts.targetPartBytes, directColumn: 'image' });
  try {
    await fill({ append: (imageId, label, identity, image, source) => writer.append([imageId, label, identity, image, source]), release: () => writer.release() });
    return writer.finish();
  } catch (e) {
    writer.abort();
    throw e;
  }
}

/** The identities table: dense label, source identity, images written per label. */
export function writeIdentitiesTable(dir: string, identities: readonly string[], counts: Int32Array): TableWriteSummary {
  const writer = new FlatParquetWriter<IdentitiesType>(dir, identitiesTable);
  identities.forEach((identity, label) => writer.append([label, identity, counts[label]]));
  return writer.finish();
}
