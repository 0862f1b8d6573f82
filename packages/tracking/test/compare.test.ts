import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compareRuns, FileStore, FileTracker, formatComparison, loadComparison, openRestClient, rocCurvesFromJson, rocOverlaySvg, syncStore } from '../src';
import { FakeMlflowServer } from '../src/testing/fake-mlflow-server';

async function evaluatedRuns(root: string): Promise<{ tracker: FileTracker; a: string; b: string; plain: string }> {
  const tracker = new FileTracker(new FileStore(root), 'demo');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-roc-'));
  const make = async (name: string, lr: number, tars: [number, number], roc: object | undefined): Promise<string> => {
    const run = await tracker.startRun({ name, startTime: 1_700_000_000_000 + lr * 1000 });
    await tracker.logParams(run, { train: { lr, epochs: 10 }, eval: { dataset: 'IJBB' } });
    await tracker.logMetrics(run, { 'tar_at_far_1e-4': tars[0], 'tar_at_far_1e-5': tars[1], 'mean/tar_at_far_1e-4': 80 });
    if (roc) {
      fs.mkdirSync(path.join(dir, name, 'facecoresetnet'), { recursive: true });
      fs.writeFileSync(path.join(dir, name, 'facecoresetnet', 'roc.json'), JSON.stringify(roc));
      await tracker.logArtifact(run, path.join(dir, name), 'eval');
    }
    await tracker.endRun(run);
    return run;
  };
  const a = await make('lr-0.1', 0.1, [91.234, 85.5], { fpr: [0, 1e-5, 1e-3, 1], tpr: [0, 0.8, 0.9, 1] });
  const b = await make('lr-0.01', 0.01, [92.5, 86.25], { curves: [{ name: 'fcn', fpr: [0, 1e-6, 1], tpr: [0, 0.7, 1] }] });
  const plain = await tracker.startRun({ name: 'ingest' });
  await tracker.endRun(plain);
  return { tracker, a, b, plain };
}

describe('compare', () => {
  test('table: only the differing params, TAR@FAR columns ordered by FAR, from the file store', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-cmp-'));
    const { a, b } = await evaluatedRuns(root);
    const loaded = await loadComparison(new FileStore(root), { experiment: 'demo' });
    // The run without TAR@FAR metrics (ingest) is left out when evaluations exist.
    expect(loaded.comparison.runs.map((r) => r.runId).sort()).toEqual([a, b].sort());
    expect(loaded.comparison.differingParams).toEqual(['train.lr']);
    expect(loaded.comparison.tarColumns.map((c) => c.title)).toEqual(['TAR@1e-5', 'TAR@1e-4', 'mean TAR@1e-4']);
    const text = formatComparison(loaded.comparison);
    expect(text).toContain('91.23');
    expect(text).toContain('86.25');
    expect(text).toMatch(/train\.lr\s+0\.01\s+0\.1|train\.lr\s+0\.1\s+0\.01/);
    expect(text).not.toContain('train.epochs');
    expect(formatComparison(loaded.comparison, { markdown: true }).split('\n')[1]).toMatch(/^\|-+\|/);
    expect(loaded.curves.map((c) => c.label).sort()).toEqual([`lr-0.01 ${b.slice(0, 8)} eval/facecoresetnet fcn`, `lr-0.1 ${a.slice(0, 8)} eval/facecoresetnet`]);
    const svg = rocOverlaySvg(loaded.curves, { title: 'demo' });
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).toContain('1e-6');
  });

  test('the same comparison read from a server after sync', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-cmp-'));
    const { tracker, a } = await evaluatedRuns(root);
    const server = new FakeMlflowServer();
    await server.start();
    try {
      const client = openRestClient(server.url, {}, { timeoutMs: 1000, retries: 1, backoffMs: 5 });
      await syncStore(tracker.store, client);
      const local = await loadComparison(new FileStore(root), { experiment: 'demo' });
      const remote = await loadComparison(client, { experiment: 'demo' });
      const strip = (c: typeof local): unknown => ({
        params: c.comparison.differingParams,
        cols: c.comparison.tarColumns,
        values: c.comparison.runs.map((r) => [r.runName, r.metrics['tar_at_far_1e-4'].value]).sort(),
        curves: c.curves.map((x) => [x.label.replace(/ \S{8} /, ' '), x.fpr, x.tpr]).sort(),
      });
      expect(strip(remote)).toEqual(strip(local));
      const remoteA = remote.comparison.runs.find((r) => r.tags['fcn.local_run_id'] === a);
      expect(remoteA?.params['train.lr']).toBe('0.1');
    } finally {
      await server.stop();
    }
  });

  test('a stage run is compared with its parent pipeline run\'s params', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-cmp-'));
    const tracker = new FileTracker(new FileStore(root), 'demo');
    for (const lr of [0.1, 0.2]) {
      const parent = await tracker.startRun({ name: `pipeline lr=${lr}` });
      await tracker.logParams(parent, { train: { lr }, eval: { fars: [1e-4] } });
      const evalRun = await tracker.startRun({ name: 'eval', parentRunId: parent });
      await tracker.logParams(evalRun, { method: 'facecoresetnet' });
      await tracker.logMetrics(evalRun, { 'tar_at_far_1e-4': 90 + lr });
    }
    const { comparison } = await loadComparison(new FileStore(root), { experiment: 'demo' });
    expect(comparison.runs.map((r) => r.runName).sort()).toEqual(['pipeline lr=0.1 / eval', 'pipeline lr=0.2 / eval']);
    expect(comparison.differingParams).toEqual(['train.lr']);
    expect(comparison.runs[0].params).toMatchObject({ method: 'facecoresetnet', 'eval.fars': '[0.0001]' });
  });

  test('selection errors are clear', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-cmp-'));
    await evaluatedRuns(root);
    await expect(loadComparison(new FileStore(root), { experiment: 'nope' })).rejects.toThrow(/no experiment named 'nope'/);
    await expect(loadComparison(new FileStore(root), { experiment: 'demo', runIds: ['abc123'] })).rejects.toThrow(/has no run abc123/);
    await expect(loadComparison(new FileStore(root), {})).rejects.toThrow(/--experiment/);
  });

  test('roc.json shapes and a mismatched one', () => {
    expect(rocCurvesFromJson({ fpr: [0, 1], tpr: [0, 1] }, 'r')).toEqual([{ label: 'r', fpr: [0, 1], tpr: [0, 1] }]);
    expect(rocCurvesFromJson({ mean: { fpr: [0], tpr: [0] }, norm: { fpr: [1], tpr: [1] } }, 'r').map((c) => c.label)).toEqual(['r mean', 'r norm']);
    expect(() => rocCurvesFromJson({ fpr: [0, 1], tpr: [0] }, 'r', 'x/roc.json')).toThrow('x/roc.json: fpr has 2 values but tpr has 1');
    expect(() => rocCurvesFromJson({ nothing: 1 }, 'r')).toThrow(/no fpr\/tpr arrays/);
    expect(compareRuns([]).differingParams).toEqual([]);
  });
});
