/**
 * The pipeline's incremental behaviour, end to end through Nx on a tiny generated experiment:
 * a second run is all cache hits; a training change reruns train/eval/report only; an eval change
 * reruns eval/report only; touching a raw input reruns ingest and everything downstream; deleting
 * artifacts/ restores them from the cache without recomputing anything.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tinyConfig, TINY_EXPERIMENT } from './tiny-config';

const WORKSPACE = path.resolve(__dirname, '../../..');
const EXPERIMENT = TINY_EXPERIMENT;
const ARTIFACTS = path.join(WORKSPACE, 'artifacts', EXPERIMENT);
const STAGES = ['ingest-train', 'ingest-ijb', 'backbone', 'extract-train-shard-0', 'extract-train-shard-1', 'extract-train', 'extract-ijb', 'train', 'eval', 'report'];

function finishedAt(): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const s of STAGES) {
    const f = path.join(ARTIFACTS, s, 'manifest.json');
    out[s] = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')).finishedAt : null;
  }
  return out;
}

function changed(before: Record<string, string | null>, after: Record<string, string | null>): string[] {
  return STAGES.filter((s) => before[s] !== after[s]);
}

describe('nx run pipeline:full, incrementally', () => {
  let tmp: string;
  let configDir: string;
  let config: Record<string, any>;

  const writeConfig = () => fs.writeFileSync(path.join(configDir, `${EXPERIMENT}.json`), JSON.stringify(config, null, 2));
  const runFull = () => {
    const r = spawnSync('npx', ['nx', 'run', 'pipeline:full', '--outputStyle=stream'], {
      cwd: WORKSPACE,
      env: { ...process.env, FCN_EXPERIMENT: EXPERIMENT, FCN_CONFIG_DIR: configDir, FCN_BACKEND: 'wasm', NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', MLFLOW_TRACKING_URI: '' },
      encoding: 'utf8',
      timeout: 600_000,
    });
    const output = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0) throw new Error(`nx run pipeline:full failed (${r.status}):\n${output.slice(-4000)}`);
    return output;
  };

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-incremental-'));
    configDir = path.join(tmp, 'configs');
    fs.mkdirSync(configDir);
    config = tinyConfig(path.join(tmp, 'data'), path.join(tmp, 'mlruns'));
    writeConfig();
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  });

  let first: Record<string, string | null>;

  it('runs every stage the first time and prints the TAR@FAR table', () => {
    const out = runFull();
    first = finishedAt();
    for (const s of STAGES) expect(first[s]).not.toBeNull();
    expect(out).toMatch(/TAR@FAR=1e-4/);
    expect(fs.existsSync(path.join(ARTIFACTS, 'eval', 'facecoresetnet', 'results.json'))).toBe(true);
    expect(fs.existsSync(path.join(ARTIFACTS, 'eval', 'mean', 'results.json'))).toBe(true);
    expect(fs.existsSync(path.join(ARTIFACTS, 'report', 'index.html'))).toBe(true);
    // Generated data: the backbone's norms against the benchmark's known image quality.
    const faces = fs.readFileSync(path.join(tmp, 'data', 'ijb', 'IJBB', 'meta', 'ijbb_face_tid_mid.txt'), 'utf8').trim().split('\n').length;
    expect(out).toContain(`backbone feature norm vs the generator's image quality on the benchmark's ${faces} images (6 unseen subjects)`);
    const normQuality = JSON.parse(fs.readFileSync(path.join(ARTIFACTS, 'eval', 'backbone-norm-quality.json'), 'utf8'));
    expect(normQuality).toMatchObject({ dataset: 'IJBB', images: faces, subjects: 6 });
    expect(normQuality.stills.images + normQuality.frames.images).toBe(faces);
  });

  it('serves every stage from the cache the second time', () => {
    const out = runFull();
    expect(changed(first, finishedAt())).toEqual([]);
    // The final summary repeats the benchmark's norm-quality figure from the cached eval outputs.
    expect(out).toMatch(/backbone feature norm vs the generator's image quality on the benchmark's \d+ images \(6 unseen subjects\): Spearman/);
  });

  it('reruns only train, eval and report after a training change', () => {
    const before = finishedAt();
    config.train = { ...config.train, lr: 2e-4 };
    writeConfig();
    runFull();
    expect(changed(before, finishedAt())).toEqual(['train', 'eval', 'report']);
  });

  it('reruns only eval and report after an eval change', () => {
    const before = finishedAt();
    config.eval = { ...config.eval, farList: [1e-3, 1e-2, 1e-1] };
    writeConfig();
    runFull();
    expect(changed(before, finishedAt())).toEqual(['eval', 'report']);
  });

  it('reruns ingest and everything downstream when a raw input file changes', () => {
    const before = finishedAt();
    const meta = path.join(tmp, 'data', 'ijb', 'IJBB', 'meta', 'ijbb_template_pair_label.txt');
    const lines = fs.readFileSync(meta, 'utf8').trimEnd().split('\n');
    fs.writeFileSync(meta, lines.slice(0, -1).join('\n') + '\n'); // one pair fewer
    runFull();
    expect(changed(before, finishedAt())).toEqual(['ingest-ijb', 'extract-ijb', 'eval', 'report']);
  });

  it('restores deleted artifacts from the cache without recomputing', () => {
    const before = finishedAt();
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    runFull();
    expect(changed(before, finishedAt())).toEqual([]);
    expect(fs.existsSync(path.join(ARTIFACTS, 'report', 'index.html'))).toBe(true);
  });
});
