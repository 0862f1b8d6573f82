/** What a stage function gets, and what it returns. */
import type { ExperimentConfig } from '../config';

export interface StageLogger {
  params(params: Record<string, unknown>): void;
  metrics(metrics: Record<string, number>, step?: number): void;
  /** A file or folder inside the stage's output to attach to the run (path relative to outDir). */
  artifact(relPath: string): void;
  tags(tags: Record<string, string>): void;
}

export interface StageContext {
  experiment: string;
  config: ExperimentConfig;
  configFile: string;
  stage: string;
  /** The folder to write into; it becomes artifacts/<experiment>/<stage> when the stage succeeds. */
  outDir: string;
  /** The finished output folder of an upstream stage. */
  upstream(stage: string): string;
  track: StageLogger;
  log(line: string): void;
}

export interface StageResult {
  /** Counts and other facts recorded in the stage's manifest.json. */
  summary: Record<string, unknown>;
}

export type StageFn = (ctx: StageContext) => Promise<StageResult>;
