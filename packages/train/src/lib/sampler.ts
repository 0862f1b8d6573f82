/**
 * The set sampler: FaceCoresetNet's template simulation (official data_template.py) on
 * pre-extracted feature views.
 *
 * Epoch e: the training images in a random order (seeded by (seed, e)), each naming its identity, as
 * the official loader shuffles images and turns each into a template of its identity; identities
 * are grouped into batches of `batchSize` distinct ones (an identity already in the batch waits for
 * the next one). Only the first `fraction` of the nominal ⌊images / batchSize⌋ batches is run.
 * Batch (e, b): T ~ U{1..maxTemplateSize} and every set built by `buildSet` from an RNG seeded by
 * (seed, e, b). The position is therefore just (epoch, batch): a resumed run recomputes the same
 * plan and the same sets without replaying any random draws.
 */
import { InputError } from '@facecoreset/common';
import { Rng } from '@facecoreset/common';
import { imagesOfIdentity, SetIndex, viewsOfImage } from './set-index';

/** Where the sampler is: the next batch to draw. */
export interface SamplerPosition {
  epoch: number;
  batch: number;
}

export interface SetBatch {
  epoch: number;
  batch: number;
  /** Items per set. */
  setSize: number;
  /** Class (0..C-1) of each set. [B] */
  classes: Int32Array;
  /** Feature rows making up the sets, set-major. [B*T] */
  featureRows: Int32Array;
  /** Image (SetIndex image index) each item came from. [B*T] */
  images: Int32Array;
}

export interface SetSamplerOptions {
  seed: number;
  batchSize: number;
  maxTemplateSize: number;
  maxClipSize: number;
  /** Fraction of an epoch's nominal batches that are run. */
  batchesPerEpochFraction: number;
}

/**
 * Builds one set of exactly `size` items from the given images of one identity: repeatedly one
 * image at random, then a clip of min(maxClip, U{1..remaining}) of its views. A clip uses distinct
 * views while the image has enough of them (views in a random order, repeated cyclically beyond).
 * @returns feature rows [size] and the image of each item [size]
 */
export function buildSet(index: SetIndex, images: ArrayLike<number>, size: number, maxClip: number, rng: Rng): { featureRows: Int32Array; images: Int32Array } {
  if (images.length === 0) throw new Error('buildSet: identity without images');
  const featureRows = new Int32Array(size);
  const itemImages = new Int32Array(size);
  let filled = 0;
  while (filled < size) {
    const image = images[rng.int(0, images.length - 1)];
    const clip = Math.min(maxClip, rng.int(1, size - filled));
    const views = rng.shuffle(Array.from(viewsOfImage(index, image)));
    for (let k = 0; k < clip; k++) {
      featureRows[filled] = views[k % views.length];
      itemImages[filled] = image;
      filled++;
    }
  }
  return { featureRows, images: itemImages };
}

export class SetSampler {
  /** Class of each training image, images of each class. */
  private readonly trainImageClass: Int32Array;
  private readonly classImages: Int32Array[];
  private readonly nominalBatches: number;
  private cachedPlan?: { epoch: number; batches: Int32Array[] };

  /**
   * @param index the feature/image/identity index
   * @param trainSlots identity slots trained on; class c = trainSlots[c]
   */
  constructor(
    private readonly index: SetIndex,
    trainSlots: Int32Array,
    readonly opts: SetSamplerOptions,
  ) {
    if (trainSlots.length < opts.batchSize) {
      throw new InputError(`the training identities (${trainSlots.length}) are fewer than batch_size (${opts.batchSize}); a batch needs distinct identities`);
    }
    this.classImages = Array.from(trainSlots, (slot) => imagesOfIdentity(index, slot));
    const total = this.classImages.reduce((s, a) => s + a.length, 0);
    this.trainImageClass = new Int32Array(total);
    let k = 0;
    this.classImages.forEach((imgs, c) => {
      for (let i = 0; i < imgs.length; i++) this.trainImageClass[k++] = c;
    });
    this.nominalBatches = Math.floor(total / opts.batchSize);
  }

  get classCount(): number {
    return this.classImages.length;
  }

  /** Training images (each one occurrence of its identity per epoch). */
  get imageCount(): number {
    return this.trainImageClass.length;
  }

  /** The batches (classes of each) of epoch e, distinct classes within each batch. */
  private plan(epoch: number): Int32Array[] {
    if (this.cachedPlan?.epoch === epoch) return this.cachedPlan.batches;
    const order = Rng.stream(this.opts.seed, 'epoch', epoch).shuffle(Int32Array.from(this.trainImageClass));
    const want = this.plannedBatches();
    const batches: Int32Array[] = [];
    let waiting: number[] = [];
    let next = 0;
    while (batches.length < want) {
      const batch: number[] = [];
      const present = new Set<number>();
      const stillWaiting: number[] = [];
      for (const c of waiting) {
        if (batch.length < this.opts.batchSize && !present.has(c)) {
          batch.push(c);
          present.add(c);
        } else stillWaiting.push(c);
      }
      waiting = stillWaiting;
      while (batch.length < this.opts.batchSize && next < order.length) {
        const c = order[next++];
        if (present.has(c)) waiting.push(c);
        else {
          batch.push(c);
          present.add(c);
        }
      }
      if (batch.length < this.opts.batchSize) break; // images exhausted: drop the incomplete batch
      batches.push(Int32Array.from(batch));
    }
    this.cachedPlan = { epoch, batches };
    return batches;
  }

  private plannedBatches(): number {
    return Math.max(1, Math.floor(this.nominalBatches * this.opts.batchesPerEpochFraction));
  }

  /** Number of batches run in epoch e. */
  batchesInEpoch(epoch: number): number {
    return this.plan(epoch).length;
  }

  /** The batch at a position (a pure function of seed, epoch and batch). */
  batch(pos: SamplerPosition): SetBatch {
    const plan = this.plan(pos.epoch);
    if (pos.batch < 0 || pos.batch >= plan.length) throw new Error(`SetSampler.batch: batch ${pos.batch} is outside epoch ${pos.epoch} (${plan.length} batches)`);
    const classes = plan[pos.batch];
    const rng = Rng.stream(this.opts.seed, 'sets', pos.epoch, pos.batch);
    const setSize = rng.int(1, this.opts.maxTemplateSize);
    const featureRows = new Int32Array(classes.length * setSize);
    const images = new Int32Array(classes.length * setSize);
    classes.forEach((c, b) => {
      const set = buildSet(this.index, this.classImages[c], setSize, this.opts.maxClipSize, rng);
      featureRows.set(set.featureRows, b * setSize);
      images.set(set.images, b * setSize);
    });
    return { epoch: pos.epoch, batch: pos.batch, setSize, classes: Int32Array.from(classes), featureRows, images };
  }

  /** The position after `pos` (next batch, or the first batch of the next epoch). */
  advance(pos: SamplerPosition): SamplerPosition {
    return pos.batch + 1 < this.batchesInEpoch(pos.epoch) ? { epoch: pos.epoch, batch: pos.batch + 1 } : { epoch: pos.epoch + 1, batch: 0 };
  }
}
