/**
 * A typed client for MLflow's REST API (2.0 paths, as served by MLflow 2.x and 3.x tracking
 * servers): experiments, runs, log-batch split to the server's limits, metric history with paging,
 * and artifacts through the server's mlflow-artifacts proxy.
 */
import { validateExperimentName, validateKey, validateMetricPoint, validateRunId } from '../keys';
import { runStatusFromCode, type ArtifactEntry, type ExperimentInfo, type KeyValue, type MetricPoint, type RunRecord, type RunSource, type RunStatus } from '../types';
import { latestPoint } from '../file-store/store';
import { metricJson, splitBatch, type LogBatch } from './batch';
import { HttpTransport, MlflowApiError, type Credentials, type HttpOptions } from './http';

const API = '/api/2.0/mlflow';
const ARTIFACTS_API = '/api/2.0/mlflow-artifacts/artifacts';
/** metrics/get-history returns nothing without max_results; this is the page size we ask for. */
const HISTORY_PAGE = 25_000;
const SEARCH_PAGE = 1000;

export interface RestRunInfo {
  run_id: string;
  run_uuid?: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: RunStatus | number;
  start_time?: number | string;
  end_time?: number | string;
  artifact_uri?: string;
  lifecycle_stage?: string;
}

export interface RestRun {
  info: RestRunInfo;
  data?: { metrics?: { key: string; value: number | string; timestamp: number | string; step?: number | string }[]; params?: KeyValue[]; tags?: KeyValue[] };
}

/** Credentials from MLFLOW_TRACKING_TOKEN (Bearer) or MLFLOW_TRACKING_USERNAME/PASSWORD (Basic). */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  if (env.MLFLOW_TRACKING_TOKEN) return { kind: 'bearer', token: env.MLFLOW_TRACKING_TOKEN };
  if (env.MLFLOW_TRACKING_USERNAME || env.MLFLOW_TRACKING_PASSWORD) {
    return { kind: 'basic', username: env.MLFLOW_TRACKING_USERNAME ?? '', password: env.MLFLOW_TRACKING_PASSWORD ?? '' };
  }
  return undefined;
}

function toNumber(v: unknown): number {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return Number(v);
}

function toPoint(m: { key: string; value: unknown; timestamp: unknown; step?: unknown }): MetricPoint {
  return { key: m.key, value: toNumber(m.value), timestamp: Number(m.timestamp ?? 0), step: Number(m.step ?? 0) };
}

function toExperiment(e: any): ExperimentInfo {
  return { experimentId: String(e.experiment_id), name: String(e.name), artifactLocation: String(e.artifact_location ?? ''), lifecycleStage: e.lifecycle_stage === 'deleted' ? 'deleted' : 'active' };
}

function toRecord(run: RestRun): RunRecord {
  const info = run.info;
  const metrics: Record<string, MetricPoint> = {};
  for (const m of run.data?.metrics ?? []) {
    const p = toPoint(m);
    metrics[p.key] = latestPoint([p, ...(metrics[p.key] ? [metrics[p.key]] : [])])!;
  }
  const kv = (list?: KeyValue[]): Record<string, string> => Object.fromEntries((list ?? []).map((x) => [x.key, x.value ?? '']));
  const tags = kv(run.data?.tags);
  const status = typeof info.status === 'number' ? runStatusFromCode(info.status) : info.status;
  return {
    runId: info.run_id ?? info.run_uuid,
    experimentId: String(info.experiment_id),
    runName: info.run_name ?? tags['mlflow.runName'] ?? '',
    status,
    startTime: Number(info.start_time ?? 0),
    endTime: info.end_time === undefined || info.end_time === null ? null : Number(info.end_time),
    artifactUri: info.artifact_uri ?? '',
    lifecycleStage: info.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
    params: kv(run.data?.params),
    tags,
    metrics,
  };
}

function encodePath(p: string): string {
  return p
    .split('/')
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');
}

export class MlflowRestClient implements RunSource {
  readonly http: HttpTransport;

  constructor(options: HttpOptions) {
    this.http = new HttpTransport(options);
  }

