import { FileStore, FileTracker, openTracker, parseMetaYaml, TRUNCATED_PARAMS_TAG } from '../src';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURE = path.resolve(__dirname, 'fixtures/mlruns-written-by-mlflow');
const CHECKER = path.resolve(__dirname, 'fixtures-gen/mlflow_file_store.py');

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-mlruns-'));
}

function readYaml(file: string): Record<string, unknown> {
  return parseMetaYaml(fs.readFileSync(file, 'utf8'), file);
}

function hasPyYaml(): boolean {
  return spawnSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0;
}

async function writeSampleRuns(root: string): Promise<{ tracker: FileTracker; parent: string; child: string; artifactSource: string }> {
  const tracker = (await openTracker({ uri: '', mlrunsDir: root, experiment: 'demo', env: {} })) as FileTracker;
  const parent = await tracker.startRun({ name: 'pipeline "demo" run', startTime: 1_700_000_000_000, tags: { 'fcn.config_hash': 'c0ffee' } });
  await tracker.logParams(parent, { train: { lr: 0.1, schedule: { milestones: [10, 20] } }, eval: { fars: [1e-6, 1e-4] }, name: 'demo', long: 'y'.repeat(7000) });
  const child = await tracker.startRun({ name: 'train', parentRunId: parent, startTime: 1_700_000_000_500 });
  await tracker.logMetrics(child, { loss: 2.5, 'lr/backbone': 0.01 }, { step: 0, timestamp: 1_700_000_001_000 });
  await tracker.logMetrics(child, { loss: 1.25 }, { step: 1, timestamp: 1_700_000_002_000 });
  await tracker.logMetricPoints(child, [
    { key: 'tar_at_far_1e-4', value: 91.5, step: 0, timestamp: 1_700_000_003_000 },
    { key: 'odd', value: NaN, step: 0, timestamp: 1_700_000_003_000 },
    { key: 'odd', value: -Infinity, step: 1, timestamp: 1_700_000_003_001 },
  ]);
  await tracker.setTags(child, { stage: 'train', 'nx/task_hash': '123' });
  const artifactSource = tmpDir();
  fs.writeFileSync(path.join(artifactSource, 'results.json'), '{"ok":true}');
  fs.mkdirSync(path.join(artifactSource, 'plots'));
  fs.writeFileSync(path.join(artifactSource, 'plots', 'roc.svg'), '<svg/>');
  await tracker.logArtifact(child, path.join(artifactSource, 'results.json'), 'eval');
  await tracker.logArtifact(child, artifactSource, 'all');
  await tracker.endRun(child, 'FINISHED', 1_700_000_010_000);
  await tracker.endRun(parent, 'FAILED', 1_700_000_011_000);
  return { tracker, parent, child, artifactSource };
}

