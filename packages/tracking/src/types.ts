/**
 * The shapes shared by every store: the local `mlruns/` file store, the REST client and the
 * mirrored tracker that writes locally and forwards to a server.
 */

/** MLflow's run states; the file store keeps them as the integers of `RUN_STATUS_CODE`. */
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

/** MLflow's RunStatus enum values, as stored in a run's meta.yaml. */
export const RUN_STATUS_CODE: Record<RunStatus, number> = { RUNNING: 1, SCHEDULED: 2, FINISHED: 3, FAILED: 4, KILLED: 5 };

export function runStatusFromCode(code: number): RunStatus {
  const found = (Object.keys(RUN_STATUS_CODE) as RunStatus[]).find((s) => RUN_STATUS_CODE[s] === code);
  if (!found) throw new Error(`unknown MLflow run status code ${code} (expected 1..5)`);
  return found;
}

/** One logged value of a metric. `timestamp` is milliseconds since the Unix epoch. */
export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  timestamp: number;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface ExperimentInfo {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: 'active' | 'deleted';
}

/** A run as read back from a store: params, tags and the latest value of each metric. */
export interface RunRecord {
  runId: string;
  experimentId: string;
  runName: string;
  status: RunStatus;
  startTime: number;
  endTime: number | null;
  artifactUri: string;
  lifecycleStage: 'active' | 'deleted';
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Latest value per key (largest step, then timestamp, then value: MLflow's rule). */
  metrics: Record<string, MetricPoint>;
}

export interface ArtifactEntry {
  /** Path relative to the run's artifact root, '/'-separated. */
  path: string;
  isDir: boolean;
  size?: number;
}

export interface StartRunOptions {
  /** Shown in the MLflow UI; a generated one otherwise. */
  name?: string;
  /** Makes this a child run (tag `mlflow.parentRunId`). */
  parentRunId?: string;
  tags?: Record<string, string>;
  /** Milliseconds since the epoch; now by default. */
  startTime?: number;
  userId?: string;
}

export interface LogMetricsOptions {
  step?: number;
  timestamp?: number;
}

/**
 * Where runs go. Implemented by the local file store, by the REST client and by the mirrored
 * tracker (local file store first, then the server). Run ids are plain strings so that another
 * process (another Nx task) can keep logging into a run it did not start.
 */
export interface Tracker {
  readonly experimentId: string;
  readonly experimentName: string;
  /** Where the runs land, for messages (never contains credentials). */
  readonly location: string;
  startRun(options?: StartRunOptions): Promise<string>;
  /** Nested objects are flattened to dotted keys (`train.lr`); values become strings. */
  logParams(runId: string, params: Record<string, unknown>): Promise<void>;
  logMetrics(runId: string, values: Record<string, number>, options?: LogMetricsOptions): Promise<void>;
  logMetricPoints(runId: string, points: MetricPoint[]): Promise<void>;
  setTags(runId: string, tags: Record<string, string>): Promise<void>;
  /** A file lands at `<artifactPath>/<file name>`; a folder's contents land under `artifactPath`. */
  logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void>;
  endRun(runId: string, status?: RunStatus, endTime?: number): Promise<void>;
  /** Flushes what can be flushed (the mirrored tracker sends its outbox); never throws for a down server. */
  close(): Promise<void>;
}

/** Read access used by `compare` and by sync, implemented by the file store and the REST client. */
export interface RunSource {
  readonly location: string;
  getExperimentByName(name: string): Promise<ExperimentInfo | undefined>;
  /** Active runs of the experiments, newest first. */
  listRuns(experimentIds: string[]): Promise<RunRecord[]>;
  getRun(runId: string): Promise<RunRecord>;
  listArtifacts(runId: string, path?: string): Promise<ArtifactEntry[]>;
  readArtifact(runId: string, path: string): Promise<Uint8Array>;
}
