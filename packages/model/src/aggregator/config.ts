/**
 * Configuration of the FaceCoresetNet aggregator (TemplateAggregateModel in the official code).
 * A strict schema: an unknown key is an error, so a typo never silently falls back to a default.
 */
import { z } from 'zod';

export const AggregatorConfigSchema = z
  .object({
    /** Feature width D (512 for AdaFace IR backbones). */
    embeddingSize: z.number().int().positive().default(512),
    /** Coreset size K; a set of T < K items keeps all T. */
    coresetSize: z.number().int().positive().default(3),
    /** Attention heads H; D must be a multiple of H. */
    heads: z.number().int().positive().default(8),
    /**
     * Exponent γ of the quality distance n^γ·(1 − cos)/2: 'learned' makes it a parameter starting at
     * `gammaInit`; a number fixes it (the official `gamma` hyper-parameter, −1 meaning learned).
     */
    gamma: z.union([z.literal('learned'), z.number()]).default('learned'),
    /** Initial value of a learned γ (official: 0.01). */
    gammaInit: z.number().default(0.01),
    layerNormEps: z.number().positive().default(1e-5),
    /** Dropout on attention weights and after both attention blocks, in train mode only. */
    dropout: z.number().min(0).lt(1).default(0.1),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.embeddingSize % c.heads !== 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['heads'], message: `embeddingSize ${c.embeddingSize} is not a multiple of heads ${c.heads}` });
    if (c.embeddingSize % 2 !== 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['embeddingSize'], message: 'the norm encoding pairs channels (sin, cos): embeddingSize must be even' });
  });

export type AggregatorConfig = z.infer<typeof AggregatorConfigSchema>;
export type AggregatorConfigInput = z.input<typeof AggregatorConfigSchema>;

/** Resolves defaults and validates; throws with the offending key named. */
export function aggregatorConfig(input: AggregatorConfigInput = {}): AggregatorConfig {
  const r = AggregatorConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new Error(`invalid aggregator config at '${issue.path.join('.') || '(top level)'}': ${issue.message}`);
}

/**
 * The aggregator config an official checkpoint was trained with, from its Lightning
 * `hyper_parameters` (`coreset_size`, `gamma` with −1 = learned). Other keys are ignored.
 */
export function aggregatorConfigFromHyperParameters(hp: Record<string, unknown>, overrides: AggregatorConfigInput = {}): AggregatorConfig {
  const input: AggregatorConfigInput = {};
  if (typeof hp.coreset_size === 'number') input.coresetSize = hp.coreset_size;
  if (typeof hp.gamma === 'number') input.gamma = hp.gamma === -1 ? 'learned' : hp.gamma;
  return aggregatorConfig({ ...input, ...overrides });
}

/** Internal sizes derived from a config. */
export interface AggregatorDims {
  /** D */
  dim: number;
  /** K */
  coresetSize: number;
  /** H */
  heads: number;
  /** D / H */
  headDim: number;
}

export function aggregatorDims(c: AggregatorConfig): AggregatorDims {
  return { dim: c.embeddingSize, coresetSize: c.coresetSize, heads: c.heads, headDim: c.embeddingSize / c.heads };
}

/**
 * Selection sharpness of the farthest-point sampling as the official code sets it: training uses
 * gumbel_softmax(logits, τ = 1); evaluation scales the logits by 1e4 with τ = 1e-10, whose zero-noise
 * limit is the argmax we use. Kept here so the numbers have names.
 */
export const FPS_EVAL_LOGIT_SCALE = 1e4;
/** The `gamma_base` constant the official code adds to γ. */
export const GAMMA_BASE = 0;
/** torch.nn.functional.normalize's default eps. */
export const NORMALIZE_EPS = 1e-12;
/** Temperature of the norm encoding's frequencies (ω_j = TEMPERATURE^(2⌊j/2⌋/D)). */
export const NORM_ENCODING_TEMPERATURE = 10000;
