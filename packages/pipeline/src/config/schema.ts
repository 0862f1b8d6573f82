/**
 * The experiment config (configs/<experiment>.json): one strict zod schema, sections per stage.
 * A stage's cache key includes only its own section (see sections.ts), so changing the eval section
 * never reruns training.
 */
import { z } from 'zod';

const Dataset = z.enum(['IJBB', 'IJBC']);
export type IjbDataset = z.infer<typeof Dataset>;

export const SynthSection = z
  .object({
    /** Where the generated raw data goes (a RecordIO training set under train/, an IJB root under ijb/). */
    out: z.string(),
    seed: z.number().int().default(1),
    /** Extra generator options (identities, images per identity, IJB subjects, ...), passed through. */
    options: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).default({}),
  })
  .strict();

export const DataSection = z
  .object({
    synth: SynthSection.optional(),
    train: z
      .object({
        format: z.enum(['recordio', 'folder']),
        /** A folder holding train.rec + train.idx (recordio), or one folder per identity (folder). */
        path: z.string(),
      })
      .strict(),
    ijb: z
      .object({
        root: z.string(),
        datasets: z.array(Dataset).min(1),
        /** Official pre-extracted features per dataset (e.g. IJBB_ir101_webface4m.pickle); skips extract-ijb. */
        featuresPickle: z.record(Dataset, z.string()).optional(),
        align: z.boolean().default(true),
      })
      .strict(),
  })
  .strict();

export const BackboneSection = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('import'),
      /** An AdaFace / Lightning backbone checkpoint (.ckpt) or one of ours (.safetensors). */
      checkpoint: z.string(),
      arch: z.enum(['ir_18', 'ir_34', 'ir_50', 'ir_101']),
    })
    .strict(),
  z
    .object({
      mode: z.literal('train'),
      /** Options for `fcn train backbone` (architecture, epochs, optimiser, ...), validated by the train package. */
      options: z.record(z.string(), z.unknown()).default({}),
    })
    .strict(),
]);

export const ExtractSection = z
  .object({
    /** Views of every training image: original, flip, aug:N (N augmented copies). */
    trainViews: z.string().default('original,flip,aug:4'),
    /** Views of every IJB face (the official evaluation uses the original only). */
    ijbViews: z.string().default('original'),
    /** Number of shard tasks for training-set extraction; Nx runs and caches them one by one. */
    shards: z.number().int().min(1).max(256).default(1),
    batchSize: z.number().int().min(1).default(64),
    seed: z.number().int().default(0),
  })
  .strict();

export const EvalSection = z
  .object({
    methods: z.array(z.enum(['facecoresetnet', 'mean', 'norm-weighted'])).min(1).default(['facecoresetnet', 'mean', 'norm-weighted']),
    protocol: z.enum(['set', 'media']).default('set'),
    farList: z.array(z.number().gt(0).lt(1)).min(1).default([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]),
    /** The official FaceCoresetNet.ckpt, evaluated beside ours as 'facecoresetnet-official' (evaluation only). */
    officialCheckpoint: z.string().optional(),
    identification: z.boolean().default(true),
  })
  .strict();

export const ReportSection = z
  .object({
    title: z.string().default('FaceCoresetNet IJB report'),
  })
  .strict();

export const TrackingSection = z
  .object({
    experimentName: z.string().min(1),
    /** Local file store used when MLFLOW_TRACKING_URI is not set. */
    mlrunsDir: z.string().default('mlruns'),
  })
  .strict();

export const ExperimentConfig = z
  .object({
    $schema: z.string().optional(),
    experiment: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
    description: z.string().optional(),
    data: DataSection,
    backbone: BackboneSection,
    extract: ExtractSection.default({}),
    /** Options for `fcn train aggregator`, validated by the train package's schema. */
    train: z.record(z.string(), z.unknown()).default({}),
    eval: EvalSection.default({}),
    report: ReportSection.default({}),
    tracking: TrackingSection,
  })
  .strict();

export type ExperimentConfig = z.infer<typeof ExperimentConfig>;
