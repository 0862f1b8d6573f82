/**
 * The `mlruns/` layout of MLflow's FileStore, which `mlflow ui --backend-store-uri mlruns` reads:
 *
 *   mlruns/<experiment id>/meta.yaml            artifact_location, creation_time, experiment_id,
 *                                               last_update_time, lifecycle_stage, name
 *   mlruns/<experiment id>/tags/<key>           experiment tags
 *   mlruns/<experiment id>/<run id>/meta.yaml   artifact_uri, end_time, experiment_id, lifecycle_stage,
 *                                               run_id, run_name, run_uuid, start_time, status (1..5), ...
 *   mlruns/<experiment id>/<run id>/metrics/<key>  lines "<timestamp ms> <value> <step>"
 *   mlruns/<experiment id>/<run id>/params/<key>   the value, no newline
 *   mlruns/<experiment id>/<run id>/tags/<key>     the value, no newline
 *   mlruns/<experiment id>/<run id>/artifacts/...
 *   mlruns/.trash/                               deleted experiments
 *
 * Keys containing '/' become sub-folders. Every file is written under a temporary name and
 * renamed; metric files are appended a whole batch of lines at a time.
 */
import { writeFileAtomic, writeDirAtomic } from '@facecoreset/common';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { validateExperimentName, validateKey, validateMetricPoint, validateRunId } from '../keys';
import { RUN_STATUS_CODE, runStatusFromCode, type ArtifactEntry, type ExperimentInfo, type MetricPoint, type RunRecord, type RunSource, type RunStatus } from '../types';
import { appendLines, copyFileAtomic, createFileExclusive, readCompleteLines, walkFiles } from './fs-utils';
import { formatMetaYaml, parseMetaYaml } from './meta-yaml';

const META = 'meta.yaml';
const TRASH = '.trash';
/** Experiment sub-folders that are not runs (FileStore.RESERVED_EXPERIMENT_FOLDERS, plus MLflow 3's models). */
const RESERVED_EXPERIMENT_FOLDERS = new Set(['tags', 'datasets', 'traces', 'models']);
/** Top-level folders that are not experiments (the trash and the model registry). */
const RESERVED_ROOT_FOLDERS = new Set([TRASH, 'models']);
const DEFAULT_EXPERIMENT = { id: '0', name: 'Default' };
/** MLflow's SourceType.LOCAL, kept in every run meta.yaml for old readers. */
const SOURCE_TYPE_LOCAL = 4;

export interface CreateRunInput {
  runName: string;
  startTime: number;
  userId: string;
  tags: Record<string, string>;
}

/** Formats a metric value the way Python prints floats where JS differs (nan, inf). */
function formatMetricValue(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return String(v);
}

function parseMetricValue(s: string): number {
  const lower = s.toLowerCase();
  if (lower === 'nan') return NaN;
  if (lower === 'inf' || lower === 'infinity' || lower === '+inf') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  const v = Number(s);
  if (s.trim() === '' || Number.isNaN(v)) throw new Error(`not a number: ${JSON.stringify(s)}`);
  return v;
}

