/**
 * Opening a tracker or a run source from a tracking URI (MLFLOW_TRACKING_URI by default):
 * no URI or a path -> the local `mlruns/` file store; http(s):// -> the mirrored tracker, which
 * writes the local store first (the durable outbox) and forwards runs to the server.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '@facecoreset/common';
import { FileStore } from './file-store/store';
import { credentialsFromEnv, MlflowRestClient } from './rest/client';
import { MlflowApiError, type HttpOptions } from './rest/http';
import { queueRun, syncRun, syncStore, syncTargetKey } from './sync/sync';
import { FileTracker, RestTracker } from './trackers';
import type { LogMetricsOptions, MetricPoint, RunSource, RunStatus, StartRunOptions, Tracker } from './types';

export type TrackingTarget = { kind: 'file'; root: string } | { kind: 'http'; url: string };

/** Classifies a tracking URI; unsupported schemes get a clear error. */
export function parseTrackingUri(uri: string | undefined, defaultMlruns = 'mlruns'): TrackingTarget {
  const value = uri?.trim();
  if (!value) return { kind: 'file', root: path.resolve(defaultMlruns) };
  if (/^https?:\/\//i.test(value)) return { kind: 'http', url: value };
  if (value.startsWith('file:')) return { kind: 'file', root: fileURLToPath(value.startsWith('file://') ? value : `file://${path.resolve(value.slice(5))}`) };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value);
  if (scheme && scheme[1].length > 1) {
    throw new Error(`tracking URI scheme '${scheme[1]}:' is not supported: use an http(s):// MLflow server or a local mlruns folder`);
  }
  return { kind: 'file', root: path.resolve(value) };
}

export type HttpSettings = Partial<Omit<HttpOptions, 'baseUrl' | 'credentials'>>;

/** A REST client for an http(s) URI, with credentials from the environment. */
export function openRestClient(url: string, env: NodeJS.ProcessEnv = process.env, http: HttpSettings = {}): MlflowRestClient {
  return new MlflowRestClient({ baseUrl: url, credentials: credentialsFromEnv(env), ...http });
}

/** Where `compare` reads runs from: a local mlruns folder or a server. */
export function openRunSource(store: string | undefined, env: NodeJS.ProcessEnv = process.env, http: HttpSettings = {}): RunSource {
  const target = parseTrackingUri(store ?? env.MLFLOW_TRACKING_URI);
  return target.kind === 'file' ? new FileStore(target.root) : openRestClient(target.url, env, http);
}

/** A file (not a folder, so MLflow ignores it) in the store root remembering that the server was down. */
const UNREACHABLE_FILE = '.fcn-server-unreachable.json';
/** How long other processes (the next pipeline stages) skip a server that just failed. */
const UNREACHABLE_MEMORY_MS = 120_000;

/**
 * Writes every run to the local store, then forwards it to the server when the run ends and on
 * close. A server that is down or slow costs one timeout per pipeline invocation: after a network
 * failure nothing more is tried in this process, nor for two minutes by the other processes using
 * the same store (the next stages), and the runs wait in the local store for the next run or for
 * `fcn mlflow sync --to <uri>`.
 */
export class MirroredTracker implements Tracker {
  private remoteDown = false;
  readonly target: string;

  constructor(
    readonly local: FileTracker,
    readonly client: MlflowRestClient,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.target = syncTargetKey(client);
    const marker = this.readUnreachable();
    if (marker !== undefined && Date.now() - marker < UNREACHABLE_MEMORY_MS) {
      this.remoteDown = true;
      this.log(`mlflow: ${this.client.location} did not answer ${Math.round((Date.now() - marker) / 1000)} s ago; runs stay in ${this.local.store.root} for the next run or 'fcn mlflow sync'`);
    }
  }

  private get unreachableFile(): string {
    return path.join(this.local.store.root, UNREACHABLE_FILE);
  }

  private readUnreachable(): number | undefined {
    try {
      const m = JSON.parse(fs.readFileSync(this.unreachableFile, 'utf8')) as Record<string, number>;
      return m[this.target];
    } catch {
      return undefined;
    }
  }

  private writeUnreachable(at: number | undefined): void {
    let m: Record<string, number> = {};
    try {
      m = JSON.parse(fs.readFileSync(this.unreachableFile, 'utf8'));
    } catch {
      if (at === undefined) return;
    }
    if (at === undefined) delete m[this.target];
    else m[this.target] = at;
    try {
      writeJsonAtomic(this.unreachableFile, m);
    } catch {
      // Only an optimisation: never fail a run over it.
    }
  }

