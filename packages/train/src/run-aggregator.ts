/**
 * `fcn train aggregator` with files: reads the tables and the config, resumes from the latest
 * checkpoint in the run folder, and leaves checkpoints, metrics.jsonl, config.json, summary.json
 * and aggregator.safetensors (the model alone) there.
 */
import { initBackend } from '@facecoreset/model';
import { parseAggregatorTrainConfig, readAggregatorTrainConfig, type AggregatorTrainConfig } from './config';
import { modelTrainerFactory } from './lib/aggregator-trainer';
import { trainAggregator, type MetricsCallback, type TrainAggregatorSummary, type TrainerFactory } from './lib/train-aggregator';
import { readFeatureStore, readImageLabels } from './io/read-tables';
import { gitSha, RunFolder } from './run-folder';

export const AGGREGATOR_MODEL_FILE = 'aggregator.safetensors';

export interface RunAggregatorTrainingOptions {
  /** Features table (its folder or the folder holding `features/`). */
  features: string;
  /** Images table (its folder or the folder holding `images/`), for the label of every row. */
  images: string;
  /** JSON config (bare or with a `train` section); default: the paper's settings. */
  configFile?: string;
  /** The config as a value (e.g. an experiment config's `train` section); validated here. Wins over configFile. */
  config?: unknown;
  out: string;
  /** Continue from the latest checkpoint in `out` (a fresh start when there is none). */
  resume?: boolean;
  backend?: string;
  /** Stop after this many steps in total (checkpointed; continue later with resume). */
  maxSteps?: number;
  onMetrics?: MetricsCallback;
  log?: (line: string) => void;
  /** Progress line stream (default stderr); null for none. */
  progress?: NodeJS.WritableStream | null;
  /** Substitute trainer (tests); default: the model package's FaceCoresetNet + AdaFace + AdamW. */
  factory?: TrainerFactory;
}

export async function runAggregatorTraining(opts: RunAggregatorTrainingOptions): Promise<TrainAggregatorSummary> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  await initBackend({ backend: opts.backend, log });
  const config: AggregatorTrainConfig | undefined =
    opts.config !== undefined ? parseAggregatorTrainConfig(opts.config, 'train config') : opts.configFile ? readAggregatorTrainConfig(opts.configFile) : undefined;
  const run = new RunFolder({ out: opts.out, resume: opts.resume, label: 'train aggregator', itemUnit: 'sets/s', log, progress: opts.progress, onMetrics: opts.onMetrics });
  if (!run.resumeFrom && !config) log('no config: training with the paper settings');

  const t0 = Date.now();
  const features = readFeatureStore(opts.features);
  const labels = readImageLabels(opts.images);
  log(`read ${features.count} feature rows (D = ${features.dim}) and ${labels.length} image labels in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  run.open();
  try {
    const summary = await trainAggregator({
      store: features,
      labelOfImageRow: labels,
      config,
      factory: opts.factory ?? modelTrainerFactory(),
      resumeFrom: run.resumeFrom,
      source: opts.features,
      gitSha: gitSha(),
      maxSteps: opts.maxSteps,
      log,
      onMetrics: run.metrics,
      onStart: (info) => run.start(info.config, info.totalSteps - info.position.step),
      onStep: (m) => run.step(m.items),
      onEpoch: run.epoch,
      saveCheckpoint: run.save,
    });
    run.finish(AGGREGATOR_MODEL_FILE, {
      finished: summary.finished,
      step: summary.position.step,
      epoch: summary.position.epoch,
      best: summary.best,
      baselines: summary.baselines ?? null,
      classes: summary.classes,
      held_out_identities: summary.heldOutIdentities,
      validation_templates: summary.validationTemplates,
      steps_per_epoch: summary.stepsPerEpoch,
    });
    return summary;
  } finally {
    run.close();
  }
}
