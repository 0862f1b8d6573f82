/**
 * Pushes runs of a local `mlruns/` store to an MLflow server, incrementally and idempotently:
 * each run remembers its server run id and how much of it was sent (state.ts), so a run synced
 * twice is not duplicated and an interrupted sync resumes where it stopped. A server run created
 * by a request whose answer was lost is found again by its `fcn.local_run_id` tag; metric points
 * whose send was ambiguous are checked against the server's history before being resent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCompleteLines, walkFiles } from '../file-store/fs-utils';
import { parseMetricLine, type FileStore } from '../file-store/store';
import type { MlflowRestClient } from '../rest/client';
import { MlflowApiError } from '../rest/http';
import type { KeyValue, MetricPoint } from '../types';
import { acquireSyncLock, emptyTargetState, readTargetState, runFingerprint, writeTargetState, type TargetState } from './state';

/** Tag on the server's copy naming the local run it came from. */
export const LOCAL_RUN_ID_TAG = 'fcn.local_run_id';
const PARENT_TAG = 'mlflow.parentRunId';

export type RunSyncOutcome = 'created' | 'updated' | 'unchanged' | 'busy';

export interface SyncReport {
  target: string;
  runs: { localRunId: string; remoteRunId?: string; outcome: RunSyncOutcome }[];
  failed: { localRunId: string; error: string }[];
  /** Runs not tried because the server stopped answering. */
  skipped: string[];
}

export interface SyncOptions {
  /** Only these experiments (by name); all by default. */
  experiments?: string[];
  /** Only these local run ids (their parents are sent first when needed). */
  runIds?: string[];
  /** Only runs already queued for this server by a mirrored tracker. */
  queuedOnly?: boolean;
  log?: (line: string) => void;
}

interface SyncContext {
  store: FileStore;
  client: MlflowRestClient;
  target: string;
  experiments: Map<string, string>;
  inProgress: Set<string>;
  log: (line: string) => void;
}

/** The key under which a server is remembered: its URL without credentials. */
export function syncTargetKey(client: MlflowRestClient): string {
  return client.location;
}

async function remoteExperimentId(ctx: SyncContext, localExperimentId: string): Promise<string> {
  const name = ctx.store.getExperiment(localExperimentId).name;
  let id = ctx.experiments.get(name);
  if (id === undefined) {
    id = (await ctx.client.getOrCreateExperiment(name)).experimentId;
    ctx.experiments.set(name, id);
  }
  return id;
}

/** The server run for a local run: remembered, found by tag, or created. */
async function ensureRemoteRun(ctx: SyncContext, localRunId: string, state: TargetState, runDir: string): Promise<{ state: TargetState; created: boolean }> {
  if (state.remoteRunId) {
    try {
      const run = await ctx.client.getRunRaw(state.remoteRunId);
      if (run.info.lifecycle_stage !== 'deleted') return { state, created: false };
    } catch (e) {
      if (!(e instanceof MlflowApiError && e.errorCode === 'RESOURCE_DOES_NOT_EXIST')) throw e;
    }
    ctx.log(`mlflow sync: run ${localRunId} is gone from ${ctx.target}; sending it again`);
    state = emptyTargetState();
  }
  const local = ctx.store.readRun(localRunId);
  const experimentId = await remoteExperimentId(ctx, local.experimentId);
  const found = await ctx.client.searchRuns([experimentId], `tags.\`${LOCAL_RUN_ID_TAG}\` = '${localRunId}'`);
  if (found.length > 0) {
    // Created by a request whose answer was lost: adopt it, and check every metric against its history.
    state = { ...emptyTargetState(), remoteRunId: found[0].info.run_id, remoteExperimentId: experimentId, uncertain: ctx.store.metricKeys(localRunId) };
    writeTargetState(runDir, ctx.target, state);
    return { state, created: false };
  }
  const info = await ctx.client.createRun({
    experimentId,
    runName: local.runName,
    startTime: local.startTime,
    userId: local.tags['mlflow.user'],
    tags: { [LOCAL_RUN_ID_TAG]: localRunId },
  });
  state = { ...emptyTargetState(), remoteRunId: info.run_id, remoteExperimentId: experimentId };
  writeTargetState(runDir, ctx.target, state);
  return { state, created: true };
}

