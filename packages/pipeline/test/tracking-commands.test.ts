import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeMlflowServer, FileStore, FileTracker, readTargetState } from '@facecoreset/tracking';
import { compareCommand } from '../src/commands/compare';
import { mlflowSyncCommand, type CommandIo } from '../src/commands/mlflow';

function io(env: NodeJS.ProcessEnv = {}): CommandIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), env };
}

async function demoStore(root: string): Promise<{ a: string; b: string }> {
  const tracker = new FileTracker(new FileStore(root), 'demo');
  const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-art-'));
  const run = async (name: string, lr: number, tar: number): Promise<string> => {
    const id = await tracker.startRun({ name });
    await tracker.logParams(id, { train: { lr }, seed: 1 });
    await tracker.logMetrics(id, { 'tar_at_far_1e-4': tar, 'tar_at_far_1e-3': tar + 2 });
    fs.writeFileSync(path.join(artifacts, 'roc.json'), JSON.stringify({ fpr: [0, 1e-4, 1e-2, 1], tpr: [0, tar / 100, 0.97, 1] }));
    await tracker.logArtifact(id, path.join(artifacts, 'roc.json'), 'eval/facecoresetnet');
    await tracker.endRun(id);
    return id;
  };
  return { a: await run('baseline', 0.1, 90.5), b: await run('lower-lr', 0.01, 92.75) };
}

describe('fcn mlflow sync / fcn compare', () => {
  test('sync pushes the store once; a second sync changes nothing on the server', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-cli-'));
    const { a } = await demoStore(root);
    const server = new FakeMlflowServer();
    await server.start();
    try {
      const first = io();
      expect(await mlflowSyncCommand(first).run(['--to', server.url, '--mlruns', root])).toBe(0);
      expect(first.lines).toEqual([`mlflow sync ${root} -> ${server.url}: 2 created, 0 updated, 0 unchanged, 0 busy elsewhere, 0 failed, 0 not tried`]);
      const second = io({ MLFLOW_TRACKING_URI: server.url });
      expect(await mlflowSyncCommand(second).run(['--mlruns', root])).toBe(0);
      expect(second.lines[0]).toContain('0 created, 0 updated, 2 unchanged');
      expect(server.runs.size).toBe(2);
      expect(readTargetState(new FileStore(root).runDir(a).dir, server.url)?.remoteRunId).toBeDefined();
    } finally {
      await server.stop();
    }
  });

  test('sync to a server that is down: exit 1, the reason, runs kept and sent by the next sync', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-cli-'));
    await demoStore(root);
    const server = new FakeMlflowServer();
    const url = await server.start();
    await server.stop();
    const down = io();
    expect(await mlflowSyncCommand(down).run(['--to', url, '--mlruns', root, '--retries', '0'])).toBe(1);
    expect(down.lines[0]).toContain('0 created, 0 updated, 0 unchanged, 0 busy elsewhere, 1 failed, 1 not tried');
    expect(down.errors.join('\n')).toMatch(/ECONNREFUSED/);
    expect(down.errors.join('\n')).toContain(`1 run(s) wait in ${root} for the next sync`);
    await server.start();
    try {
      const later = io();
      expect(await mlflowSyncCommand(later).run(['--to', url, '--mlruns', root])).toBe(0);
      expect(later.lines[0]).toContain('2 created');
    } finally {
      await server.stop();
    }
    await expect(mlflowSyncCommand(io()).run(['--to', 'sqlite:///x.db', '--mlruns', root])).rejects.toThrow(/http\(s\)/);
    await expect(mlflowSyncCommand(io()).run(['--mlruns', root])).rejects.toThrow(/--to/);
  });

  test('compare prints differing params and TAR@FAR, writes compare.md/json and the ROC overlay', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-cli-'));
    const { a, b } = await demoStore(root);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-cmp-out-'));
    const cli = io();
    expect(await compareCommand(cli).run(['--experiment', 'demo', '--store', root, '--out', out])).toBe(0);
    const text = cli.lines.join('\n');
    expect(text).toMatch(/TAR@1e-4\s+TAR@1e-3/);
    expect(text).toContain('92.75');
    expect(text).toMatch(/train\.lr/);
    expect(text).not.toMatch(/^seed/m);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'compare.json'), 'utf8'));
    expect(json.differingParams).toEqual(['train.lr']);
    expect(json.runs.map((r: { runId: string }) => r.runId).sort()).toEqual([a, b].sort());
    const svg = fs.readFileSync(path.join(out, 'roc-overlay.svg'), 'utf8');
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(fs.readFileSync(path.join(out, 'compare.md'), 'utf8')).toContain('| train.lr');
    if (fs.existsSync(path.join(out, 'roc-overlay.png'))) expect(fs.readFileSync(path.join(out, 'roc-overlay.png')).subarray(1, 4).toString()).toBe('PNG');
    const byId = io();
    expect(await compareCommand(byId).run(['--runs', `${a}`, '--store', root, '--out', out])).toBe(0);
    expect(byId.lines.join('\n')).toContain('90.5');
  });
});
