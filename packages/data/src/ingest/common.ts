/** Pieces every ingest shares: progress reporting, the images-table batcher, identities. */
import { Int32, Utf8 } from 'apache-arrow';
import { binaryColumn, columnType, int32Column, int64Column, makeBatch, utf8Column } from '../arrow-columns';
import type { PartedTableWriter, ParquetCompression } from '../parquet';
import { identitiesTable, imagesTable, type IdentitiesType, type ImagesType } from '../schemas';
import type { Table } from 'apache-arrow';
import { makeTypedTable } from '../arrow-columns';

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
  compression?: ParquetCompression;
  /** Arrow bytes per Parquet part file (default 128 MiB). */
  targetPartBytes?: number;
  progress?: ProgressFactory;
}

const BATCH_BYTES = 4 << 20;
const BATCH_ROWS = 4096;

/** Collects image rows into record batches of a few MiB and hands them to the part writer. */
export class ImagesBatcher {
  private ids: number[] = [];
  private labels: number[] = [];
  private identities: string[] = [];
  private images: Uint8Array[] = [];
  private sources: string[] = [];
  private bytes = 0;
  rows = 0;

  constructor(private readonly writer: PartedTableWriter<ImagesType>) {}

  push(imageId: number, label: number, identity: string, image: Uint8Array, source: string): void {
    this.ids.push(imageId);
    this.labels.push(label);
    this.identities.push(identity);
    this.images.push(image);
    this.sources.push(source);
    this.bytes += image.length;
    this.rows++;
    if (this.bytes >= BATCH_BYTES || this.ids.length >= BATCH_ROWS) this.flush();
  }

  flush(): void {
    if (this.ids.length === 0) return;
    this.writer.add(
      makeBatch(imagesTable, {
        image_id: int64Column(columnType(imagesTable, 'image_id'), this.ids),
        label: int32Column(columnType(imagesTable, 'label'), Int32Array.from(this.labels)),
        identity: utf8Column(columnType(imagesTable, 'identity'), this.identities),
        image: binaryColumn(columnType(imagesTable, 'image'), this.images),
        source: utf8Column(columnType(imagesTable, 'source'), this.sources),
      }),
    );
    this.ids = [];
    this.labels = [];
    this.identities = [];
    this.images = [];
    this.sources = [];
    this.bytes = 0;
  }
}

/** The identities table: dense label, source identity, images written per label. */
export function identitiesArrowTable(identities: readonly string[], counts: Int32Array): Table<IdentitiesType> {
  return makeTypedTable(identitiesTable, {
    label: int32Column(new Int32(), Int32Array.from(identities, (_, i) => i)),
    identity: utf8Column(new Utf8(), identities),
    count: int32Column(new Int32(), counts),
  });
}

/** Parquet options of the images table: image bytes are already compressed, so stored as they are. */
export function imagesParquetOptions(opts: IngestCommonOptions) {
  return { compression: opts.compression, targetPartBytes: opts.targetPartBytes, rawColumns: ['image'] };
}
