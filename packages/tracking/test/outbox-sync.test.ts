import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStore, FileTracker, MirroredTracker, openRestClient, openTracker, readTargetState, syncRun, syncStore, LOCAL_RUN_ID_TAG } from '../src';
import { FakeMlflowServer } from '../src/testing/fake-mlflow-server';

const FAST = { timeoutMs: 400, retries: 2, backoffMs: 5, maxBackoffMs: 20 };

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-outbox-'));
}

async function pipelineRun(tracker: MirroredTracker | FileTracker, name: string, artifactDir: string): Promise<{ parent: string; child: string }> {
  const parent = await tracker.startRun({ name, tags: { 'fcn.git_commit': 'abc123' } });
  await tracker.logParams(parent, { train: { lr: 0.1, epochs: 3 } });
  const child = await tracker.startRun({ name: 'train', parentRunId: parent, tags: { stage: 'train' } });
  for (let from = 0; from < 1500; from += 100) {
    await tracker.logMetricPoints(child, Array.from({ length: 100 }, (_, i) => ({ key: 'loss', value: 1 / (from + i + 1), step: from + i, timestamp: 1000 + from + i })));
  }
  await tracker.logArtifact(child, artifactDir, 'eval');
  await tracker.endRun(child, 'FINISHED');
  await tracker.endRun(parent, 'FINISHED');
  return { parent, child };
}

