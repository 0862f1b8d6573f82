import { MlflowApiError, MlflowRestClient, SERVER_BATCH_LIMITS, type MetricPoint } from '../src';
import { FakeMlflowServer } from '../src/testing/fake-mlflow-server';

const FAST = { timeoutMs: 400, retries: 3, backoffMs: 5, maxBackoffMs: 20 };

describe('MlflowRestClient against a server speaking MLflow REST 2.0', () => {
  let server: FakeMlflowServer;
  let client: MlflowRestClient;
  let logs: string[];

  beforeEach(async () => {
    server = new FakeMlflowServer();
    await server.start();
    logs = [];
    client = new MlflowRestClient({ baseUrl: server.url, ...FAST, log: (l) => logs.push(l) });
  });
  afterEach(() => server.stop());

  test('get-by-name of a missing experiment (404 RESOURCE_DOES_NOT_EXIST) is undefined; create then get', async () => {
    expect(await client.getExperimentByName('demo')).toBeUndefined();
    const created = await client.getOrCreateExperiment('demo');
    expect(created.name).toBe('demo');
    expect(await client.getExperimentByName('demo')).toEqual(created);
    expect(server.experiments.size).toBe(2);
  });

  test('a create that loses the race (400 RESOURCE_ALREADY_EXISTS) fetches the existing experiment', async () => {
    const id = await client.createExperiment('demo');
    // The first get-by-name says "missing" (another client creates it meanwhile): create -> 400 -> get.
    server.inject('/api/2.0/mlflow/experiments/get-by-name', { kind: 'status', status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST' });
    const got = await client.getOrCreateExperiment('demo');
    expect(got.experimentId).toBe(id);
    expect(server.callsTo('/api/2.0/mlflow/experiments/create')).toHaveLength(2);
    await expect(client.createExperiment('demo')).rejects.toMatchObject({ status: 400, errorCode: 'RESOURCE_ALREADY_EXISTS' });
  });

  test('runs: create, log-batch, get, update, search by tag; POSTs carry Content-Type application/json', async () => {
    const exp = await client.getOrCreateExperiment('demo');
    const info = await client.createRun({ experimentId: exp.experimentId, runName: 'train', startTime: 1000, tags: { stage: 'train' } });
    await client.logBatch(info.run_id, {
      params: [{ key: 'train.lr', value: '0.1' }],
      tags: [{ key: 'git.commit', value: 'abc' }],
      metrics: [
        { key: 'loss', value: 2, step: 0, timestamp: 1001 },
        { key: 'loss', value: 1, step: 1, timestamp: 1002 },
        { key: 'nan_metric', value: NaN, step: 0, timestamp: 1003 },
      ],
    });
    await client.updateRun(info.run_id, 'FINISHED', 2000);
    const run = await client.getRun(info.run_id);
    expect(run).toMatchObject({ runName: 'train', status: 'FINISHED', startTime: 1000, endTime: 2000, params: { 'train.lr': '0.1' } });
    expect(run.tags).toMatchObject({ stage: 'train', 'git.commit': 'abc' });
    expect(run.metrics.loss).toEqual({ key: 'loss', value: 1, step: 1, timestamp: 1002 });
    expect(run.metrics.nan_metric.value).toBeNaN();
    const found = await client.searchRuns([exp.experimentId], "tags.`stage` = 'train'");
    expect(found.map((r) => r.info.run_id)).toEqual([info.run_id]);
    for (const r of server.requests.filter((x) => x.method === 'POST')) expect(r.headers['content-type']).toBe('application/json');
  });

  test('log-batch is split to the server limits: 2500 metrics, 250 params, 150 tags, 1 MB', async () => {
    const exp = await client.getOrCreateExperiment('demo');
    const { run_id } = await client.createRun({ experimentId: exp.experimentId, startTime: 1 });
    const metrics: MetricPoint[] = Array.from({ length: 2500 }, (_, i) => ({ key: `m${i % 7}`, value: i / 3, step: i, timestamp: 10 + i }));
    const params = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: 'x'.repeat(5000) })); // ~1.25 MB of params
    const tags = Array.from({ length: 150 }, (_, i) => ({ key: `t${i}`, value: String(i) }));
    await client.logBatch(run_id, { metrics, params, tags });
    const batches = server.callsTo('/api/2.0/mlflow/runs/log-batch').map((r) => ({ size: r.body.length, body: JSON.parse(r.body.toString()) }));
    for (const b of batches) {
      expect(b.size).toBeLessThanOrEqual(SERVER_BATCH_LIMITS.maxBytes);
      expect(b.body.metrics.length).toBeLessThanOrEqual(1000);
      expect(b.body.params.length).toBeLessThanOrEqual(100);
      expect(b.body.tags.length).toBeLessThanOrEqual(100);
      expect(b.body.metrics.length + b.body.params.length + b.body.tags.length).toBeLessThanOrEqual(1000);
    }
    expect(batches.length).toBeGreaterThanOrEqual(5);
    const run = server.runs.get(run_id)!;
    expect(run.params.size).toBe(250);
    expect(run.tags.size).toBe(151); // + mlflow.runName
    expect(run.metrics.map((m) => m.step)).toEqual(metrics.map((m) => m.step)); // order kept
  });

  test('metric history: pages with next_page_token, always asking with max_results', async () => {
    server.historyPageCap = 300;
    const exp = await client.getOrCreateExperiment('demo');
    const { run_id } = await client.createRun({ experimentId: exp.experimentId, startTime: 1 });
    const points = Array.from({ length: 1234 }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), step: i, timestamp: 100 + i }));
    await client.logBatch(run_id, { metrics: points });
    const history = await client.getMetricHistory(run_id, 'loss');
    expect(history).toEqual(points);
    const calls = server.callsTo('/api/2.0/mlflow/metrics/get-history');
    expect(calls).toHaveLength(5);
    for (const c of calls) expect(Number(c.query.get('max_results'))).toBeGreaterThan(0);
  });

  test('artifacts through the mlflow-artifacts proxy: upload, list, download', async () => {
    const exp = await client.getOrCreateExperiment('demo');
    const { run_id } = await client.createRun({ experimentId: exp.experimentId, startTime: 1 });
    await client.uploadArtifact(run_id, 'eval/roc.json', new TextEncoder().encode('{"fpr":[0,1],"tpr":[0,1]}'));
    await client.uploadArtifact(run_id, 'config with space.json', new Uint8Array([1, 2, 3]));
    expect([...server.artifacts.keys()].sort()).toEqual([`${exp.experimentId}/${run_id}/artifacts/config with space.json`, `${exp.experimentId}/${run_id}/artifacts/eval/roc.json`]);
    expect(await client.listArtifacts(run_id)).toEqual([
      { path: 'eval', isDir: true },
      { path: 'config with space.json', isDir: false, size: 3 },
    ]);
    expect(await client.listArtifacts(run_id, 'eval')).toEqual([{ path: 'eval/roc.json', isDir: false, size: 25 }]);
    expect(Array.from(await client.readArtifact(run_id, 'config with space.json'))).toEqual([1, 2, 3]);
    await expect(client.readArtifact(run_id, 'missing.txt')).rejects.toMatchObject({ status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST' });
    expect(() => MlflowRestClient.proxyRoot('s3://bucket/1/abc/artifacts')).toThrow(/--serve-artifacts/);
    expect(MlflowRestClient.proxyRoot('mlflow-artifacts://host:5000/1/abc/artifacts')).toBe('1/abc/artifacts');
  });

  test('404 on an unknown run is an MlflowApiError with the server message, not retried', async () => {
    await expect(client.getRun('doesnotexist')).rejects.toMatchObject({ status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST', message: expect.stringContaining("Run 'doesnotexist' not found") });
    expect(server.callsTo('/api/2.0/mlflow/runs/get')).toHaveLength(1);
  });

  test('retries 429 (honouring Retry-After), 500, a timeout and a dropped connection, then succeeds', async () => {
    server.inject('/api/2.0/mlflow/experiments/get-by-name', { kind: 'status', status: 429, errorCode: 'REQUEST_LIMIT_EXCEEDED', retryAfter: '0' }, { kind: 'status', status: 500 }, { kind: 'hang' });
    expect(await client.getExperimentByName('Default')).toMatchObject({ experimentId: '0' });
    expect(server.callsTo('/api/2.0/mlflow/experiments/get-by-name')).toHaveLength(4);
    server.inject('/api/2.0/mlflow/runs/search', { kind: 'drop' });
    expect(await client.searchRuns(['0'])).toEqual([]);
    expect(logs.some((l) => l.includes('HTTP 429'))).toBe(true);
    expect(logs.some((l) => l.includes('no answer within 400 ms'))).toBe(true);
  });

  test('gives up after the configured retries with the last error', async () => {
    server.inject('/api/2.0/mlflow/runs/get', ...Array.from({ length: 4 }, () => ({ kind: 'status' as const, status: 503 })));
    await expect(client.getRun('abc')).rejects.toMatchObject({ status: 503 });
    expect(server.callsTo('/api/2.0/mlflow/runs/get')).toHaveLength(4);
  });

  test('a metrics batch whose connection drops after the server applied it is not resent blindly', async () => {
    const exp = await client.getOrCreateExperiment('demo');
    const { run_id } = await client.createRun({ experimentId: exp.experimentId, startTime: 1 });
    server.inject('/api/2.0/mlflow/runs/log-batch', { kind: 'drop-after-apply' });
    const err = await client.logBatch(run_id, { metrics: [{ key: 'loss', value: 1, step: 0, timestamp: 5 }] }).catch((e) => e);
    expect(err).toBeInstanceOf(MlflowApiError);
    expect(err.ambiguous).toBe(true);
    expect(server.runs.get(run_id)!.metrics).toHaveLength(1); // applied once, not twice
    // Params/tags-only batches are idempotent and are retried.
    server.inject('/api/2.0/mlflow/runs/log-batch', { kind: 'drop-after-apply' });
    await client.logBatch(run_id, { params: [{ key: 'a', value: '1' }] });
    expect(server.runs.get(run_id)!.params.get('a')).toBe('1');
  });

  test('an unreachable server is a network error after the retries', async () => {
    await server.stop();
    const err = await client.getExperimentByName('demo').catch((e) => e);
    expect(err).toMatchObject({ network: true, errorCode: 'ECONNREFUSED' });
    expect(err.message).toContain(server.url);
    server = new FakeMlflowServer();
    await server.start();
  });

  test('rejects bad keys before sending, with the rule in the message', async () => {
    await expect(client.logBatch('abc', { params: [{ key: 'a..b', value: '1' }] })).rejects.toThrow(/'\.\.' is not allowed/);
    await expect(client.logBatch('abc', { metrics: [{ key: 'bad*key', value: 1, step: 0, timestamp: 0 }] })).rejects.toThrow(/character "\*" not allowed/);
    expect(server.requests).toHaveLength(0);
  });
});

describe('credentials', () => {
  const SECRET_TOKEN = 'tok-3f9a2c77-very-secret';
  const PASSWORD = 'pw-Zq8!hunter2';
  let server: FakeMlflowServer;
  beforeEach(async () => {
    server = new FakeMlflowServer();
    await server.start();
  });
  afterEach(() => server.stop());

  test('MLFLOW_TRACKING_TOKEN is sent as Bearer; never in errors or log lines', async () => {
    server.expectedAuth = `Bearer ${SECRET_TOKEN}`;
    const logs: string[] = [];
    const { openRestClient } = await import('../src');
    const client = openRestClient(server.url, { MLFLOW_TRACKING_TOKEN: SECRET_TOKEN }, { ...FAST, log: (l) => logs.push(l) });
    expect(await client.getExperimentByName('Default')).toBeDefined();
    expect(server.requests[0].headers.authorization).toBe(`Bearer ${SECRET_TOKEN}`);
    server.inject('/api/2.0/mlflow/runs/get', { kind: 'status', status: 500 }, { kind: 'hang' });
    await client.getRun('abc').catch(() => undefined);
    const wrong = openRestClient(server.url, { MLFLOW_TRACKING_TOKEN: SECRET_TOKEN + 'x' }, FAST);
    const err = await wrong.getExperimentByName('Default').catch((e) => e);
    expect(err.status).toBe(401);
    expect(err.message).toContain('MLFLOW_TRACKING_TOKEN');
    for (const text of [...logs, err.message, String(err.stack), JSON.stringify(err)]) expect(text).not.toContain(SECRET_TOKEN);
  });

  test('MLFLOW_TRACKING_USERNAME/PASSWORD are sent as Basic; user:password@ in the URI too; never shown', async () => {
    const basic = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
    server.expectedAuth = basic;
    const { openRestClient } = await import('../src');
    const fromEnv = openRestClient(server.url, { MLFLOW_TRACKING_USERNAME: 'alice', MLFLOW_TRACKING_PASSWORD: PASSWORD }, FAST);
    expect(await fromEnv.getExperimentByName('Default')).toBeDefined();
    const inUrl = openRestClient(server.url.replace('http://', `http://alice:${encodeURIComponent(PASSWORD)}@`), {}, FAST);
    expect(await inUrl.getExperimentByName('Default')).toBeDefined();
    expect(inUrl.location).toBe(server.url);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([basic, basic]);
    // A server that echoes the header back in its error message still does not leak it.
    server.inject('/api/2.0/mlflow/runs/get', { kind: 'status', status: 400, errorCode: `BAD ${basic}` });
    const err = await fromEnv.getRun('abc').catch((e) => e);
    expect(err.message).not.toContain(PASSWORD);
    expect(err.message).not.toContain(basic.slice(6));
    await server.stop();
    const down = await inUrl.getRun('abc').catch((e) => e);
    expect(down.message).not.toContain(PASSWORD);
    server = new FakeMlflowServer();
    await server.start();
  });
});
