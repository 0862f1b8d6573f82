/**
 * A whole backbone training run on in-memory images: hold out identities for validation, shuffle
 * the training images per epoch (seeded by (seed, epoch)), one step per batch with random flips
 * and dropout keyed by (seed, step), validation at every epoch end (verification over all pairs
 * of held-out images, eval-mode BatchNorm; and, given image qualities, the Spearman correlation of
 * feature norms with quality), checkpoints through the shared loop.
 */
import { createHash } from 'node:crypto';
import { InputError, Rng } from '@facecoreset/common';
import { initIResNetWeights, iresnetConfig, multiStepLr } from '@facecoreset/model';
import type { BackboneTrainConfig } from '../../backbone-config';
import { parseBackboneTrainConfig } from '../../backbone-config';
import { encodeTrainCheckpoint, TRAINING_STATE_FORMAT, TRAINING_STATE_VERSION, type TrainCheckpoint, type TrainingState } from '../checkpoint';
import { buildSetIndex, imagesOfIdentity, splitIdentities } from '../set-index';
import { runTrainingLoop, validationMetricName, type BestRecord, type EpochMetrics, type StepMetrics, type TrainPosition, type ValidationMetrics } from '../training-loop';
import { bootstrapResamplesFor, clusterBootstrapSpearman, pairScores, rocAuc, spearman, strictTarAtFar } from '../validation';
import { augmentBackboneInput } from './augment';
import { imageBatch } from './images';
import { BackboneTrainer, embedWith, type BackboneArchitecture } from './trainer';

/** The images of an images table, in table order. */
export interface TrainingImages {
  /** Encoded bytes of each row. */
  encoded: readonly Uint8Array[];
  /** Label of each row. */
  labels: Int32Array;
  /** image_id of each row (names images in errors, keys the qualities). */
  imageIds: Float64Array;
}

export interface TrainBackboneOptions {
  images: TrainingImages;
  /** Config of a fresh run (default: the recipe's). On resume only epochs and checkpoint.* may change. */
  config?: BackboneTrainConfig;
  resumeFrom?: TrainCheckpoint;
  /** Ground-truth quality by image_id, for the norm–quality correlation (optional). */
  qualityByImageId?: ReadonlyMap<number, number>;
  saveCheckpoint: (step: number, bytes: Uint8Array, isBest: boolean) => void;
  onMetrics?: (step: number, metrics: Record<string, number>) => void;
  onStart?: (info: { config: BackboneTrainConfig; position: TrainPosition; totalSteps: number }) => void;
  onStep?: (m: StepMetrics) => void;
  onEpoch?: (m: EpochMetrics) => void;
  log?: (line: string) => void;
  gitSha?: string;
  maxSteps?: number;
  source?: string;
}

export interface TrainBackboneSummary {
  config: BackboneTrainConfig;
  architecture: BackboneArchitecture;
  position: TrainPosition;
  best: BestRecord | null;
  finished: boolean;
  classes: number;
  trainImages: number;
  validationImages: number;
  /** Verification TAR of a random-weights network of the same shape on the validation pairs. */
  randomBaseline?: number;
  /** The whole validation of that random-weights network (same metrics as `lastValidation`). */
  randomValidation?: ValidationMetrics;
  /** The last validation (TAR, and the norm–quality Spearman correlation when qualities were given). */
  lastValidation?: ValidationMetrics;
}

export const BACKBONE_MODEL_FORMAT = 'facecoreset.backbone';

function architectureOf(config: BackboneTrainConfig, classes: number): BackboneArchitecture {
  const backbone = iresnetConfig(typeof config.arch === 'string' ? config.arch : { widths: config.arch.widths, units: config.arch.units, embeddingSize: config.arch.embeddingSize, inputSize: config.arch.inputSize });
  const h = config.head;
  return { backbone, head: { m: h.m, h: h.h, s: h.s, tAlpha: h.t_alpha, eps: 1e-3, classes } };
}