describe('file store layout (what mlflow ui reads)', () => {
  test('experiment, run meta.yaml, metrics, params, tags and artifacts are where and as MLflow writes them', async () => {
    const root = tmpDir();
    const { tracker, parent, child } = await writeSampleRuns(root);
    // A new root gets MLflow's Default experiment 0 and the .trash folder.
    expect(readYaml(path.join(root, '0', 'meta.yaml'))).toMatchObject({ experiment_id: '0', name: 'Default', lifecycle_stage: 'active' });
    expect(fs.statSync(path.join(root, '.trash')).isDirectory()).toBe(true);

    const expDir = path.join(root, tracker.experimentId);
    const expMeta = readYaml(path.join(expDir, 'meta.yaml'));
    expect(expMeta).toEqual({ artifact_location: expect.stringMatching(/^file:\/\//), creation_time: expect.any(Number), experiment_id: tracker.experimentId, last_update_time: expect.any(Number), lifecycle_stage: 'active', name: 'demo' });
    expect(fileURLToPath(expMeta.artifact_location as string)).toBe(expDir);

    const childDir = path.join(expDir, child);
    const meta = readYaml(path.join(childDir, 'meta.yaml'));
    expect(meta).toEqual({
      artifact_uri: expect.any(String),
      deleted_time: null,
      end_time: 1_700_000_010_000,
      entry_point_name: '',
      experiment_id: tracker.experimentId,
      lifecycle_stage: 'active',
      run_id: child,
      run_name: 'train',
      run_uuid: child,
      source_name: '',
      source_type: 4,
      source_version: '',
      start_time: 1_700_000_000_500,
      status: 3,
      tags: [],
      user_id: expect.any(String),
    });
    expect(fileURLToPath(meta.artifact_uri as string)).toBe(path.join(childDir, 'artifacts'));
    expect(readYaml(path.join(expDir, parent, 'meta.yaml'))).toMatchObject({ status: 4, run_name: 'pipeline "demo" run' });
    // Keys sorted as PyYAML sorts them.
    const keys = fs.readFileSync(path.join(childDir, 'meta.yaml'), 'utf8').trim().split('\n').map((l) => l.split(':')[0]);
    expect(keys).toEqual([...keys].sort());

    expect(fs.readFileSync(path.join(childDir, 'metrics', 'loss'), 'utf8')).toBe('1700000001000 2.5 0\n1700000002000 1.25 1\n');
    expect(fs.readFileSync(path.join(childDir, 'metrics', 'lr', 'backbone'), 'utf8')).toBe('1700000001000 0.01 0\n');
    expect(fs.readFileSync(path.join(childDir, 'metrics', 'odd'), 'utf8')).toBe('1700000003000 nan 0\n1700000003001 -inf 1\n');
    expect(fs.readFileSync(path.join(childDir, 'tags', 'mlflow.parentRunId'), 'utf8')).toBe(parent);
    expect(fs.readFileSync(path.join(childDir, 'tags', 'mlflow.runName'), 'utf8')).toBe('train');
    expect(fs.readFileSync(path.join(childDir, 'tags', 'nx', 'task_hash'), 'utf8')).toBe('123');
    const params = path.join(expDir, parent, 'params');
    expect(fs.readFileSync(path.join(params, 'train.lr'), 'utf8')).toBe('0.1');
    expect(fs.readFileSync(path.join(params, 'train.schedule.milestones'), 'utf8')).toBe('[10,20]');
    expect(fs.readFileSync(path.join(params, 'eval.fars'), 'utf8')).toBe('[0.000001,0.0001]');
    expect(fs.readFileSync(path.join(params, 'long'), 'utf8')).toHaveLength(6000);
    expect(fs.readFileSync(path.join(expDir, parent, 'tags', TRUNCATED_PARAMS_TAG), 'utf8')).toBe('long');
    expect(fs.readFileSync(path.join(childDir, 'artifacts', 'eval', 'results.json'), 'utf8')).toBe('{"ok":true}');
    expect(fs.readFileSync(path.join(childDir, 'artifacts', 'all', 'plots', 'roc.svg'), 'utf8')).toBe('<svg/>');
    // Nothing temporary is left behind.
    const all = fs.readdirSync(root, { recursive: true }) as string[];
    expect(all.filter((p) => p.includes('.fcn-tmp-'))).toEqual([]);
  });

  test('reads back what it wrote: params, tags, latest metrics, artifacts', async () => {
    const root = tmpDir();
    const { tracker, parent, child } = await writeSampleRuns(root);
    const store = new FileStore(root);
    const run = await store.getRun(child);
    expect(run).toMatchObject({ runId: child, runName: 'train', status: 'FINISHED', startTime: 1_700_000_000_500, endTime: 1_700_000_010_000, lifecycleStage: 'active' });
    expect(run.tags).toMatchObject({ 'mlflow.parentRunId': parent, stage: 'train', 'nx/task_hash': '123', 'mlflow.source.type': 'LOCAL' });
    expect(run.metrics.loss).toEqual({ key: 'loss', value: 1.25, step: 1, timestamp: 1_700_000_002_000 });
    expect(run.metrics.odd.value).toBe(-Infinity);
    expect(store.metricHistory(child, 'odd')[0].value).toBeNaN();
    const runs = await store.listRuns([tracker.experimentId]);
    expect(runs.map((r) => r.runId).sort()).toEqual([parent, child].sort());
    expect(await store.listArtifacts(child)).toEqual([
      { path: 'all', isDir: true },
      { path: 'eval', isDir: true },
    ]);
    expect(await store.listArtifacts(child, 'eval')).toEqual([{ path: 'eval/results.json', isDir: false, size: 11 }]);
    expect(new TextDecoder().decode(await store.readArtifact(child, 'all/plots/roc.svg'))).toBe('<svg/>');
  });

  test('reads a store written by MLflow itself (PyYAML meta files, Python float formatting, 2-field lines)', async () => {
    const store = new FileStore(FIXTURE);
    const exp = await store.getExperimentByName("paper: IJB-B 'set' protocol");
    expect(exp).toMatchObject({ experimentId: '283746512398471234', lifecycleStage: 'active' });
    const [run] = await store.listRuns([exp!.experimentId]);
    expect(run.runName).toBe('a run name long enough that PyYAML folds it over more than one line of the meta file ok');
    expect(run).toMatchObject({ status: 'FINISHED', startTime: 1717000002000, endTime: 1717000100000, params: { 'train.lr': '0.001' } });
    expect(run.metrics['ijbb/tar_at_far_1e-4'].value).toBe(93.25);
    expect(run.metrics.legacy_two_fields).toEqual({ key: 'legacy_two_fields', value: Infinity, step: 0, timestamp: 1717000007000 });
    expect(store.metricHistory(run.runId, 'loss').map((p) => p.value)).toEqual([0.5, 1e-5, NaN]);
    // The artifact_uri points to another machine: the run's own artifacts folder is used.
    expect(JSON.parse(new TextDecoder().decode(await store.readArtifact(run.runId, 'roc.json')))).toEqual({ fpr: [0, 1e-4, 1], tpr: [0, 0.9, 1] });
  });

  (hasPyYaml() ? test : test.skip)('what we write passes MLflow’s reading rules with PyYAML (python3 + PyYAML present)', async () => {
    const root = tmpDir();
    const { tracker, child } = await writeSampleRuns(root);
    const r = spawnSync('python3', [CHECKER, 'check', root], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const summary = JSON.parse(r.stdout);
    const run = summary.experiments[tracker.experimentId].runs[child];
    expect(summary.experiments[tracker.experimentId].name).toBe('demo');
    expect(run).toMatchObject({ run_name: 'train', status: 3, start_time: 1_700_000_000_500, end_time: 1_700_000_010_000 });
    expect(run.metrics.loss).toEqual([[1_700_000_001_000, '2.5', 0], [1_700_000_002_000, '1.25', 1]]);
    expect(run.metrics.odd).toEqual([[1_700_000_003_000, 'nan', 0], [1_700_000_003_001, '-inf', 1]]);
    expect(run.tags['nx/task_hash']).toBe('123');
  });

  test('params are immutable; bad keys fail with the rule; a deleted run is read-only', async () => {
    const root = tmpDir();
    const tracker = (await openTracker({ mlrunsDir: root, experiment: 'demo', env: {} })) as FileTracker;
    const run = await tracker.startRun({ name: 'x' });
    await tracker.logParams(run, { a: 1 });
    await tracker.logParams(run, { a: 1 }); // same value again is fine
    await expect(tracker.logParams(run, { a: 2 })).rejects.toThrow(/param 'a' was already logged as "1"; params cannot change/);
    await expect(tracker.logMetrics(run, { 'bad|key': 1 })).rejects.toThrow(/invalid metric key "bad\|key": character "\|" not allowed/);
    await expect(tracker.setTags(run, { 'a/../b': 'x' })).rejects.toThrow(/'\.\.' is not allowed/);
    await expect(tracker.setTags(run, { ['k'.repeat(251)]: 'x' })).rejects.toThrow(/251 characters, at most 250/);
    await expect(tracker.logMetrics(run, { 'a//b': 1 })).rejects.toThrow(/would resolve to "a\/b"/);
    const metaFile = path.join(root, tracker.experimentId, run, 'meta.yaml');
    fs.writeFileSync(metaFile, fs.readFileSync(metaFile, 'utf8').replace('lifecycle_stage: "active"', 'lifecycle_stage: "deleted"'));
    await expect(tracker.logMetrics(run, { m: 1 })).rejects.toThrow(/is deleted/);
  });

  test('a metric line torn by a crash is cut before the next append; readers skip it meanwhile', async () => {
    const root = tmpDir();
    const tracker = (await openTracker({ mlrunsDir: root, experiment: 'demo', env: {} })) as FileTracker;
    const run = await tracker.startRun({ name: 'x' });
    await tracker.logMetrics(run, { loss: 1 }, { step: 0, timestamp: 10 });
    const file = path.join(root, tracker.experimentId, run, 'metrics', 'loss');
    fs.appendFileSync(file, '11 0.'); // the process died mid-write
    expect(tracker.store.metricHistory(run, 'loss')).toHaveLength(1);
    await tracker.logMetrics(run, { loss: 0.5 }, { step: 1, timestamp: 12 });
    expect(fs.readFileSync(file, 'utf8')).toBe('10 1 0\n12 0.5 1\n');
  });

  test('two trackers on one root: one folder for the experiment (id derived from the name), interleaved appends all kept', async () => {
    const root = tmpDir();
    const a = (await openTracker({ mlrunsDir: root, experiment: 'shared', env: {} })) as FileTracker;
    const b = (await openTracker({ mlrunsDir: root, experiment: 'shared', env: {} })) as FileTracker;
    expect(a.experimentId).toBe(b.experimentId);
    const run = await a.startRun();
    await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).logMetrics(run, { m: i }, { step: i, timestamp: i })));
    expect(a.store.metricHistory(run, 'm').map((p) => p.step).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(new FileStore(root).listExperiments().map((e) => e.name).sort()).toEqual(['Default', 'shared']);
  });
});
