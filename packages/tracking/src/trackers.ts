/** The Tracker interface over the local file store and over the REST client. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { walkFiles } from './file-store/fs-utils';
import { FileStore } from './file-store/store';
import { prepareParams, prepareTags, TRUNCATED_PARAMS_TAG, TRUNCATED_TAGS_TAG } from './keys';
import type { MlflowRestClient } from './rest/client';
import type { LogMetricsOptions, MetricPoint, RunStatus, StartRunOptions, Tracker } from './types';

function toPoints(values: Record<string, number>, options: LogMetricsOptions = {}): MetricPoint[] {
  const timestamp = options.timestamp ?? Date.now();
  return Object.entries(values).map(([key, value]) => ({ key, value, step: options.step ?? 0, timestamp }));
}

function defaultRunName(): string {
  const d = new Date();
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `run-${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
}

/** Tags every run gets, as MLflow's own client sets them. */
function startTags(options: StartRunOptions): Record<string, string> {
  return prepareTags({
    'mlflow.source.type': 'LOCAL',
    'mlflow.source.name': 'fcn',
    ...(options.parentRunId ? { 'mlflow.parentRunId': options.parentRunId } : {}),
    ...options.tags,
  });
}

/** Merges a comma list tag (the truncated-keys tags) with what the run already has. */
function mergeListTag(existing: string | undefined, added: string): string {
  const keys = new Set([...(existing ? existing.split(',') : []), ...added.split(',')]);
  return [...keys].filter(Boolean).join(',');
}

/** Writes runs into a local `mlruns/` folder. */
export class FileTracker implements Tracker {
  readonly experimentId: string;

  constructor(
    readonly store: FileStore,
    readonly experimentName: string,
  ) {
    this.experimentId = store.getOrCreateExperiment(experimentName).experimentId;
  }

  get location(): string {
    return `${this.store.root} (experiment '${this.experimentName}')`;
  }

  async startRun(options: StartRunOptions = {}): Promise<string> {
    return this.store.createRun(this.experimentId, {
      runName: options.name ?? defaultRunName(),
      startTime: options.startTime ?? Date.now(),
      userId: options.userId ?? '',
      tags: startTags(options),
    });
  }

  private mergeTruncationTags(runId: string, tags: Record<string, string>): Record<string, string> {
    const out = { ...tags };
    const current = this.store.readRun(runId).tags;
    for (const key of [TRUNCATED_PARAMS_TAG, TRUNCATED_TAGS_TAG]) if (out[key] !== undefined) out[key] = mergeListTag(current[key], out[key]);
    return out;
  }

  async logParams(runId: string, params: Record<string, unknown>): Promise<void> {
    const prepared = prepareParams(params);
    this.store.logParams(runId, prepared.params);
    if (Object.keys(prepared.tags).length) this.store.setTags(runId, this.mergeTruncationTags(runId, prepared.tags));
  }

  async logMetrics(runId: string, values: Record<string, number>, options?: LogMetricsOptions): Promise<void> {
    this.store.logMetrics(runId, toPoints(values, options));
  }

  async logMetricPoints(runId: string, points: MetricPoint[]): Promise<void> {
    this.store.logMetrics(runId, points);
  }

  async setTags(runId: string, tags: Record<string, string>): Promise<void> {
    this.store.setTags(runId, this.mergeTruncationTags(runId, prepareTags(tags)));
  }

  async logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void> {
    this.store.logArtifact(runId, localPath, artifactPath);
  }

  async endRun(runId: string, status: RunStatus = 'FINISHED', endTime = Date.now()): Promise<void> {
    this.store.endRun(runId, status, endTime);
  }

  async close(): Promise<void> {}
}

/** Sends every call straight to an MLflow server (no local copy; see MirroredTracker for that). */
export class RestTracker implements Tracker {
  private constructor(
    readonly client: MlflowRestClient,
    readonly experimentName: string,
    readonly experimentId: string,
  ) {}

  static async open(client: MlflowRestClient, experimentName: string): Promise<RestTracker> {
    const experiment = await client.getOrCreateExperiment(experimentName);
    return new RestTracker(client, experimentName, experiment.experimentId);
  }

  get location(): string {
    return `${this.client.location} (experiment '${this.experimentName}')`;
  }

  async startRun(options: StartRunOptions = {}): Promise<string> {
    const name = options.name ?? defaultRunName();
    const info = await this.client.createRun({ experimentId: this.experimentId, runName: name, startTime: options.startTime ?? Date.now(), userId: options.userId, tags: { 'mlflow.runName': name, ...startTags(options) } });
    return info.run_id;
  }

  async logParams(runId: string, params: Record<string, unknown>): Promise<void> {
    const prepared = prepareParams(params);
    await this.client.logBatch(runId, {
      params: Object.entries(prepared.params).map(([key, value]) => ({ key, value })),
      tags: Object.entries(prepared.tags).map(([key, value]) => ({ key, value })),
    });
  }

  async logMetrics(runId: string, values: Record<string, number>, options?: LogMetricsOptions): Promise<void> {
    await this.client.logBatch(runId, { metrics: toPoints(values, options) });
  }

  async logMetricPoints(runId: string, points: MetricPoint[]): Promise<void> {
    await this.client.logBatch(runId, { metrics: points });
  }

  async setTags(runId: string, tags: Record<string, string>): Promise<void> {
    await this.client.logBatch(runId, { tags: Object.entries(prepareTags(tags)).map(([key, value]) => ({ key, value })) });
  }

  async logArtifact(runId: string, localPath: string, artifactPath = ''): Promise<void> {
    const prefix = artifactPath.replace(/^\/+|\/+$/g, '');
    const join = (rel: string): string => (prefix ? `${prefix}/${rel}` : rel);
    if (fs.statSync(localPath).isDirectory()) {
      for (const rel of walkFiles(localPath)) await this.client.uploadArtifact(runId, join(rel), fs.readFileSync(path.join(localPath, ...rel.split('/'))));
    } else {
      await this.client.uploadArtifact(runId, join(path.basename(localPath)), fs.readFileSync(localPath));
    }
  }

  async endRun(runId: string, status: RunStatus = 'FINISHED', endTime = Date.now()): Promise<void> {
    await this.client.updateRun(runId, status, endTime);
  }

  async close(): Promise<void> {}
}