describe('outbox: the local store keeps what the server did not get, and sync sends it once', () => {
  let server: FakeMlflowServer;
  let root: string;
  let artifactDir: string;
  beforeEach(async () => {
    server = new FakeMlflowServer();
    await server.start();
    root = tmpDir();
    artifactDir = tmpDir();
    fs.writeFileSync(path.join(artifactDir, 'roc.json'), JSON.stringify({ fpr: [0, 0.5, 1], tpr: [0, 0.8, 1] }));
  });
  afterEach(() => server.stop());

  test('server down -> pipeline finishes, runs kept -> server up -> next run sends everything -> sync again sends nothing', async () => {
    await server.stop();
    const logs: string[] = [];
    const started = Date.now();
    const down = (await openTracker({ uri: server.url, mlrunsDir: root, experiment: 'demo', env: {}, http: FAST, log: (l) => logs.push(l) })) as MirroredTracker;
    expect(down).toBeInstanceOf(MirroredTracker);
    const first = await pipelineRun(down, 'first', artifactDir);
    await down.close();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(down.offline).toBe(true);
    expect(logs.filter((l) => l.includes('server not reachable'))).toHaveLength(1); // tried once, then left alone
    expect(logs.join('\n')).toContain(`fcn mlflow sync --to ${server.url}`);
    const store = new FileStore(root);
    expect((await store.getRun(first.child)).metrics.loss.step).toBe(1499);
    expect(readTargetState(store.runDir(first.parent).dir, server.url)).toMatchObject({ params: [] }); // queued, nothing sent

    // The next stage, moments later, does not wait on the server again.
    const nextStage = (await openTracker({ uri: server.url, mlrunsDir: root, experiment: 'demo', env: {}, http: FAST, log: (l) => logs.push(l) })) as MirroredTracker;
    expect(nextStage.offline).toBe(true);
    const stageRun = await nextStage.startRun({ name: 'stage' });
    await nextStage.endRun(stageRun);
    await nextStage.close();
    expect(logs.filter((l) => l.includes('did not answer'))).toHaveLength(1);
    fs.rmSync(path.join(root, '.fcn-server-unreachable.json')); // as if two minutes had passed

    await server.start(); // same URL
    const up = (await openTracker({ uri: server.url, mlrunsDir: root, experiment: 'demo', env: {}, http: FAST })) as MirroredTracker;
    const second = await pipelineRun(up, 'second', artifactDir);
    await up.close();
    expect(up.offline).toBe(false);
    expect(server.runs.size).toBe(5);
    const remoteOf = (local: string): string => readTargetState(store.runDir(local).dir, server.url)!.remoteRunId!;
    for (const { parent, child } of [first, second]) {
      const remoteChild = server.runs.get(remoteOf(child))!;
      expect(remoteChild.tags.get('mlflow.parentRunId')).toBe(remoteOf(parent));
      expect(remoteChild.tags.get(LOCAL_RUN_ID_TAG)).toBe(child);
      expect(remoteChild.tags.get('stage')).toBe('train');
      expect(remoteChild.info.status).toBe('FINISHED');
      expect(remoteChild.metrics).toHaveLength(1500);
      expect(server.runs.get(remoteOf(parent))!.params.get('train.lr')).toBe('0.1');
      expect(server.artifacts.get(`${remoteChild.info.experiment_id}/${remoteChild.info.run_id}/artifacts/eval/roc.json`)?.toString()).toContain('"fpr"');
    }

    const before = server.requests.length;
    const again = await syncStore(store, openRestClient(server.url, {}, FAST));
    expect(again.runs.map((r) => r.outcome)).toEqual(Array(5).fill('unchanged'));
    expect(server.requests.length).toBe(before); // nothing sent at all
    expect(server.runs.size).toBe(5);
  });

  test('a server that accepts connections but never answers costs one bounded wait; the runs are kept', async () => {
    server.faultWhen = () => ({ kind: 'hang' });
    const logs: string[] = [];
    const started = Date.now();
    const slow = (await openTracker({ uri: server.url, mlrunsDir: root, experiment: 'demo', env: {}, http: FAST, log: (l) => logs.push(l) })) as MirroredTracker;
    const { child } = await pipelineRun(slow, 'slow', artifactDir);
    await slow.close();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(8000); // one request: 3 attempts x 400 ms, then nothing more is tried (bound loose for a busy CI)
    expect(slow.offline).toBe(true);
    expect(logs.join('\n')).toMatch(/no answer within 400 ms/);
    expect((await new FileStore(root).getRun(child)).status).toBe('FINISHED');
    server.faultWhen = undefined;
    const report = await syncStore(new FileStore(root), openRestClient(server.url, {}, FAST));
    expect(report.failed).toEqual([]);
    expect(report.runs.map((r) => r.outcome).sort()).toEqual(['created', 'created']);
  });

  test('new data on a synced run is sent incrementally (only the new points)', async () => {
    const tracker = new FileTracker(new FileStore(root), 'demo');
    const { child } = await pipelineRun(tracker, 'local', artifactDir);
    const client = openRestClient(server.url, {}, FAST);
    const firstSync = await syncStore(tracker.store, client);
    expect(firstSync.runs.map((r) => r.outcome).sort()).toEqual(['created', 'created']);
    await tracker.logMetrics(child, { loss: 0.0001 }, { step: 1500, timestamp: 5000 });
    await tracker.setTags(child, { note: 'more' });
    const second = await syncStore(tracker.store, client);
    expect(second.runs.find((r) => r.localRunId === child)?.outcome).toBe('updated');
    const remote = server.runs.get(second.runs.find((r) => r.localRunId === child)!.remoteRunId!)!;
    expect(remote.metrics).toHaveLength(1501);
    expect(remote.tags.get('note')).toBe('more');
    expect(server.callsTo('/api/2.0/mlflow/runs/create')).toHaveLength(2);
  });

  test('a metrics batch lost after the server applied it is checked against the history: no duplicates', async () => {
    const tracker = new FileTracker(new FileStore(root), 'demo');
    const { child } = await pipelineRun(tracker, 'local', artifactDir);
    // The child's first metrics batch (1000 points) is applied, then the connection drops.
    let metricBatches = 0;
    server.faultWhen = (r) =>
      r.path === '/api/2.0/mlflow/runs/log-batch' && JSON.parse(r.body.toString()).metrics.length > 0 && metricBatches++ === 0 ? { kind: 'drop-after-apply' } : undefined;
    const client = openRestClient(server.url, {}, FAST);
    const report = await syncStore(tracker.store, client);
    expect(report.failed).toEqual([]);
    const remoteId = report.runs.find((r) => r.localRunId === child)!.remoteRunId!;
    const steps = server.runs.get(remoteId)!.metrics.map((m) => m.step);
    expect(steps).toHaveLength(1500);
    expect(new Set(steps).size).toBe(1500);
    expect(server.callsTo('/api/2.0/mlflow/metrics/get-history').length).toBeGreaterThan(0);
    expect(readTargetState(tracker.store.runDir(child).dir, server.url)).toMatchObject({ uncertain: [], metrics: { loss: 1500 } });
  });

  test('a run created on the server whose answer was lost is found again by its tag, not created twice', async () => {
    const tracker = new FileTracker(new FileStore(root), 'demo');
    const run = await tracker.startRun({ name: 'solo' });
    await tracker.logMetrics(run, { acc: 0.5 });
    await tracker.endRun(run);
    server.inject('/api/2.0/mlflow/runs/create', { kind: 'drop-after-apply' });
    const client = openRestClient(server.url, {}, FAST);
    // The first pass fails ambiguously; the second finds the run by its fcn.local_run_id tag and adopts it.
    const result = await syncRun(tracker.store, client, run);
    expect(result.outcome).toBe('updated');
    expect(server.callsTo('/api/2.0/mlflow/runs/create')).toHaveLength(1);
    expect(server.runs.size).toBe(1);
    expect(result.remoteRunId).toBe([...server.runs.keys()][0]);
    expect((await syncRun(tracker.store, client, run)).outcome).toBe('unchanged');
    expect(server.runs.get(result.remoteRunId!)!.metrics).toHaveLength(1);
  });

  test('a run deleted on the server is sent again; a run being synced by another process is skipped', async () => {
    const tracker = new FileTracker(new FileStore(root), 'demo');
    const run = await tracker.startRun({ name: 'solo' });
    await tracker.endRun(run);
    const client = openRestClient(server.url, {}, FAST);
    const first = await syncRun(tracker.store, client, run);
    server.runs.delete(first.remoteRunId!);
    await tracker.setTags(run, { changed: 'yes' });
    const second = await syncRun(tracker.store, client, run);
    expect(second.outcome).toBe('created');
    expect(server.runs.get(second.remoteRunId!)!.tags.get('changed')).toBe('yes');
    await tracker.setTags(run, { changed: 'again' });
    fs.writeFileSync(path.join(tracker.store.runDir(run).dir, 'fcn-sync.lock'), JSON.stringify({ pid: process.pid, at: Date.now() }));
    expect((await syncRun(tracker.store, client, run)).outcome).toBe('busy');
  });
});
