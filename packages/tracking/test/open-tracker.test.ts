import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeMlflowServer, FileTracker, MirroredTracker, openTracker, parseTrackingUri, RestTracker } from '../src';

describe('openTracker', () => {
  test('tracking URIs: none or a path -> file store; http(s) -> server; other schemes are refused clearly', () => {
    expect(parseTrackingUri(undefined, 'mlruns')).toEqual({ kind: 'file', root: path.resolve('mlruns') });
    expect(parseTrackingUri('file:///tmp/x/mlruns')).toEqual({ kind: 'file', root: '/tmp/x/mlruns' });
    expect(parseTrackingUri('./runs')).toEqual({ kind: 'file', root: path.resolve('runs') });
    expect(parseTrackingUri('https://mlflow.example:8443/prefix')).toEqual({ kind: 'http', url: 'https://mlflow.example:8443/prefix' });
    expect(() => parseTrackingUri('databricks')).not.toThrow(); // a bare word is a folder name
    expect(() => parseTrackingUri('sqlite:///mlflow.db')).toThrow(/scheme 'sqlite:' is not supported/);
  });

  test('MLFLOW_TRACKING_URI picks the mirrored tracker; mode direct talks only to the server', async () => {
    const server = new FakeMlflowServer();
    await server.start();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-open-'));
    try {
      expect(await openTracker({ experiment: 'demo', mlrunsDir: root, env: {} })).toBeInstanceOf(FileTracker);
      expect(await openTracker({ experiment: 'demo', mlrunsDir: root, env: { MLFLOW_TRACKING_URI: server.url } })).toBeInstanceOf(MirroredTracker);
      const direct = await openTracker({ experiment: 'direct', mlrunsDir: root, env: { MLFLOW_TRACKING_URI: server.url }, mode: 'direct' });
      expect(direct).toBeInstanceOf(RestTracker);
      const parent = await direct.startRun({ name: 'pipeline' });
      const child = await direct.startRun({ name: 'train', parentRunId: parent, startTime: 5 });
      await direct.logParams(child, { train: { lr: 0.1 }, long: 'z'.repeat(6001) });
      await direct.logMetrics(child, { loss: 0.5 }, { step: 3, timestamp: 7 });
      await direct.setTags(child, { stage: 'train' });
      const files = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-open-art-'));
      fs.mkdirSync(path.join(files, 'sub'));
      fs.writeFileSync(path.join(files, 'sub', 'b.txt'), 'b');
      fs.writeFileSync(path.join(files, 'a.txt'), 'a');
      await direct.logArtifact(child, path.join(files, 'a.txt'), 'one');
      await direct.logArtifact(child, files, 'all');
      await direct.endRun(child, 'KILLED', 9);
      const run = server.runs.get(child)!;
      expect(run.info).toMatchObject({ run_name: 'train', status: 'KILLED', end_time: 9, start_time: 5 });
      expect(run.tags.get('mlflow.parentRunId')).toBe(parent);
      expect(run.tags.get('stage')).toBe('train');
      expect(run.tags.get('fcn.truncated_params')).toBe('long');
      expect(run.params.get('long')).toHaveLength(6000);
      expect(run.metrics).toEqual([{ key: 'loss', value: 0.5, step: 3, timestamp: 7 }]);
      const prefix = `${run.info.experiment_id}/${child}/artifacts/`;
      expect([...server.artifacts.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)).sort()).toEqual(['all/a.txt', 'all/sub/b.txt', 'one/a.txt']);
      // Nothing was written locally in direct mode except by the earlier trackers.
      expect(fs.readdirSync(root).filter((d) => !d.startsWith('.')).length).toBe(2); // Default + demo
    } finally {
      await server.stop();
    }
  });
});
