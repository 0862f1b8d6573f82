/**
 * A training run killed with SIGKILL in the middle of an epoch and resumed with --resume ends with
 * exactly the weights, buffers and optimiser moments of an uninterrupted run with the same seed
 * (wasm backend), and the same per-step losses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeTrainCheckpoint, type TrainCheckpoint } from '../src/lib/checkpoint';
import { CheckpointStore } from '../src/lib/checkpoint-store';
import { runAggregatorTraining } from '../src/run-aggregator';
import { writeSyntheticTables } from './helpers/synthetic-tables';

const REPO = path.resolve(__dirname, '../../..');
const FCN = path.join(REPO, 'packages/pipeline/bin/fcn.js');

function fcn(args: string[]): { child: ChildProcess; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, [FCN, 'train', 'aggregator', ...args], { cwd: REPO, env: { ...process.env, FCN_BACKEND: 'wasm' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, exit };
}

function latest(out: string): TrainCheckpoint {
  const c = new CheckpointStore(out, 100).latest()!;
  return decodeTrainCheckpoint(fs.readFileSync(c.path), c.path);
}

/** (step, loss, grad norm, γ) of every step in a run's metrics.jsonl. */
function stepRecords(out: string): number[][] {
  return fs
    .readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => 'loss' in r)
    .map((r) => [r.step, r.loss, r.grad_norm, r.gamma]);
}

describe('resume after SIGKILL', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-resume-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('continues bit-identically from a checkpoint taken mid-epoch', async () => {
    const tables = writeSyntheticTables(dir, { identities: 16, minImages: 2, maxImages: 5, views: 3, dim: 32, seed: 2 });
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(
      config,
      JSON.stringify({ seed: 5, batch_size: 4, max_template_size: 6, epochs: 3, batches_per_epoch_fraction: 1, lr: 1e-3, gamma_lr: 1e-2, lr_milestones: [1], attention_heads: 4, checkpoint: { every_steps: 2, keep_last: 100 }, validation: { identity_fraction: 0.2, max_template_size: 6 } }),
    );
    const args = (out: string) => ['--features', tables.featuresDir, '--images', tables.imagesDir, '--config', config, '--out', out, '--backend', 'wasm'];

    // The uninterrupted reference (in this process, same backend).
    const refOut = path.join(dir, 'reference');
    const ref = await runAggregatorTraining({ features: tables.featuresDir, images: tables.imagesDir, configFile: config, out: refOut, backend: 'wasm', log: () => {}, progress: null });
    expect(ref.finished).toBe(true);
    expect(ref.stepsPerEpoch).toBeGreaterThanOrEqual(6);

    // The interrupted run: SIGKILL as soon as its second checkpoint (step 4, inside epoch 0) exists.
    const out = path.join(dir, 'killed');
    const killed = fcn(args(out));
    const second = path.join(out, 'checkpoints', CheckpointStore.fileName(4));
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (fs.existsSync(second)) {
          clearInterval(timer);
          killed.child.kill('SIGKILL');
          resolve();
        }
      }, 5);
      killed.exit.then((r) => {
        clearInterval(timer);
        if (!fs.existsSync(second)) reject(new Error(`the run ended (code ${r.code}) before its second checkpoint:\n${r.stderr}`));
      });
    });
    expect((await killed.exit).signal).toBe('SIGKILL');
    expect(fs.existsSync(path.join(out, 'summary.json'))).toBe(false); // it really did not finish
    const atKill = latest(out);
    expect(atKill.training.position.step).toBeLessThan(ref.position.step);
    expect(atKill.training.position.batch).toBeGreaterThan(0); // mid-epoch

    // Resume and finish.
    const resumed = fcn([...args(out), '--resume']);
    const r = await resumed.exit;
    expect(r.stderr).toContain(`resuming at step ${atKill.training.position.step}`);
    expect(r.code).toBe(0);

    const a = latest(refOut);
    const b = latest(out);
    expect(b.training.position).toEqual(a.training.position);
    expect(b.training.optimizer).toEqual(a.training.optimizer);
    expect(b.training.best).toEqual(a.training.best);
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    for (const [name, t] of a.tensors) {
      const u = b.tensors.get(name)!;
      expect(u.shape).toEqual(t.shape);
      // Bit-identical, not merely close.
      expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    }
    expect(stepRecords(out)).toEqual(stepRecords(refOut));
  }, 600_000);
});
