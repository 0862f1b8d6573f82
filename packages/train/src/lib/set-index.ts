/**
 * Who is who in a features table: which feature rows (views) belong to which image, which images to
 * which identity, and the split of identities into training classes and held-out validation
 * identities. Integers only; the embeddings stay where they were read.
 */
import { InputError } from '@facecoreset/common';
import { Rng } from '@facecoreset/common';

/** The identity columns of a features table. */
export interface FeatureRowsView {
  /** Image row (into the images table) of each feature row. [N] */
  row: ArrayLike<number>;
  /** View id of each feature row (0 original, 1 flip, 2.. augmented). [N] */
  view: ArrayLike<number>;
}

/** Images grouped by identity, each image with its feature rows (CSR layout). */
export interface SetIndex {
  /** Number of images that have at least one feature row. */
  imageCount: number;
  /** Feature rows of image i: imageFeatures[imageFeatureStart[i] .. imageFeatureStart[i+1]), ordered by view. */
  imageFeatureStart: Int32Array;
  imageFeatures: Int32Array;
  /** Source label (images table) of each image. [imageCount] */
  imageLabel: Int32Array;
  /** Image row (images table) of each image. [imageCount] */
  imageRow: Float64Array;
  /** Distinct source labels, ascending. */
  labels: Int32Array;
  /** Images of identity j (labels[j]): identityImages[identityImageStart[j] .. identityImageStart[j+1]). */
  identityImageStart: Int32Array;
  identityImages: Int32Array;
}

/**
 * Groups feature rows by image and images by identity.
 * @param features the row/view columns of the features table [N]
 * @param labelOfImageRow label of every images-table row (index = row)
 * @param file named in errors
 */
export function buildSetIndex(features: FeatureRowsView, labelOfImageRow: ArrayLike<number>, file?: string): SetIndex {
  const n = features.row.length;
  if (features.view.length !== n) throw new InputError(`row and view columns differ in length (${n} vs ${features.view.length})`, file);
  // Sort feature rows by (image row, view) so views of an image are contiguous and ordered.
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => features.row[a] - features.row[b] || features.view[a] - features.view[b]);
  const imageStarts: number[] = [];
  const imageRows: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = order[k];
    const row = features.row[i];
    if (!Number.isInteger(row) || row < 0 || row >= labelOfImageRow.length) {
      throw new InputError(`feature row ${i}: image row ${row} is not in the images table (${labelOfImageRow.length} rows)`, file, `record ${i}`);
    }
    if (k > 0) {
      const prev = order[k - 1];
      if (features.row[prev] === row && features.view[prev] === features.view[i]) {
        throw new InputError(`duplicate (row ${row}, view ${features.view[i]})`, file, `record ${i}`);
      }
    }
    if (k === 0 || features.row[order[k - 1]] !== row) {
      imageStarts.push(k);
      imageRows.push(row);
    }
  }
  const imageCount = imageRows.length;
  const imageFeatureStart = Int32Array.from([...imageStarts, n]);
  const imageFeatures = Int32Array.from(order);
  const imageLabel = Int32Array.from(imageRows, (r) => labelOfImageRow[r]);
  const labels = Int32Array.from(new Set(imageLabel)).sort();
  const labelSlot = new Map<number, number>();
  labels.forEach((l, j) => labelSlot.set(l, j));
  const counts = new Int32Array(labels.length + 1);
  for (let i = 0; i < imageCount; i++) counts[labelSlot.get(imageLabel[i])! + 1]++;
  for (let j = 0; j < labels.length; j++) counts[j + 1] += counts[j];
  const identityImageStart = Int32Array.from(counts);
  const fill = identityImageStart.slice(0, labels.length);
  const identityImages = new Int32Array(imageCount);
  for (let i = 0; i < imageCount; i++) identityImages[fill[labelSlot.get(imageLabel[i])!]++] = i;
  return { imageCount, imageFeatureStart, imageFeatures, imageLabel, imageRow: Float64Array.from(imageRows), labels, identityImageStart, identityImages };
}

/** Images of identity slot j. */
export function imagesOfIdentity(index: SetIndex, j: number): Int32Array {
  return index.identityImages.subarray(index.identityImageStart[j], index.identityImageStart[j + 1]);
}

/** Feature rows (views) of image i. */
export function viewsOfImage(index: SetIndex, i: number): Int32Array {
  return index.imageFeatures.subarray(index.imageFeatureStart[i], index.imageFeatureStart[i + 1]);
}

/** Training classes (dense 0..C-1) and held-out identities. */
export interface IdentitySplit {
  /** Identity slots (into SetIndex.labels) trained on; class c is trainSlots[c]. */
  trainSlots: Int32Array;
  /** Identity slots held out for validation. */
  heldOutSlots: Int32Array;
}

export interface SplitOptions {
  seed: number;
  identityFraction: number;
  maxIdentities: number;
  /** Held-out identities need at least this many images (one per validation template). */
  minImages: number;
}

/**
 * Holds out round(fraction · identities) identities (at most maxIdentities) chosen at random among
 * those with enough images; the rest become classes 0..C-1 in ascending source-label order.
 */
export function splitIdentities(index: SetIndex, opts: SplitOptions): IdentitySplit {
  const identityCount = index.labels.length;
  const eligible: number[] = [];
  for (let j = 0; j < identityCount; j++) {
    if (index.identityImageStart[j + 1] - index.identityImageStart[j] >= opts.minImages) eligible.push(j);
  }
  const want = Math.min(opts.maxIdentities, Math.round(opts.identityFraction * identityCount), eligible.length);
  Rng.stream(opts.seed, 'holdout').shuffle(eligible);
  const heldOut = new Set(eligible.slice(0, want));
  const trainSlots: number[] = [];
  for (let j = 0; j < identityCount; j++) if (!heldOut.has(j)) trainSlots.push(j);
  return { trainSlots: Int32Array.from(trainSlots), heldOutSlots: Int32Array.from([...heldOut].sort((a, b) => a - b)) };
}
