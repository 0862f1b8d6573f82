/**
 * `fcn train aggregator` with files: reads the tables and the config, finds the checkpoint to
 * resume from, stores checkpoints (rotation + best), appends metrics to metrics.jsonl, prints a
 * progress line, and writes config.json and summary.json into the output folder.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, Progress, writeFileAtomic, writeJsonAtomic } from '@facecoreset/common';
import { initBackend } from '@facecoreset/model';
import { parseAggregatorTrainConfig, readAggregatorTrainConfig, type AggregatorTrainConfig } from './config';
import { decodeTrainCheckpoint, type TrainCheckpoint } from './lib/checkpoint';
import { CheckpointStore } from './lib/checkpoint-store';
import { exportTrainedModel } from './lib/export';
import { modelTrainerFactory } from './lib/aggregator-trainer';
import { trainAggregator, type MetricsCallback, type TrainAggregatorSummary, type TrainerFactory } from './lib/train-aggregator';
import { readFeatureStore, readImageLabels } from './io/read-tables';

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

/** The commit of the code that trains, or 'unknown' outside a git checkout. */
export function gitSha(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: __dirname, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: __dirname, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() !== '';
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return 'unknown';
  }
}

/** Keeps metrics.jsonl consistent with a resumed position: drops records of steps after it. */
function trimMetricsLog(file: string, step: number): void {
  if (!fs.existsSync(file)) return;
  const kept = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        return (JSON.parse(line) as { step: number }).step <= step;
      } catch {
        return false; // a line cut by the crash
      }
    });
  writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
}

export async function runAggregatorTraining(opts: RunAggregatorTrainingOptions): Promise<TrainAggregatorSummary> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  await initBackend({ backend: opts.backend, log });
  const config: AggregatorTrainConfig | undefined =
    opts.config !== undefined ? parseAggregatorTrainConfig(opts.config, 'train config') : opts.configFile ? readAggregatorTrainConfig(opts.configFile) : undefined;
  fs.mkdirSync(opts.out, { recursive: true });
  const store = new CheckpointStore(opts.out, config?.checkpoint.keep_last ?? 3);
  const latest = store.latest();
  let resumeFrom: TrainCheckpoint | undefined;
  if (latest && !opts.resume) throw new InputError(`holds checkpoints (latest: step ${latest.step}); pass --resume to continue, or choose another --out`, opts.out);
  if (opts.resume && latest) resumeFrom = decodeTrainCheckpoint(fs.readFileSync(latest.path), latest.path);
  if (opts.resume && !latest) log(`no checkpoint in ${opts.out}: starting a new run`);
  if (!resumeFrom && !config) log('no --config: training with the paper settings');

  const t0 = Date.now();
  const features = readFeatureStore(opts.features);
  const labels = readImageLabels(opts.images);
  log(`read ${features.count} feature rows (D = ${features.dim}) and ${labels.length} image labels in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const metricsFile = path.join(opts.out, 'metrics.jsonl');
  if (resumeFrom) trimMetricsLog(metricsFile, resumeFrom.training.position.step);
  else fs.rmSync(metricsFile, { force: true });
  const metricsFd = fs.openSync(metricsFile, 'a');
  let progress: Progress | undefined;
  try {
    const summary = await trainAggregator({
      store: features,
      labelOfImageRow: labels,
      config,
      factory: opts.factory ?? modelTrainerFactory(),
      resumeFrom,
      source: opts.features,
      gitSha: gitSha(),
      maxSteps: opts.maxSteps,
      log,
      onMetrics: (step, metrics) => {
        fs.writeSync(metricsFd, JSON.stringify({ step, ...metrics }) + '\n');
        opts.onMetrics?.(step, metrics);
      },
      onStart: (info) => {
        store.keepLast = info.config.checkpoint.keep_last;
        writeJsonAtomic(path.join(opts.out, 'config.json'), info.config);
        progress = new Progress({
          label: 'train aggregator',
          unit: 'steps',
          total: info.totalSteps - info.position.step,
          secondary: { unit: 'sets/s', scale: 1 },
          stream: opts.progress ?? undefined,
          silent: opts.progress === null,
        });
      },
      onStep: (m) => progress?.tick(1, m.items),
      onEpoch: (m) => {
        const v = m.validation ? `, ${m.validation.metric} ${m.validation.tar.toFixed(4)} (FAR ${m.validation.far.toExponential(1)}, ${m.validation.genuinePairs}+${m.validation.impostorPairs} pairs)` : '';
        log(`epoch ${m.epoch} done at step ${m.step} in ${m.seconds.toFixed(1)} s${v}`);
      },
      saveCheckpoint: (step, bytes, isBest) => store.save(step, bytes, { best: isBest }),
    });
    progress?.finish();
    // The model alone, from the best checkpoint (held-out validation) or else the latest.
    const chosen = fs.existsSync(store.bestPath) ? store.bestPath : store.latest()?.path;
    const modelFile = path.join(opts.out, 'aggregator.safetensors');
    if (chosen) writeFileAtomic(modelFile, exportTrainedModel(decodeTrainCheckpoint(fs.readFileSync(chosen), chosen), chosen));
    writeJsonAtomic(path.join(opts.out, 'summary.json'), {
      finished: summary.finished,
      step: summary.position.step,
      epoch: summary.position.epoch,
      best: summary.best,
      baselines: summary.baselines ?? null,
      classes: summary.classes,
      held_out_identities: summary.heldOutIdentities,
      validation_templates: summary.validationTemplates,
      steps_per_epoch: summary.stepsPerEpoch,
      latest_checkpoint: store.latest()?.path ?? null,
      best_checkpoint: fs.existsSync(store.bestPath) ? store.bestPath : null,
      model: chosen ? modelFile : null,
      model_source: chosen ?? null,
    });
    return summary;
  } finally {
    fs.closeSync(metricsFd);
  }
}
