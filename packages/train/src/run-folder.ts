/**
 * The output folder of a training run, shared by `fcn train aggregator` and `fcn train backbone`:
 * checkpoints/ (rotation) + best.safetensors, metrics.jsonl (one JSON record per metrics call,
 * trimmed back to the checkpoint on resume), config.json (resolved settings), summary.json, the
 * exported model, and the progress line.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, Progress, writeFileAtomic, writeJsonAtomic } from '@facecoreset/common';
import { decodeTrainCheckpoint, type TrainCheckpoint } from './lib/checkpoint';
import { CheckpointStore } from './lib/checkpoint-store';
import { exportTrainedModel } from './lib/export';
import type { EpochMetrics } from './lib/training-loop';

/** The commit of the code that trains ('-dirty' with local changes), or 'unknown' outside git. */
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
export function trimMetricsLog(file: string, step: number): void {
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

export interface RunFolderOptions {
  out: string;
  resume?: boolean;
  label: string;
  /** Unit of the secondary rate on the progress line (sets/s, images/s). */
  itemUnit: string;
  log: (line: string) => void;
  progress?: NodeJS.WritableStream | null;
  onMetrics?: (step: number, metrics: Record<string, number>) => void;
}

export class RunFolder {
  private storeOrUndefined: CheckpointStore | undefined;
  /** The checkpoint to continue from (with resume, when there is one). */
  readonly resumeFrom?: TrainCheckpoint;
  private readonly metricsFile: string;
  private metricsFd: number | undefined;
  private progress: Progress | undefined;

  /** Looks at `out` (creating nothing yet); refuses a folder with checkpoints unless resuming. */
  constructor(private readonly opts: RunFolderOptions) {
    const latest = CheckpointStore.latestIn(opts.out);
    if (latest && !opts.resume) throw new InputError(`holds checkpoints (latest: step ${latest.step}); pass --resume to continue, or choose another --out`, opts.out);
    if (opts.resume && latest) this.resumeFrom = decodeTrainCheckpoint(fs.readFileSync(latest.path), latest.path);
    if (opts.resume && !latest) opts.log(`no checkpoint in ${opts.out}: starting a new run`);
    this.metricsFile = path.join(opts.out, 'metrics.jsonl');
  }

  get store(): CheckpointStore {
    if (!this.storeOrUndefined) throw new Error('RunFolder: open() first');
    return this.storeOrUndefined;
  }

  /** Creates the folder (once the inputs have been read) and starts metrics.jsonl (trimmed to the resumed step, or new). */
  open(): void {
    this.storeOrUndefined = new CheckpointStore(this.opts.out, 3);
    if (this.resumeFrom) trimMetricsLog(this.metricsFile, this.resumeFrom.training.position.step);
    else fs.rmSync(this.metricsFile, { force: true });
    this.metricsFd = fs.openSync(this.metricsFile, 'a');
  }

  metrics = (step: number, metrics: Record<string, number>): void => {
    if (this.metricsFd !== undefined) fs.writeSync(this.metricsFd, JSON.stringify({ step, ...metrics }) + '\n');
    this.opts.onMetrics?.(step, metrics);
  };

  /** Called once the settings are resolved: keep-last, config.json, the progress line. */
  start(config: { checkpoint: { keep_last: number } }, stepsLeft: number): void {
    this.store.keepLast = config.checkpoint.keep_last;
    writeJsonAtomic(path.join(this.opts.out, 'config.json'), config);
    this.progress = new Progress({
      label: this.opts.label,
      unit: 'steps',
      total: stepsLeft,
      secondary: { unit: this.opts.itemUnit, scale: 1 },
      stream: this.opts.progress ?? undefined,
      silent: this.opts.progress === null,
    });
  }

  step = (items: number): void => this.progress?.tick(1, items);

  epoch = (m: EpochMetrics): void => {
    const v = m.validation;
    const extra = v?.extra ? Object.entries(v.extra).map(([k, x]) => `, ${k} ${x.toFixed(3)}`).join('') : '';
    const text = v ? `, ${v.metric} ${v.tar.toFixed(4)} (FAR ${v.far.toExponential(1)}, ${v.genuinePairs}+${v.impostorPairs} pairs)${extra}` : '';
    this.opts.log(`epoch ${m.epoch} done at step ${m.step} in ${m.seconds.toFixed(1)} s${text}`);
  };

  save = (step: number, bytes: Uint8Array, isBest: boolean): void => {
    this.store.save(step, bytes, { best: isBest });
  };

  /**
   * Ends the run: the model alone (from the best checkpoint, else the latest) as `modelFile`, and
   * summary.json. Returns the model's path (undefined without any checkpoint).
   */
  finish(modelFileName: string, summary: Record<string, unknown>): string | undefined {
    this.progress?.finish();
    const chosen = fs.existsSync(this.store.bestPath) ? this.store.bestPath : this.store.latest()?.path;
    const modelFile = path.join(this.opts.out, modelFileName);
    if (chosen) writeFileAtomic(modelFile, exportTrainedModel(decodeTrainCheckpoint(fs.readFileSync(chosen), chosen), chosen));
    // Paths relative to the run folder: the pipeline trains in a work folder and renames it when done.
    const inRun = (p: string | undefined): string | null => (p ? path.relative(this.opts.out, p) : null);
    writeJsonAtomic(path.join(this.opts.out, 'summary.json'), {
      ...summary,
      latest_checkpoint: inRun(this.store.latest()?.path),
      best_checkpoint: inRun(fs.existsSync(this.store.bestPath) ? this.store.bestPath : undefined),
      model: inRun(chosen ? modelFile : undefined),
      model_source: inRun(chosen),
    });
    return chosen ? modelFile : undefined;
  }

  close(): void {
    if (this.metricsFd !== undefined) fs.closeSync(this.metricsFd);
    this.metricsFd = undefined;
  }
}