/** Local metric points not yet on the server, with their line numbers, and the line count read per key. */
async function pendingMetrics(ctx: SyncContext, localRunId: string, state: TargetState): Promise<{ pending: { point: MetricPoint; line: number }[]; lineCounts: Record<string, number> }> {
  const { dir } = ctx.store.runDir(localRunId);
  const pending: { point: MetricPoint; line: number }[] = [];
  const lineCounts: Record<string, number> = {};
  for (const key of ctx.store.metricKeys(localRunId)) {
    const file = path.join(dir, 'metrics', ...key.split('/'));
    const lines = readCompleteLines(file);
    lineCounts[key] = lines.length;
    const from = state.metrics[key] ?? 0;
    if (from >= lines.length) continue;
    let points = lines.slice(from).map((l, i) => ({ point: parseMetricLine(key, l, `${file}:${from + i + 1}`), line: from + i }));
    if (state.uncertain.includes(key)) {
      const remote = new Map<string, number>();
      for (const p of await ctx.client.getMetricHistory(state.remoteRunId!, key)) {
        const id = `${p.timestamp}|${p.step}|${p.value}`;
        remote.set(id, (remote.get(id) ?? 0) + 1);
      }
      points = points.filter(({ point }) => {
        const id = `${point.timestamp}|${point.step}|${point.value}`;
        const n = remote.get(id) ?? 0;
        if (n > 0) remote.set(id, n - 1);
        return n === 0;
      });
    }
    pending.push(...points);
  }
  return { pending, lineCounts };
}

async function syncOneRun(ctx: SyncContext, localRunId: string): Promise<{ outcome: RunSyncOutcome; remoteRunId?: string }> {
  const { dir: runDir } = ctx.store.runDir(localRunId);
  const artifactDir = ctx.store.artifactDir(localRunId);
  const fingerprint = runFingerprint(runDir, artifactDir);
  const known = readTargetState(runDir, ctx.target);
  if (known?.remoteRunId && known.fingerprint === fingerprint) return { outcome: 'unchanged', remoteRunId: known.remoteRunId };

  const release = acquireSyncLock(runDir);
  if (!release) return { outcome: 'busy', remoteRunId: known?.remoteRunId };
  try {
    const local = ctx.store.readRun(localRunId);
    // The server's id of the parent run is needed for the mlflow.parentRunId tag: parents go first.
    const localParent = local.tags[PARENT_TAG];
    let remoteParent: string | undefined;
    if (localParent) {
      remoteParent = readTargetState(ctx.store.runDir(localParent).dir, ctx.target)?.remoteRunId;
      if (!remoteParent && !ctx.inProgress.has(localParent)) {
        ctx.inProgress.add(localParent);
        remoteParent = (await syncOneRun(ctx, localParent)).remoteRunId;
      }
    }
    const { state, created } = await ensureRemoteRun(ctx, localRunId, known ?? emptyTargetState(), runDir);
    const remoteRunId = state.remoteRunId!;
    const save = (): void => writeTargetState(runDir, ctx.target, state);

    const sentParams = new Set(state.params);
    const params: KeyValue[] = Object.entries(local.params)
      .filter(([k]) => !sentParams.has(k))
      .map(([key, value]) => ({ key, value }));
    const wantTags: Record<string, string> = { ...local.tags, [LOCAL_RUN_ID_TAG]: localRunId };
    if (localParent) {
      if (remoteParent) wantTags[PARENT_TAG] = remoteParent;
      else delete wantTags[PARENT_TAG]; // sent by a later sync, once the parent is there
    }
    const tags: KeyValue[] = Object.entries(wantTags)
      .filter(([k, v]) => state.tags[k] !== v)
      .map(([key, value]) => ({ key, value }));
    const { pending, lineCounts } = await pendingMetrics(ctx, localRunId, state);
    const lineOf = new Map(pending.map((p) => [p.point, p.line]));
    const pendingKeys = [...new Set(pending.map((p) => p.point.key))];
    // Until a batch is acknowledged, its metric keys are uncertain: a crash or timeout then leads to a history check.
    state.uncertain = [...new Set([...state.uncertain, ...pendingKeys])];
    save();
    await ctx.client.logBatch(remoteRunId, { params, tags, metrics: pending.map((p) => p.point) }, (sent) => {
      for (const p of sent.params) state.params.push(p.key);
      for (const t of sent.tags) state.tags[t.key] = t.value;
      for (const m of sent.metrics) state.metrics[m.key] = Math.max(state.metrics[m.key] ?? 0, lineOf.get(m)! + 1);
      save();
    });
    // Everything read is now on the server (points found there already included); lines appended since wait.
    for (const [key, count] of Object.entries(lineCounts)) state.metrics[key] = Math.max(state.metrics[key] ?? 0, count);
    state.uncertain = [];
    save();

    for (const rel of walkFiles(artifactDir)) {
      const st = fs.statSync(path.join(artifactDir, ...rel.split('/')));
      const stamp = `${st.size}:${st.mtimeMs}`;
      if (state.artifacts[rel] === stamp) continue;
      await ctx.client.uploadArtifact(remoteRunId, rel, fs.readFileSync(path.join(artifactDir, ...rel.split('/'))));
      state.artifacts[rel] = stamp;
      save();
    }

    if (local.status !== 'RUNNING' && (state.status !== local.status || state.endTime !== local.endTime)) {
      await ctx.client.updateRun(remoteRunId, local.status, local.endTime ?? undefined);
      state.status = local.status;
      state.endTime = local.endTime;
    }
    // A parent that was missing leaves the run incomplete: no fingerprint, so the next sync comes back.
    state.fingerprint = localParent && !remoteParent ? undefined : fingerprint;
    state.syncedAt = Date.now();
    save();
    return { outcome: created ? 'created' : 'updated', remoteRunId };
  } finally {
    release();
  }
}