/** Parses one metric file line "<timestamp> <value> [<step>]" (MLflow accepts 2 or 3 fields). */
export function parseMetricLine(key: string, line: string, where: string): MetricPoint {
  const parts = line.trim().split(' ');
  if (parts.length !== 2 && parts.length !== 3) throw new Error(`${where}: expected "<timestamp> <value> <step>", got ${JSON.stringify(line)}`);
  const timestamp = Number(parts[0]);
  const step = parts.length === 3 ? Number(parts[2]) : 0;
  if (!Number.isSafeInteger(timestamp) || !Number.isSafeInteger(step)) throw new Error(`${where}: timestamp and step must be integers, got ${JSON.stringify(line)}`);
  let value: number;
  try {
    value = parseMetricValue(parts[1]);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  return { key, value, step, timestamp };
}

/** MLflow's "latest" metric value: largest (step, timestamp, value). */
export function latestPoint(points: MetricPoint[]): MetricPoint | undefined {
  let best: MetricPoint | undefined;
  for (const p of points) {
    if (!best || p.step > best.step || (p.step === best.step && (p.timestamp > best.timestamp || (p.timestamp === best.timestamp && p.value > best.value)))) best = p;
  }
  return best;
}

function str(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

function num(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function defaultUser(): string {
  try {
    return os.userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

export class FileStore implements RunSource {
  readonly root: string;
  private readonly runDirs = new Map<string, { experimentId: string; dir: string }>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get location(): string {
    return this.root;
  }

  /** Creates the root as MLflow does on first use: the Default experiment (id 0) and `.trash`. */
  ensureRoot(): void {
    fs.mkdirSync(this.root, { recursive: true });
    // MLflow does this for a root that does not exist yet; an empty folder counts as new here.
    if (this.experimentDirs(true).length === 0) this.writeExperimentMeta(DEFAULT_EXPERIMENT.id, DEFAULT_EXPERIMENT.name);
    fs.mkdirSync(path.join(this.root, TRASH), { recursive: true });
  }

  private experimentDirs(includeDeleted: boolean): { id: string; dir: string }[] {
    const out: { id: string; dir: string }[] = [];
    const scan = (parent: string): void => {
      if (!fs.existsSync(parent)) return;
      for (const e of fs.readdirSync(parent, { withFileTypes: true })) {
        if (!e.isDirectory() || RESERVED_ROOT_FOLDERS.has(e.name) || e.name.startsWith('.')) continue;
        out.push({ id: e.name, dir: path.join(parent, e.name) });
      }
    };
    scan(this.root);
    if (includeDeleted) scan(path.join(this.root, TRASH));
    return out;
  }

  private readExperimentMeta(dir: string): ExperimentInfo | undefined {
    const file = path.join(dir, META);
    if (!fs.existsSync(file)) return undefined;
    const meta = parseMetaYaml(fs.readFileSync(file, 'utf8'), file);
    return {
      experimentId: str(meta.experiment_id),
      name: str(meta.name),
      artifactLocation: str(meta.artifact_location),
      lifecycleStage: meta.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
    };
  }

  listExperiments(includeDeleted = false): ExperimentInfo[] {
    return this.experimentDirs(includeDeleted)
      .map((e) => this.readExperimentMeta(e.dir))
      .filter((e): e is ExperimentInfo => e !== undefined && (includeDeleted || e.lifecycleStage === 'active'));
  }

  async getExperimentByName(name: string): Promise<ExperimentInfo | undefined> {
    return this.findExperimentByName(name);
  }

  findExperimentByName(name: string, includeDeleted = false): ExperimentInfo | undefined {
    return this.listExperiments(includeDeleted).find((e) => e.name === name);
  }

  getExperiment(experimentId: string): ExperimentInfo {
    const found = this.experimentDirs(true).find((e) => e.id === experimentId);
    const info = found && this.readExperimentMeta(found.dir);
    if (!info) throw new Error(`${this.root}: no experiment with id ${experimentId}`);
    return info;
  }

  private writeExperimentMeta(id: string, name: string): boolean {
    const now = Date.now();
    const dir = path.join(this.root, id);
    const meta = formatMetaYaml({
      artifact_location: pathToFileURL(dir).href,
      creation_time: now,
      experiment_id: id,
      last_update_time: now,
      lifecycle_stage: 'active',
      name,
    });
    return createFileExclusive(path.join(dir, META), meta);
  }

  /**
   * The experiment's id, creating it if needed. A new experiment's id is derived from its name,
   * so two processes creating the same experiment at once end up with one folder.
   */
  getOrCreateExperiment(name: string): ExperimentInfo {
    validateExperimentName(name);
    this.ensureRoot();
    const existing = this.findExperimentByName(name, true);
    if (existing) {
      if (existing.lifecycleStage === 'deleted') {
        throw new Error(`${this.root}: experiment '${name}' is deleted (in .trash); restore it or use another name`);
      }
      return existing;
    }
    const digest = crypto.createHash('sha256').update(name).digest();
    // 15 decimal digits: an integer id like MLflow's own, within JS's safe integers.
    let id = String(Number(digest.readBigUInt64BE(0) % 10n ** 15n) + 10 ** 14);
    for (let attempt = 0; attempt < 100; attempt++) {
      this.writeExperimentMeta(id, name);
      const info = this.readExperimentMeta(path.join(this.root, id));
      if (info?.name === name) return info;
      id = String(crypto.randomInt(10 ** 14, 10 ** 15 - 1)); // that id belongs to another name
    }
    throw new Error(`${this.root}: could not allocate an experiment id for '${name}'`);
  }

  /** Creates a run folder (meta.yaml, metrics/, params/, tags/, artifacts/) in one rename. */
  async createRun(experimentId: string, input: CreateRunInput): Promise<string> {
    const experiment = this.getExperiment(experimentId);
    if (experiment.lifecycleStage !== 'active') throw new Error(`${this.root}: experiment ${experimentId} is deleted; cannot add runs`);
    const runId = crypto.randomUUID().replace(/-/g, '');
    const runDir = path.join(this.root, experimentId, runId);
    const tags = { 'mlflow.runName': input.runName, 'mlflow.user': input.userId || defaultUser(), ...input.tags };
    for (const key of Object.keys(tags)) validateKey('tag', key);
    await writeDirAtomic(runDir, (tmp) => {
      for (const sub of ['metrics', 'params', 'tags', 'artifacts']) fs.mkdirSync(path.join(tmp, sub));
      for (const [k, v] of Object.entries(tags)) writeFileAtomic(path.join(tmp, 'tags', ...k.split('/')), v);
      fs.writeFileSync(path.join(tmp, META), this.runMeta({ runId, experimentId, runName: input.runName, userId: tags['mlflow.user'], startTime: input.startTime, endTime: null, status: 'RUNNING', runDir }));
    });
    this.runDirs.set(runId, { experimentId, dir: runDir });
    return runId;
  }

  private runMeta(r: { runId: string; experimentId: string; runName: string; userId: string; startTime: number; endTime: number | null; status: RunStatus; runDir: string; lifecycleStage?: string; artifactUri?: string }): string {
    return formatMetaYaml({
      artifact_uri: r.artifactUri ?? pathToFileURL(path.join(r.runDir, 'artifacts')).href,
      deleted_time: null,
      end_time: r.endTime,
      entry_point_name: '',
      experiment_id: r.experimentId,
      lifecycle_stage: r.lifecycleStage ?? 'active',
      run_id: r.runId,
      run_name: r.runName,
      run_uuid: r.runId,
      source_name: '',
      source_type: SOURCE_TYPE_LOCAL,
      source_version: '',
      start_time: r.startTime,
      status: RUN_STATUS_CODE[r.status],
      tags: [],
      user_id: r.userId,
    });
  }

  /** The folder of a run, searched across experiments (active and deleted). */
  runDir(runId: string): { experimentId: string; dir: string } {
    validateRunId(runId);
    const cached = this.runDirs.get(runId);
    if (cached && fs.existsSync(cached.dir)) return cached;
    for (const e of this.experimentDirs(true)) {
      const dir = path.join(e.dir, runId);
      if (fs.existsSync(path.join(dir, META))) {
        const found = { experimentId: e.id, dir };
        this.runDirs.set(runId, found);
        return found;
      }
    }
    throw new Error(`${this.root}: no run with id ${runId}`);
  }

  private readRunMeta(dir: string): Record<string, unknown> {
    const file = path.join(dir, META);
    return parseMetaYaml(fs.readFileSync(file, 'utf8'), file);
  }

  private assertActive(runId: string): string {
    const { dir } = this.runDir(runId);
    const meta = this.readRunMeta(dir);
    if (meta.lifecycle_stage === 'deleted') throw new Error(`run ${runId} is deleted; cannot log to it`);
    return dir;
  }

  /** Params are immutable: logging a key again with another value is an error, as in MLflow. */
  logParams(runId: string, params: Record<string, string>): void {
    const dir = this.assertActive(runId);
    for (const [key, value] of Object.entries(params)) {
      validateKey('param', key);
      const file = path.join(dir, 'params', ...key.split('/'));
      if (fs.existsSync(file)) {
        const current = fs.readFileSync(file, 'utf8');
        if (current !== value) throw new Error(`run ${runId}: param '${key}' was already logged as ${JSON.stringify(current.slice(0, 100))}; params cannot change (got ${JSON.stringify(value.slice(0, 100))})`);
        continue;
      }
      writeFileAtomic(file, value);
    }
  }

  setTags(runId: string, tags: Record<string, string>): void {
    const dir = this.assertActive(runId);
    for (const [key, value] of Object.entries(tags)) {
      validateKey('tag', key);
      writeFileAtomic(path.join(dir, 'tags', ...key.split('/')), value);
    }
    if (tags['mlflow.runName'] !== undefined) this.updateRunMeta(runId, { run_name: tags['mlflow.runName'] });
  }

  logMetrics(runId: string, points: MetricPoint[]): void {
    const dir = this.assertActive(runId);
    const byKey = new Map<string, string[]>();
    for (const p of points) {
      validateMetricPoint(p);
      const lines = byKey.get(p.key) ?? [];
      lines.push(`${p.timestamp} ${formatMetricValue(p.value)} ${p.step}\n`);
      byKey.set(p.key, lines);
    }
    for (const [key, lines] of byKey) appendLines(path.join(dir, 'metrics', ...key.split('/')), lines.join(''));
  }

  endRun(runId: string, status: RunStatus, endTime: number): void {
    this.assertActive(runId);
    this.updateRunMeta(runId, { status: RUN_STATUS_CODE[status], end_time: endTime });
  }

  private updateRunMeta(runId: string, changes: Record<string, string | number | null>): void {
    const { dir } = this.runDir(runId);
    const meta = this.readRunMeta(dir);
    const fields: Record<string, string | number | null | []> = {};
    for (const [k, v] of Object.entries({ ...meta, ...changes })) {
      fields[k] = Array.isArray(v) ? [] : v === null || typeof v === 'number' ? v : String(v);
    }
    writeFileAtomic(path.join(dir, META), formatMetaYaml(fields));
  }

  /** Local folder holding the run's artifacts (from artifact_uri when it is a file: URI that exists). */
  artifactDir(runId: string): string {
    const { dir } = this.runDir(runId);
    const uri = str(this.readRunMeta(dir).artifact_uri);
    if (uri.startsWith('file:')) {
      const local = fileURLToPath(uri);
      if (fs.existsSync(local)) return local;
    } else if (uri && path.isAbsolute(uri) && fs.existsSync(uri)) return uri;
    return path.join(dir, 'artifacts');
  }

  logArtifact(runId: string, localPath: string, artifactPath = ''): void {
    this.assertActive(runId);
    const stat = fs.statSync(localPath);
    const segments = artifactPath.split('/').filter((s) => s !== '');
    if (segments.some((s) => s === '..' || s === '.')) throw new Error(`artifact path ${JSON.stringify(artifactPath)} must not contain '.' or '..'`);
    const base = path.join(this.artifactDir(runId), ...segments);
    if (stat.isDirectory()) {
      for (const rel of walkFiles(localPath)) copyFileAtomic(path.join(localPath, ...rel.split('/')), path.join(base, ...rel.split('/')));
    } else {
      copyFileAtomic(localPath, path.join(base, path.basename(localPath)));
    }
  }

  // ---- reading ----

  private readKeyFiles(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const rel of walkFiles(dir)) out[rel] = fs.readFileSync(path.join(dir, ...rel.split('/')), 'utf8');
    return out;
  }

  metricKeys(runId: string): string[] {
    return walkFiles(path.join(this.runDir(runId).dir, 'metrics'));
  }

  metricHistory(runId: string, key: string): MetricPoint[] {
    const file = path.join(this.runDir(runId).dir, 'metrics', ...key.split('/'));
    if (!fs.existsSync(file)) return [];
    return readCompleteLines(file).map((line, i) => parseMetricLine(key, line, `${file}:${i + 1}`));
  }

  async getRun(runId: string): Promise<RunRecord> {
    return this.readRun(runId);
  }

  readRun(runId: string): RunRecord {
    const { dir, experimentId } = this.runDir(runId);
    const meta = this.readRunMeta(dir);
    const where = path.join(dir, META);
    if (str(meta.run_id || meta.run_uuid) !== runId) throw new Error(`${where}: run_id ${JSON.stringify(meta.run_id)} does not match its folder ${runId}`);
    const tags = this.readKeyFiles(path.join(dir, 'tags'));
    const metrics: Record<string, MetricPoint> = {};
    for (const key of this.metricKeys(runId)) {
      const latest = latestPoint(this.metricHistory(runId, key));
      if (latest) metrics[key] = latest;
    }
    const startTime = num(meta.start_time);
    const statusCode = num(meta.status);
    return {
      runId,
      experimentId: str(meta.experiment_id) || experimentId,
      runName: str(meta.run_name) || tags['mlflow.runName'] || '',
      status: statusCode === null ? 'RUNNING' : runStatusFromCode(statusCode),
      startTime: startTime ?? 0,
      endTime: num(meta.end_time),
      artifactUri: str(meta.artifact_uri),
      lifecycleStage: meta.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
      params: this.readKeyFiles(path.join(dir, 'params')),
      tags,
      metrics,
    };
  }

  /** What sync needs to order runs, without reading metrics. */
  runSummary(runId: string): { runId: string; startTime: number; parentRunId?: string; lifecycleStage: 'active' | 'deleted' } {
    const { dir } = this.runDir(runId);
    const meta = this.readRunMeta(dir);
    const parentFile = path.join(dir, 'tags', 'mlflow.parentRunId');
    return {
      runId,
      startTime: num(meta.start_time) ?? 0,
      ...(fs.existsSync(parentFile) ? { parentRunId: fs.readFileSync(parentFile, 'utf8') } : {}),
      lifecycleStage: meta.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
    };
  }

  /** Run ids of an experiment (folders with a meta.yaml, reserved folders skipped). */
  runIds(experimentId: string): string[] {
    const exp = this.experimentDirs(true).find((e) => e.id === experimentId);
    if (!exp) return [];
    return fs
      .readdirSync(exp.dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !RESERVED_EXPERIMENT_FOLDERS.has(e.name) && !e.name.startsWith('.') && fs.existsSync(path.join(exp.dir, e.name, META)))
      .map((e) => e.name);
  }

  async listRuns(experimentIds: string[]): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    for (const id of experimentIds) for (const runId of this.runIds(id)) runs.push(this.readRun(runId));
    return runs.filter((r) => r.lifecycleStage === 'active').sort((a, b) => b.startTime - a.startTime);
  }

  async listArtifacts(runId: string, artifactPath = ''): Promise<ArtifactEntry[]> {
    const base = path.join(this.artifactDir(runId), ...artifactPath.split('/').filter(Boolean));
    if (!fs.existsSync(base) || !fs.statSync(base).isDirectory()) return [];
    const prefix = artifactPath.replace(/\/+$/, '');
    return fs
      .readdirSync(base, { withFileTypes: true })
      .filter((e) => !e.name.startsWith('.fcn-tmp-'))
      .map((e) => {
        const rel = prefix ? `${prefix}/${e.name}` : e.name;
        return e.isDirectory() ? { path: rel, isDir: true } : { path: rel, isDir: false, size: fs.statSync(path.join(base, e.name)).size };
      })
      .sort((a, b) => a.path.localeCompare(b.path));
  }

  async readArtifact(runId: string, artifactPath: string): Promise<Uint8Array> {
    const segments = artifactPath.split('/').filter(Boolean);
    if (segments.includes('..')) throw new Error(`artifact path ${JSON.stringify(artifactPath)} must not contain '..'`);
    return fs.readFileSync(path.join(this.artifactDir(runId), ...segments));
  }
}
