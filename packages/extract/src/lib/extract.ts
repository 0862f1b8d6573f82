/**
 * The extraction core: images (encoded or raw aligned RGB) x view ids -> one feature record per
 * (row, view). Decode, check the size, render the view (seeded by (seed, row, view)), convert to
 * the backbone's input (BGR, (x/255 - 0.5)/0.5) and embed in batches. No file IO here.
 *
 * Batches are cut from the (image, view) sequence of one call and never depend on anything outside
 * it, so the same images in the same call give bit-identical features whatever else runs.
 */
import { areaDownscale, backboneInputFromRgb } from '@facecoreset/model';
import { DEFAULT_AUGMENT, renderView, type AugmentOptions, type RgbImage } from './augment';
import type { BackboneRunner } from './backbone-runner';
import { decodeImage, rawRgbImage, requireImageSize, type ImageLocation } from './decode';

/**
 * An image of the input table: encoded JPEG/PNG bytes, or raw RGB bytes of an aligned crop, with
 * the file it was read from (named in errors).
 */
export type ImageInput = ({ row: number; encoded: Uint8Array } | { row: number; rgb: Uint8Array }) & { file?: string };

export interface ExtractOptions {
  /** View ids (0 original, 1 flip, 2.. augmented), in the order records are emitted per image. */
  views: readonly number[];
  /** Seed of the augmented views. */
  seed: number;
  /** (image, view) pairs per backbone call. */
  batchSize: number;
  augment?: AugmentOptions;
  /** Names the source in error messages when an input does not name its own file. */
  file?: string;
  /** Called after every batch with the number of images whose views are all done so far. */
  onImagesDone?: (images: number) => void;
}

/** Feature records as columns: record i is (row[i], view[i], embedding[i*D..(i+1)*D], norm[i]). */
export interface FeatureColumns {
  count: number;
  dim: number;
  row: Float64Array;
  view: Int8Array;
  /** Unit rows [count, dim]. */
  embedding: Float32Array;
  norm: Float32Array;
}

/** One feature record, for callers that want objects rather than columns. */
export interface FeatureRecord {
  row: number;
  view: number;
  /** Unit length [D] (a view into the columns). */
  embedding: Float32Array;
  norm: number;
}

export function* featureRecords(f: FeatureColumns): Generator<FeatureRecord> {
  for (let i = 0; i < f.count; i++) {
    yield { row: f.row[i], view: f.view[i], embedding: f.embedding.subarray(i * f.dim, (i + 1) * f.dim), norm: f.norm[i] };
  }
}

/** The side of the aligned crops the tables store. */
const ALIGNED_SIDE = 112;

/** Decodes (or wraps) one input image and checks it has the backbone's input size. */
export function inputImage(input: ImageInput, size: number, file?: string): RgbImage {
  const loc: ImageLocation = { row: input.row, file };
  const img = 'encoded' in input ? decodeImage(input.encoded, loc) : rawRgbImage(input.rgb, input.rgb.length === ALIGNED_SIDE * ALIGNED_SIDE * 3 ? ALIGNED_SIDE : size, loc);
  // Small demo backbones take a whole fraction of the aligned crop (e.g. 56 of 112): area-averaged.
  if (img.width === img.height && img.width !== size && img.width % size === 0) {
    return { width: size, height: size, data: areaDownscale(img.data, img.width, 3, size) };
  }
  requireImageSize(img, size, loc);
  return img;
}

function checkViews(views: readonly number[]): void {
  if (views.length === 0) throw new Error('extractFeatures: no views requested');
  for (const v of views) {
    if (!Number.isInteger(v) || v < 0 || v > 127) throw new Error(`extractFeatures: view id ${v} does not fit the int8 view column (0..127)`);
  }
}

/**
 * Features of every (image, view): records ordered by image, then by `views` order.
 * @throws InputError naming the row (and `file`) for undecodable images or a wrong size;
 *   Error when the backbone returns a non-finite or zero-norm feature.
 */
export async function extractFeatures(backbone: BackboneRunner, images: readonly ImageInput[], opts: ExtractOptions): Promise<FeatureColumns> {
  checkViews(opts.views);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new Error(`extractFeatures: batch size must be a positive integer, got ${opts.batchSize}`);
  const size = backbone.inputSize;
  const dim = backbone.embeddingSize;
  const pixels = size * size * 3;
  const nViews = opts.views.length;
  const count = images.length * nViews;
  const out: FeatureColumns = { count, dim, row: new Float64Array(count), view: new Int8Array(count), embedding: new Float32Array(count * dim), norm: new Float32Array(count) };
  const augment = opts.augment ?? DEFAULT_AUGMENT;
  const batch = new Float32Array(Math.min(opts.batchSize, Math.max(count, 1)) * pixels);
  let filled = 0;
  let written = 0;

  const flush = async () => {
    if (filled === 0) return;
    const res = await backbone.embed(filled === batch.length / pixels ? batch : batch.subarray(0, filled * pixels), filled);
    if (res.embedding.length !== filled * dim || res.norm.length !== filled) {
      throw new Error(`backbone returned ${res.embedding.length} embedding values and ${res.norm.length} norms for ${filled} images of D = ${dim}`);
    }
    for (let i = 0; i < filled; i++) {
      const n = res.norm[i];
      const r = written + i;
      if (!Number.isFinite(n) || n <= 0 || !res.embedding.subarray(i * dim, (i + 1) * dim).every(Number.isFinite)) {
        throw new Error(`backbone produced a non-finite or zero-norm feature (norm ${n}) for row ${out.row[r]} view ${out.view[r]}${opts.file ? ` of ${opts.file}` : ''}`);
      }
    }
    out.embedding.set(res.embedding, written * dim);
    out.norm.set(res.norm, written);
    written += filled;
    filled = 0;
    opts.onImagesDone?.(Math.floor(written / nViews));
  };

  let slot = 0;
  for (const input of images) {
    const img = inputImage(input, size, input.file ?? opts.file);
    for (const view of opts.views) {
      const rendered = renderView(img, opts.seed, input.row, view, augment);
      batch.set(backboneInputFromRgb(rendered.data, size, size, 3), filled * pixels);
      out.row[slot] = input.row;
      out.view[slot] = view;
      slot++;
      filled++;
      if (filled * pixels === batch.length) await flush();
    }
  }
  await flush();
  return out;
}