  /** The server URL without credentials. */
  get location(): string {
    return this.http.baseUrl;
  }

  // ---- experiments ----

  async getExperimentByName(name: string): Promise<ExperimentInfo | undefined> {
    try {
      const r = await this.http.request('GET', `${API}/experiments/get-by-name`, { query: { experiment_name: name } });
      return toExperiment(r.experiment);
    } catch (e) {
      if (e instanceof MlflowApiError && e.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw e;
    }
  }

  async createExperiment(name: string, tags: Record<string, string> = {}): Promise<string> {
    validateExperimentName(name);
    const r = await this.http.request('POST', `${API}/experiments/create`, { json: { name, tags: Object.entries(tags).map(([key, value]) => ({ key, value })) } });
    return String(r.experiment_id);
  }

  /** Gets the experiment, creating it; another client creating it first (RESOURCE_ALREADY_EXISTS) is fine. */
  async getOrCreateExperiment(name: string): Promise<ExperimentInfo> {
    const existing = await this.getExperimentByName(name);
    if (existing) {
      if (existing.lifecycleStage === 'deleted') throw new Error(`experiment '${name}' is deleted on ${this.location}; restore it there or use another name`);
      return existing;
    }
    try {
      await this.createExperiment(name);
    } catch (e) {
      if (!(e instanceof MlflowApiError && e.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw e;
    }
    const created = await this.getExperimentByName(name);
    if (!created) throw new Error(`experiment '${name}' was created on ${this.location} but cannot be read back`);
    return created;
  }

  // ---- runs ----

  async createRun(input: { experimentId: string; runName?: string; startTime: number; userId?: string; tags?: Record<string, string> }): Promise<RestRunInfo> {
    const tags = Object.entries(input.tags ?? {}).map(([key, value]) => {
      validateKey('tag', key);
      return { key, value };
    });
    const r = await this.http.request('POST', `${API}/runs/create`, {
      json: { experiment_id: input.experimentId, run_name: input.runName, start_time: input.startTime, user_id: input.userId, tags },
      // Creating twice would make two runs; the caller finds a run created by a lost answer by its tags.
      idempotent: false,
    });
    return r.run.info as RestRunInfo;
  }

  async updateRun(runId: string, status: RunStatus, endTime?: number, runName?: string): Promise<void> {
    validateRunId(runId);
    await this.http.request('POST', `${API}/runs/update`, { json: { run_id: runId, run_uuid: runId, status, end_time: endTime, run_name: runName } });
  }

  async getRunRaw(runId: string): Promise<RestRun> {
    validateRunId(runId);
    const r = await this.http.request('GET', `${API}/runs/get`, { query: { run_id: runId } });
    return r.run as RestRun;
  }

  async getRun(runId: string): Promise<RunRecord> {
    return toRecord(await this.getRunRaw(runId));
  }

  /** One page of runs/search. `filter` uses MLflow's search syntax, e.g. "tags.`fcn.local_run_id` = 'abc'". */
  async searchRunsPage(input: { experimentIds: string[]; filter?: string; maxResults?: number; pageToken?: string; orderBy?: string[]; viewType?: 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL' }): Promise<{ runs: RestRun[]; nextPageToken?: string }> {
    const r = await this.http.request('POST', `${API}/runs/search`, {
      json: {
        experiment_ids: input.experimentIds,
        filter: input.filter ?? '',
        run_view_type: input.viewType ?? 'ACTIVE_ONLY',
        max_results: input.maxResults ?? SEARCH_PAGE,
        order_by: input.orderBy ?? ['attributes.start_time DESC'],
        page_token: input.pageToken,
      },
    });
    return { runs: (r.runs ?? []) as RestRun[], nextPageToken: r.next_page_token || undefined };
  }

  async searchRuns(experimentIds: string[], filter?: string): Promise<RestRun[]> {
    const runs: RestRun[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.searchRunsPage({ experimentIds, filter, pageToken });
      runs.push(...page.runs);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return runs;
  }

  async listRuns(experimentIds: string[]): Promise<RunRecord[]> {
    return (await this.searchRuns(experimentIds)).map(toRecord);
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    validateRunId(runId);
    validateKey('tag', key);
    await this.http.request('POST', `${API}/runs/set-tag`, { json: { run_id: runId, run_uuid: runId, key, value } });
  }

  /**
   * Sends metrics, params and tags in as many log-batch requests as the limits need. Requests
   * carrying metrics are not blindly retried after an ambiguous failure (see HttpTransport).
   * `onBatch` is told after each request that succeeded, so a caller can record progress.
   */
  async logBatch(runId: string, batch: Partial<LogBatch>, onBatch?: (sent: LogBatch) => void): Promise<void> {
    validateRunId(runId);
    const full: LogBatch = { metrics: batch.metrics ?? [], params: batch.params ?? [], tags: batch.tags ?? [] };
    full.metrics.forEach(validateMetricPoint);
    full.params.forEach((p) => validateKey('param', p.key));
    full.tags.forEach((t) => validateKey('tag', t.key));
    for (const part of splitBatch(full, undefined, runId.length)) {
      await this.http.request('POST', `${API}/runs/log-batch`, {
        json: { run_id: runId, metrics: part.metrics.map(metricJson), params: part.params, tags: part.tags },
        idempotent: part.metrics.length === 0,
      });
      onBatch?.(part);
    }
  }

  /** Every value of a metric, following next_page_token. */
  async getMetricHistory(runId: string, key: string, pageSize = HISTORY_PAGE): Promise<MetricPoint[]> {
    validateRunId(runId);
    const points: MetricPoint[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.http.request('GET', `${API}/metrics/get-history`, { query: { run_id: runId, run_uuid: runId, metric_key: key, max_results: pageSize, page_token: pageToken } });
      for (const m of r.metrics ?? []) points.push(toPoint(m));
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return points;
  }

  // ---- artifacts (mlflow-artifacts proxy) ----

  /**
   * The proxy path of a run's artifact root: `mlflow-artifacts:/1/<run>/artifacts` ->
   * `1/<run>/artifacts`. Other artifact URIs (s3://, file:/ on the server) cannot go through the proxy.
   */
  static proxyRoot(artifactUri: string): string {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(artifactUri);
    if (!m) throw new Error(`the run's artifact store (${artifactUri}) is not served by the tracking server's mlflow-artifacts proxy; start the server with --serve-artifacts`);
    return m[1].replace(/\/+$/, '');
  }

  private runArtifactCache = new Map<string, string>();

  private async artifactRoot(runId: string): Promise<string> {
    let root = this.runArtifactCache.get(runId);
    if (root === undefined) {
      const run = await this.getRunRaw(runId);
      root = MlflowRestClient.proxyRoot(run.info.artifact_uri ?? '');
      this.runArtifactCache.set(runId, root);
    }
    return root;
  }

  /** Uploads bytes to `<run artifact root>/<artifactPath>` (PUT, so a repeat overwrites). */
  async uploadArtifact(runId: string, artifactPath: string, bytes: Uint8Array): Promise<void> {
    const root = await this.artifactRoot(runId);
    await this.http.request('PUT', `${ARTIFACTS_API}/${encodePath(`${root}/${artifactPath}`)}`, { body: bytes });
  }

  async listArtifacts(runId: string, artifactPath = ''): Promise<ArtifactEntry[]> {
    const root = await this.artifactRoot(runId);
    const rel = artifactPath.replace(/^\/+|\/+$/g, '');
    const r = await this.http.request('GET', ARTIFACTS_API, { query: { path: rel ? `${root}/${rel}` : root } });
    return ((r.files ?? []) as { path: string; is_dir?: boolean; file_size?: number | string }[]).map((f) => ({
      path: rel ? `${rel}/${f.path}` : f.path,
      isDir: Boolean(f.is_dir),
      ...(f.file_size !== undefined ? { size: Number(f.file_size) } : {}),
    }));
  }

  async readArtifact(runId: string, artifactPath: string): Promise<Uint8Array> {
    const root = await this.artifactRoot(runId);
    return this.http.request('GET', `${ARTIFACTS_API}/${encodePath(`${root}/${artifactPath}`)}`, { raw: true });
  }
}