  get experimentId(): string {
    return this.local.experimentId;
  }
  get experimentName(): string {
    return this.local.experimentName;
  }
  get location(): string {
    return `${this.client.location} (experiment '${this.experimentName}'; local copy in ${this.local.store.root})`;
  }
  /** True once the server failed to answer; later runs then stay local until a sync. */
  get offline(): boolean {
    return this.remoteDown;
  }

  async startRun(options?: StartRunOptions): Promise<string> {
    const runId = await this.local.startRun(options);
    queueRun(this.local.store, this.target, runId);
    return runId;
  }
  logParams(runId: string, params: Record<string, unknown>): Promise<void> {
    return this.local.logParams(runId, params);
  }
  logMetrics(runId: string, values: Record<string, number>, options?: LogMetricsOptions): Promise<void> {
    return this.local.logMetrics(runId, values, options);
  }
  logMetricPoints(runId: string, points: MetricPoint[]): Promise<void> {
    return this.local.logMetricPoints(runId, points);
  }
  setTags(runId: string, tags: Record<string, string>): Promise<void> {
    return this.local.setTags(runId, tags);
  }
  logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void> {
    return this.local.logArtifact(runId, localPath, artifactPath);
  }

  async endRun(runId: string, status?: RunStatus, endTime?: number): Promise<void> {
    await this.local.endRun(runId, status, endTime);
    await this.flush(runId);
  }

  private noteFailure(e: unknown): void {
    const message = this.client.http.redact(e instanceof Error ? e.message : String(e));
    if (e instanceof MlflowApiError && e.network) {
      this.remoteDown = true;
      this.writeUnreachable(Date.now());
      this.log(`mlflow: server not reachable (${message}); runs are kept in ${this.local.store.root} and sent by the next run or by 'fcn mlflow sync --to ${this.client.location}'`);
    } else {
      this.log(`mlflow: could not send to ${this.client.location}: ${message}; kept in ${this.local.store.root}`);
    }
  }

  /** Sends what the run has so far (e.g. training curves mid-run). Never throws for the server's sake. */
  async flush(runId: string): Promise<boolean> {
    if (this.remoteDown) return false;
    try {
      await syncRun(this.local.store, this.client, runId, this.log);
      if (this.readUnreachable() !== undefined) this.writeUnreachable(undefined);
      return true;
    } catch (e) {
      this.noteFailure(e);
      return false;
    }
  }

  /** Sends every run queued for this server, including those left over by earlier runs. */
  async close(): Promise<void> {
    if (this.remoteDown) return;
    try {
      const report = await syncStore(this.local.store, this.client, { queuedOnly: true, log: this.log });
      if (report.failed.length) this.noteFailure(new Error(report.failed.map((f) => `${f.localRunId}: ${f.error}`).join('; ')));
    } catch (e) {
      this.noteFailure(e);
    }
  }
}

export interface OpenTrackerOptions {
  experiment: string;
  /** Tracking URI; MLFLOW_TRACKING_URI when not given; the local store when neither. */
  uri?: string;
  /** The local store (and outbox for a server). Default: ./mlruns. */
  mlrunsDir?: string;
  /** 'mirror' (default) keeps a local copy and an outbox; 'direct' talks only to the server. */
  mode?: 'mirror' | 'direct';
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Timeouts and retries; a pipeline run should not wait long on a slow server. */
  http?: HttpSettings;
}

/** Short timeouts for the pipeline's own sends: a slow server must not hold a stage up. */
const PIPELINE_HTTP: HttpSettings = { timeoutMs: 10_000, retries: 1, backoffMs: 500, maxBackoffMs: 2000 };

export async function openTracker(options: OpenTrackerOptions): Promise<Tracker> {
  const env = options.env ?? process.env;
  const target = parseTrackingUri(options.uri ?? env.MLFLOW_TRACKING_URI, options.mlrunsDir ?? 'mlruns');
  if (target.kind === 'file') return new FileTracker(new FileStore(target.root), options.experiment);
  const client = openRestClient(target.url, env, { ...PIPELINE_HTTP, log: options.log, ...options.http });
  if (options.mode === 'direct') return RestTracker.open(client, options.experiment);
  const local = new FileTracker(new FileStore(path.resolve(options.mlrunsDir ?? 'mlruns')), options.experiment);
  return new MirroredTracker(local, client, options.log);
}