export async function trainBackbone(opts: TrainBackboneOptions): Promise<TrainBackboneSummary> {
  const log = opts.log ?? (() => {});
  const source = opts.source ?? 'images';
  const resume = opts.resumeFrom;
  let config = opts.config ?? parseBackboneTrainConfig({});
  if (resume) {
    if (resume.training.kind !== 'backbone') throw new InputError(`holds a ${resume.training.kind} training run, not a backbone one`, source);
    const saved = parseBackboneTrainConfig(resume.training.train_config, 'checkpoint');
    if (opts.config) {
      const differing = (Object.keys(saved) as (keyof BackboneTrainConfig)[]).filter((k) => k !== 'epochs' && k !== 'checkpoint' && JSON.stringify(saved[k]) !== JSON.stringify(opts.config![k]));
      if (differing.length) throw new InputError(`resume continues the checkpoint's settings; only epochs and checkpoint.* may change, but ${differing.join(', ')} differ from the checkpoint`, source);
      config = { ...saved, epochs: opts.config.epochs, checkpoint: opts.config.checkpoint };
    } else config = saved;
  }
  const { images } = opts;
  const n = images.labels.length;
  // Each image is its own "view": the identity split of the feature tables applies unchanged.
  const index = buildSetIndex({ row: Float64Array.from({ length: n }, (_, i) => i), view: new Int8Array(n) }, images.labels, source);
  const v = config.validation;
  const split = splitIdentities(index, { seed: config.seed, identityFraction: v.identity_fraction, maxIdentities: v.max_identities, minImages: 2 });
  const trainImages: number[] = [];
  const trainClass: number[] = [];
  split.trainSlots.forEach((slot, c) => {
    for (const img of imagesOfIdentity(index, slot)) {
      trainImages.push(index.imageRow[img]);
      trainClass.push(c);
    }
  });
  const validationRows: number[] = [];
  const validationIdentity: number[] = [];
  for (const slot of split.heldOutSlots) {
    const imgs = Rng.stream(config.seed, 'validation', slot).shuffle(Array.from(imagesOfIdentity(index, slot)));
    for (const img of imgs.slice(0, v.max_images_per_identity)) {
      validationRows.push(index.imageRow[img]);
      validationIdentity.push(slot);
    }
  }
  const B = config.batch_size;
  if (trainImages.length < B) throw new InputError(`only ${trainImages.length} training images for batch_size ${B}`, source);
  const batchesPerEpoch = Math.max(1, Math.floor(Math.floor(trainImages.length / B) * config.batches_per_epoch_fraction));
  const h = createHash('sha256');
  for (const a of [images.labels, images.imageIds, split.trainSlots, split.heldOutSlots]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  const data = { images: n, classes: split.trainSlots.length, held_out: split.heldOutSlots.length, structure_sha256: h.digest('hex') };
  if (resume && JSON.stringify(resume.training.data) !== JSON.stringify(data)) {
    throw new InputError(`the training images differ from the checkpoint's (checkpoint: ${JSON.stringify(resume.training.data)}; now: ${JSON.stringify(data)})`, source);
  }

  const architecture = resume ? (resume.training.model as unknown as BackboneArchitecture) : architectureOf(config, split.trainSlots.length);
  const S = architecture.backbone.inputSize;
  const trainer = new BackboneTrainer(architecture, config, config.seed);
  let position: TrainPosition = { step: 0, epoch: 0, batch: 0 };
  let best: BestRecord | null = null;
  if (resume) {
    trainer.load(resume.tensors, resume.training.optimizer);
    position = resume.training.position;
    best = resume.training.best;
    log(`resuming at step ${position.step} (epoch ${position.epoch}, batch ${position.batch})`);
  }
  log(`${split.trainSlots.length} classes, ${trainImages.length} training images, ${split.heldOutSlots.length} held-out identities (${validationRows.length} validation images), ${batchesPerEpoch} batches per epoch`);
  opts.onStart?.({ config, position, totalSteps: config.epochs * batchesPerEpoch });

  const name = (row: number) => `${source}: image_id ${images.imageIds[row]} (row ${row})`;
  const validationInput = validationRows.length >= 2 ? imageBatch(validationRows.map((r) => images.encoded[r]), new Array(validationRows.length).fill(false), S, validationRows.map(name)) : undefined;
  const far = v.far;
  const valKey = `val_tar_at_far_${far.toExponential().replace('+', '')}`;
  const qualities = opts.qualityByImageId ? validationRows.map((r) => opts.qualityByImageId!.get(images.imageIds[r])) : undefined;
  const haveQualities = qualities !== undefined && qualities.every((q) => q !== undefined);
  const looseFar = v.loose_far;
  const looseKey = `tar_at_far_${looseFar.toExponential().replace('+', '')}`;
  const validateWith = (embeddings: Float32Array, norms: Float32Array): ValidationMetrics => {
    const scores = pairScores(embeddings, architecture.backbone.embeddingSize, validationIdentity);
    const r = strictTarAtFar(scores.genuine, scores.impostor, far);
    // With few held-out identities the strict TAR at a low FAR hinges on a handful of impostor
    // pairs; the TAR at a looser FAR and the ROC AUC move with the whole score distribution.
    const extra: Record<string, number> = {
      [looseKey]: strictTarAtFar(scores.genuine, scores.impostor, looseFar).tar,
      auc: rocAuc(scores.genuine, scores.impostor),
      mean_norm: norms.reduce((s, x) => s + x, 0) / norms.length,
    };
    if (haveQualities) {
      extra.norm_quality_spearman = spearman(norms, qualities as number[]);
      // The held-out set is a few identities: the interval says how far another draw of identities
      // could move the figure.
      const interval = clusterBootstrapSpearman(norms, qualities as number[], validationIdentity, { seed: config.seed, resamples: bootstrapResamplesFor(norms.length), level: 0.95 });
      extra.norm_quality_spearman_ci95_low = interval.low;
      extra.norm_quality_spearman_ci95_high = interval.high;
    }
    return { metric: validationMetricName(far), ...r, genuinePairs: scores.genuine.length, impostorPairs: scores.impostor.length, extra };
  };
  const describe = (r: ValidationMetrics): string =>
    `${r.metric} ${r.tar.toFixed(4)}, ${looseKey.replace('tar_at_far_', 'TAR@FAR=')} ${r.extra![looseKey].toFixed(4)}, AUC ${r.extra!.auc.toFixed(4)}` +
    (r.extra!.norm_quality_spearman !== undefined ? `, norm-quality Spearman ${describeSpearman(r.extra!)}` : '');
  let randomValidation: ValidationMetrics | undefined;
  if (validationInput) {
    const random = embedWith(initIResNetWeights(architecture.backbone, config.seed + 1), validationInput, validationRows.length);
    randomValidation = validateWith(random.embeddings, random.norms);
    log(`validation on ${validationRows.length} images of ${split.heldOutSlots.length} held-out (unseen) identities, random-weights ${typeof config.arch === 'string' ? config.arch : 'IResNet'}: ${describe(randomValidation)}`);
    opts.onMetrics?.(position.step, { [`${valKey}_random_weights`]: randomValidation.tar, ...Object.fromEntries(Object.entries(randomValidation.extra ?? {}).map(([k, x]) => [`val_${k}_random_weights`, x])) });
  }

  const learningRate = (epoch: number) => ({ all: multiStepLr(config.lr, epoch, config.lr_milestones, config.lr_gamma) });
  const streams = {
    epoch_order: 'Rng.stream(seed, "epoch", epoch): image order of the epoch',
    flips: 'Rng.stream(seed, "flip", step): which images of a step are mirrored',
    dropout: 'Rng.stream(seed, "dropout", step): seed of the dropout mask of a step',
    augment: 'Rng.stream(seed, "augment", step): training augmentations of a step, image by image',
    holdout: 'Rng.stream(seed, "holdout"): held-out identities',
    validation: 'Rng.stream(seed, "validation", identity): validation images',
  };
  let order: { epoch: number; perm: Int32Array } | undefined;
  let lastValidation: ValidationMetrics | undefined;
  try {
    const result = await runTrainingLoop({
      epochs: config.epochs,
      checkpointEvery: config.checkpoint.every_steps,
      batchesInEpoch: () => batchesPerEpoch,
      learningRates: learningRate,
      runStep: (at, lr) => {
        if (order?.epoch !== at.epoch) order = { epoch: at.epoch, perm: Rng.stream(config.seed, 'epoch', at.epoch).shuffle(Int32Array.from({ length: trainImages.length }, (_, i) => i)) };
        const picks = order.perm.subarray(at.batch * B, (at.batch + 1) * B);
        const flipRng = Rng.stream(config.seed, 'flip', at.step);
        const flips = Array.from(picks, () => flipRng.float() < config.flip_probability);
        const rows = Array.from(picks, (k) => trainImages[k]);
        const aug = config.augmentation;
        const augmentRng = Rng.stream(config.seed, 'augment', at.step);
        const probabilities = { crop: aug.crop, lowRes: aug.low_res, photometric: aug.photometric };
        const augment = aug.crop + aug.low_res + aug.photometric > 0 ? (img: Float32Array) => augmentBackboneInput(img, S, probabilities, augmentRng) : undefined;
        const x = imageBatch(rows.map((r) => images.encoded[r]), flips, S, rows.map(name), augment);
        const labels = Int32Array.from(picks, (k) => trainClass[k]);
        const r = trainer.step(x, labels, lr.all, Rng.stream(config.seed, 'dropout', at.step).nextU32());
        return { loss: r.loss, items: B, metrics: { grad_norm: r.gradNorm, mean_norm: r.meanNorm } };
      },
      validate: validationInput
        ? () => {
            const e = trainer.embed(validationInput, validationRows.length);
            lastValidation = validateWith(e.embeddings, e.norms);
            log(`epoch validation, trained: ${describe(lastValidation)}`);
            return lastValidation;
          }
        : undefined,
      start: { position, best },
      maxSteps: opts.maxSteps,
      onStep: (m) => {
        opts.onStep?.(m);
        opts.onMetrics?.(m.step, { loss: m.loss, lr: m.lr.all, ...m.metrics, images_per_s: m.itemsPerSecond, epoch: m.epoch });
      },
      onEpoch: (m) => {
        opts.onEpoch?.(m);
        if (m.validation) opts.onMetrics?.(m.step, { [valKey]: m.validation.tar, ...Object.fromEntries(Object.entries(m.validation.extra ?? {}).map(([k, x]) => [`val_${k}`, x])) });
      },
      checkpoint: (req) => {
        const training: TrainingState = {
          format: TRAINING_STATE_FORMAT,
          version: TRAINING_STATE_VERSION,
          kind: 'backbone',
          model: architecture as unknown as Record<string, unknown>,
          train_config: config,
          position: req.position,
          scheduler: { name: 'MultiStepLR', epoch: req.position.epoch, lr: learningRate(req.position.epoch) },
          optimizer: trainer.optimizerMeta(),
          rng: { algorithm: 'xoshiro128** streams keyed by (seed, key)', seed: config.seed, streams },
          best: req.best,
          validation: req.validation ? { ...req.validation } : null,
          data,
          git_sha: opts.gitSha ?? 'unknown',
          created_at: new Date().toISOString(),
        };
        opts.saveCheckpoint(req.position.step, encodeTrainCheckpoint(trainer.state(), training, { format: BACKBONE_MODEL_FORMAT, backbone: architecture.backbone }), req.isBest);
      },
    });
    if (lastValidation && randomValidation) log(`held-out validation, trained vs random weights: ${describe(lastValidation)} | random: ${describe(randomValidation)}`);
    return {
      config,
      architecture,
      position: result.position,
      best: result.best,
      finished: result.finished,
      classes: split.trainSlots.length,
      trainImages: trainImages.length,
      validationImages: validationRows.length,
      randomBaseline: randomValidation?.tar,
      randomValidation,
      lastValidation,
    };
  } finally {
    trainer.dispose();
  }
}

/** "0.378 (95% CI 0.254–0.497 over held-out identities)" from a validation's extra metrics. */
export function describeSpearman(extra: Record<string, number>): string {
  const rho = extra.norm_quality_spearman;
  const low = extra.norm_quality_spearman_ci95_low;
  const high = extra.norm_quality_spearman_ci95_high;
  const interval = Number.isFinite(low) && Number.isFinite(high) ? ` (95% CI ${low.toFixed(3)}–${high.toFixed(3)} over held-out identities)` : '';
  return `${rho.toFixed(3)}${interval}`;
}