/** Sends one local run (and its parent when the server lacks it). */
export async function syncRun(store: FileStore, client: MlflowRestClient, localRunId: string, log: (line: string) => void = () => undefined): Promise<{ outcome: RunSyncOutcome; remoteRunId?: string }> {
  const ctx: SyncContext = { store, client, target: syncTargetKey(client), experiments: new Map(), inProgress: new Set([localRunId]), log };
  return syncWithRetry(ctx, localRunId);
}

async function syncWithRetry(ctx: SyncContext, localRunId: string): Promise<{ outcome: RunSyncOutcome; remoteRunId?: string }> {
  try {
    return await syncOneRun(ctx, localRunId);
  } catch (e) {
    // An ambiguous failure left uncertain keys in the state; one more pass checks them and goes on.
    if (e instanceof MlflowApiError && e.ambiguous) return syncOneRun(ctx, localRunId);
    throw e;
  }
}

/** Marks a run as waiting for this server (picked up by `syncStore(..., { queuedOnly: true })`). */
export function queueRun(store: FileStore, target: string, localRunId: string): void {
  const { dir } = store.runDir(localRunId);
  if (!readTargetState(dir, target)) writeTargetState(dir, target, emptyTargetState());
}

/** Sends every (selected) local run, parents before children. Stops early when the server is unreachable. */
export async function syncStore(store: FileStore, client: MlflowRestClient, options: SyncOptions = {}): Promise<SyncReport> {
  const log = options.log ?? (() => undefined);
  const target = syncTargetKey(client);
  const report: SyncReport = { target, runs: [], failed: [], skipped: [] };
  if (!fs.existsSync(store.root)) return report;
  const experiments = store.listExperiments().filter((e) => !options.experiments || options.experiments.includes(e.name));
  // Summaries only (no metric files): a store with many long runs stays cheap to scan when little changed.
  let runs = experiments
    .flatMap((e) => store.runIds(e.experimentId))
    .filter((id) => !options.runIds || options.runIds.includes(id))
    .map((id) => store.runSummary(id))
    .filter((r) => r.lifecycleStage === 'active');
  if (options.queuedOnly) runs = runs.filter((r) => readTargetState(store.runDir(r.runId).dir, target) !== undefined);
  runs.sort((a, b) => Number(Boolean(a.parentRunId)) - Number(Boolean(b.parentRunId)) || a.startTime - b.startTime);

  const ctx: SyncContext = { store, client, target, experiments: new Map(), inProgress: new Set(), log };
  for (let i = 0; i < runs.length; i++) {
    const runId = runs[i].runId;
    ctx.inProgress = new Set([runId]);
    try {
      const result = await syncWithRetry(ctx, runId);
      report.runs.push({ localRunId: runId, remoteRunId: result.remoteRunId, outcome: result.outcome });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      report.failed.push({ localRunId: runId, error: client.http.redact(message) });
      if (e instanceof MlflowApiError && (e.network || e.status === 401 || e.status === 403)) {
        report.skipped.push(...runs.slice(i + 1).map((r) => r.runId));
        break;
      }
    }
  }
  return report;
}
