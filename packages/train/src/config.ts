/**
 * The aggregator training configuration: one strict zod schema whose defaults are the paper's
 * settings (official train.sh: batch 20 sets, lr 1e-4, γ lr 1e-4, weight decay 1e-3, K = 3,
 * T ~ U{1..20}, 150 epochs × 10 % of the batches, milestone 20, ×0.1, clipping 1.0, AdaFace
 * m 0.8 / h 0.333 / s 48). An unknown key anywhere is an error, so a typo never silently trains
 * with a default.
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import { InputError } from '@facecoreset/common';

const positiveInt = z.number().int().positive();

export const AdaFaceHeadConfigSchema = z
  .object({
    /** Angular margin. */
    m: z.number().nonnegative().default(0.8),
    /** Norm-to-margin concentration. */
    h: z.number().positive().default(0.333),
    /** Logit scale. */
    s: z.number().positive().default(48),
    /** EMA rate of the batch norm statistics. */
    t_alpha: z.number().gt(0).lte(1).default(0.01),
  })
  .strict();

export const CheckpointConfigSchema = z
  .object({
    /** Also checkpoint every N optimiser steps (0 = only at the end of each epoch). */
    every_steps: z.number().int().nonnegative().default(500),
    /** How many of the most recent checkpoints to keep (the best one is kept separately). */
    keep_last: positiveInt.default(3),
  })
  .strict();

/**
 * Validation on held-out identities: their images never reach the head. Each held-out identity
 * gives `templates_per_identity` templates built from disjoint subsets of its images; the metric is
 * the verification TAR at FAR = `far` (strict: the largest TAR whose FAR ≤ target) over all
 * template pairs, computed on eval-mode aggregates. Cheap (a few hundred eval forwards) and it
 * measures what the aggregator is for, which a loss on unseen classes cannot.
 */
export const ValidationConfigSchema = z
  .object({
    /** Fraction of identities (those with at least `templates_per_identity` images) held out. */
    identity_fraction: z.number().min(0).max(0.5).default(0.02),
    /** Upper bound on the number of held-out identities (keeps validation cheap on big sets). */
    max_identities: z.number().int().nonnegative().default(500),
    templates_per_identity: z.number().int().min(2).default(2),
    /** Templates are built like training sets with T ~ U{1..max_template_size}. */
    max_template_size: positiveInt.default(20),
    far: z.number().gt(0).lt(1).default(1e-3),
  })
  .strict();

export const AggregatorTrainConfigSchema = z
  .object({
    seed: z.number().int().min(0).max(0xffffffff).default(42),
    /** Sets (identities) per batch; identities in a batch are distinct. */
    batch_size: positiveInt.default(20),
    /** T ~ U{1..max_template_size}, drawn once per batch. */
    max_template_size: positiveInt.default(20),
    /** A clip adds min(max_clip_size, U{1..remaining}) views of one image. */
    max_clip_size: positiveInt.default(3),
    epochs: positiveInt.default(150),
    /** Fraction of an epoch's batches actually run (Lightning's limit_train_batches). */
    batches_per_epoch_fraction: z.number().gt(0).lte(1).default(0.1),
    lr: z.number().positive().default(1e-4),
    gamma_lr: z.number().nonnegative().default(1e-4),
    weight_decay: z.number().nonnegative().default(1e-3),
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
    eps: z.number().positive().default(1e-8),
    /** Epochs after which both learning rates are multiplied by `lr_gamma` (MultiStepLR). */
    lr_milestones: z.array(z.number().int().positive()).default([20]),
    lr_gamma: z.number().positive().default(0.1),
    /** Global L2 norm the gradients are clipped to (0 = no clipping). */
    gradient_clip_norm: z.number().nonnegative().default(1.0),
    /** Coreset size K. */
    coreset_size: positiveInt.default(3),
    attention_heads: positiveInt.default(8),
    /** γ of the quality distance: learned from 0.01, or fixed to the given value. */
    gamma: z.union([z.literal('learned'), z.number()]).default('learned'),
    dropout: z.number().min(0).lt(1).default(0.1),
    head: AdaFaceHeadConfigSchema.default({}),
    checkpoint: CheckpointConfigSchema.default({}),
    validation: ValidationConfigSchema.default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const sorted = [...c.lr_milestones].sort((a, b) => a - b);
    if (sorted.some((m, i) => m !== c.lr_milestones[i])) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['lr_milestones'], message: 'must be increasing' });
  });

export type AggregatorTrainConfig = z.infer<typeof AggregatorTrainConfigSchema>;
export type AggregatorTrainConfigInput = z.input<typeof AggregatorTrainConfigSchema>;

/** The paper's settings (all defaults). */
export function paperAggregatorTrainConfig(): AggregatorTrainConfig {
  return AggregatorTrainConfigSchema.parse({});
}

/** Validates a config object; errors name the file and the offending key. */
export function parseAggregatorTrainConfig(value: unknown, file?: string): AggregatorTrainConfig {
  const result = AggregatorTrainConfigSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue.path.length ? issue.path.join('.') : '(top level)';
  throw new InputError(`invalid training config: ${issue.message}`, file, where);
}

/**
 * Reads a JSON config file. A file holding a whole experiment config may carry the training
 * settings in a `train` section; a file with only training keys is read as is.
 */
export function readAggregatorTrainConfig(file: string): AggregatorTrainConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read config: ${(e as Error).message}`, file);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InputError(`not valid JSON: ${(e as Error).message}`, file);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InputError('expected a JSON object', file);
  const section = 'train' in value ? (value as { train: unknown }).train : value;
  return parseAggregatorTrainConfig(section, file);
}
