/**
 * The backbone training configuration (`fcn train backbone`): an IResNet with the AdaFace head on
 * an images table. Defaults follow AdaFace's recipe (SGD, momentum 0.9, lr 0.1, weight decay 5e-4,
 * 26 epochs with milestones 12/20/24, ×0.1; margin 0.4, h 0.333, s 64; dropout 0.4 before the
 * output layer; random horizontal flip) with an IR-18. Strict: an unknown key is an error.
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import { InputError } from '@facecoreset/common';
import { CheckpointConfigSchema } from './config';

const positiveInt = z.number().int().positive();

/** An official architecture name or a custom IResNet shape (e.g. a small one for CPU demos). */
export const BackboneArchSchema = z.union([
  z.enum(['ir_18', 'ir_34', 'ir_50', 'ir_101']),
  z
    .object({
      widths: z.array(positiveInt).min(1),
      units: z.array(positiveInt).min(1),
      embeddingSize: positiveInt.default(512),
      /** Input side: 112 (the aligned crops), or a whole fraction of it (crops are area-averaged down) for fast CPU demos. */
      inputSize: z.union([z.literal(112), z.literal(56), z.literal(28)]).default(112),
    })
    .strict(),
]);

export const BackboneTrainConfigSchema = z
  .object({
    seed: z.number().int().min(0).max(0xffffffff).default(42),
    arch: BackboneArchSchema.default('ir_18'),
    batch_size: z.number().int().min(2).default(128),
    epochs: positiveInt.default(26),
    batches_per_epoch_fraction: z.number().gt(0).lte(1).default(1),
    optimizer: z.enum(['sgd', 'adamw']).default('sgd'),
    lr: z.number().positive().default(0.1),
    /** SGD momentum. */
    momentum: z.number().min(0).lt(1).default(0.9),
    /** AdamW betas and eps. */
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
    eps: z.number().positive().default(1e-8),
    /** Weight decay of every parameter but the BatchNorm ones (AdaFace's split). */
    weight_decay: z.number().nonnegative().default(5e-4),
    lr_milestones: z.array(positiveInt).default([12, 20, 24]),
    lr_gamma: z.number().positive().default(0.1),
    /** Global L2 norm the gradients are clipped to (0 = none, as AdaFace). */
    gradient_clip_norm: z.number().nonnegative().default(0),
    /** Dropout before the output Linear layer. */
    dropout: z.number().min(0).lt(1).default(0.4),
    flip_probability: z.number().min(0).max(1).default(0.5),
    /**
     * AdaFace's training augmentations, each with its probability (off by default): crop with
     * black fill, low resolution (down to 20-100% and back up), photometric jitter.
     */
    augmentation: z
      .object({
        crop: z.number().min(0).max(1).default(0),
        low_res: z.number().min(0).max(1).default(0),
        photometric: z.number().min(0).max(1).default(0),
      })
      .strict()
      .default({}),
    head: z
      .object({
        m: z.number().nonnegative().default(0.4),
        h: z.number().positive().default(0.333),
        s: z.number().positive().default(64),
        t_alpha: z.number().gt(0).lte(1).default(0.01),
      })
      .strict()
      .default({}),
    checkpoint: CheckpointConfigSchema.default({}),
    /**
     * Held-out identities for validation: 1:1 verification over all pairs of their images (strict
     * TAR at `far`), with eval-mode BatchNorm. Also reported: a random-weights network of the same
     * shape on the same pairs, and, given image qualities, the Spearman correlation of feature
     * norms with quality.
     */
    validation: z
      .object({
        identity_fraction: z.number().min(0).max(0.5).default(0.05),
        max_identities: z.number().int().nonnegative().default(200),
        max_images_per_identity: z.number().int().min(2).default(8),
        far: z.number().gt(0).lt(1).default(1e-3),
        /** A looser FAR also reported (with the ROC AUC): it moves even with few held-out identities. */
        loose_far: z.number().gt(0).lt(1).default(1e-2),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (typeof c.arch === 'object' && c.arch.widths.length !== c.arch.units.length) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['arch', 'units'], message: `needs one count per stage (${c.arch.widths.length} widths)` });
    }
    const sorted = [...c.lr_milestones].sort((a, b) => a - b);
    if (sorted.some((m, i) => m !== c.lr_milestones[i])) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['lr_milestones'], message: 'must be increasing' });
  });

export type BackboneTrainConfig = z.infer<typeof BackboneTrainConfigSchema>;

export function parseBackboneTrainConfig(value: unknown, file?: string): BackboneTrainConfig {
  const result = BackboneTrainConfigSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new InputError(`invalid backbone training config: ${issue.message}`, file, issue.path.length ? issue.path.join('.') : '(top level)');
}

/** Reads a JSON file: bare settings, or an experiment config's `backbone.options` section. */
export function readBackboneTrainConfig(file: string): BackboneTrainConfig {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`cannot read a JSON config (${(e as Error).message})`, file);
  }
  const backbone = value && typeof value === 'object' && 'backbone' in value ? (value as { backbone: unknown }).backbone : undefined;
  const section = backbone && typeof backbone === 'object' && 'options' in backbone ? (backbone as { options: unknown }).options : value;
  return parseBackboneTrainConfig(section, file);
}
