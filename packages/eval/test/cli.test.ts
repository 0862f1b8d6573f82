import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeFailure, PyDict, readNumpyPickle, type NpyArray } from '@facecoreset/common';
import { evalIjbCli } from '../src/cli';
import { float32Array, writeNumpyDictPickleFile } from './numpy-pickle-writer';
import { IJB_MINI, REFERENCE, officialCsvRow } from './fixtures';

const root = path.join(IJB_MINI, 'ijb_root');
const pickle = path.join(IJB_MINI, 'IJBB_ir101_webface4m.pickle');

/** Runs the CLI like the top-level `fcn` does: errors become exit codes and one line. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  try {
    const code = await evalIjbCli(argv, (s) => out.push(s));
    return { code, out: out.join('\n'), err: '' };
  } catch (e) {
    const { exitCode, line } = describeFailure(e);
    return { code: exitCode, out: out.join('\n'), err: line };
  }
}

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-eval-cli-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('fcn eval ijb on the ijb_mini official layout', () => {
  it('writes results.json, results.md, ROC SVG/PNG, coresets and the HTML report; tables equal the official ones', async () => {
    const out = path.join(tmp, 'mean');
    const r = await run(['--ijb-root', root, '--dataset', 'IJBB', '--features-pickle', pickle, '--method', 'mean,norm-weighted', '--quiet', '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['coresets.json', 'report.html', 'results.json', 'results.md', 'roc.png', 'roc.svg']);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    const keys = ['1e-6', '1e-5', '1e-4', '1e-3', '1e-2', '1e-1'];
    expect(results.method).toBe('mean');
    expect(keys.map((k) => results.verification.tar_at_far[k])).toEqual(officialCsvRow('plain_mean').tars);
    expect(keys.map((k) => results.methods['norm-weighted'].verification.tar_at_far[k])).toEqual(officialCsvRow('norm_weighted_mean').tars);
    for (const k of keys) expect(results.verification.tar_at_far_strict[k]).toBeLessThanOrEqual(results.verification.tar_at_far[k]);
    expect(results.verification.roc.points).toBe(54);
    expect(results.identification.concatenated.rank1).toBeCloseTo(0.9295774647887324, 15);
    expect(results.inputs.map((f: { path: string }) => path.basename(f.path))).toEqual(expect.arrayContaining(['IJBB_ir101_webface4m.pickle', 'ijbb_face_tid_mid.txt', 'ijbb_template_pair_label.txt']));
    expect(results.inputs.find((f: { path: string }) => f.path.endsWith('.pickle')).sha256).toBe('ee21cce741675ff17e4fd6f212be8998235b1d20c752a52c3cbbdea74919fd1a');
    const png = fs.readFileSync(path.join(out, 'roc.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('<svg');
    expect(r.out).toContain('63.91');
  });

  it('--checkpoint: FaceCoresetNet beside a baseline, the zero-noise official table, coresets per template', async () => {
    const out = path.join(tmp, 'fcn');
    const ckpt = path.join(REFERENCE, 'aggregator', 'facecoresetnet_random.ckpt');
    const r = await run(['--ijb-root', root, '--dataset', 'IJBB', '--features-pickle', pickle, '--checkpoint', ckpt, '--method', 'facecoresetnet,norm-weighted', '--quiet', '--out', out]);
    expect(r.err).toBe('');
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(results.method).toBe('facecoresetnet');
    expect(['1e-6', '1e-5', '1e-4', '1e-3', '1e-2', '1e-1'].map((k) => results.verification.tar_at_far[k])).toEqual(officialCsvRow('facecoresetnet_random_zero_noise').tars);
    const coresets = JSON.parse(fs.readFileSync(path.join(out, 'coresets.json'), 'utf8'));
    expect(Object.keys(coresets)).toEqual(['facecoresetnet']);
    expect(coresets.facecoresetnet).toHaveLength(101);
    expect(coresets.facecoresetnet[0]).toEqual({ template_id: 81, rows: expect.any(Array), images: expect.any(Array) });
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('Coresets chosen by facecoresetnet');
  }, 120_000);

  it('exit 2 with a usage message for bad flags', async () => {
    expect((await run(['--dataset', 'IJBB'])).code).toBe(2);
    expect((await run(['--ijb-root', root, '--dataset', 'IJBX', '--features-pickle', pickle, '--out', tmp])).err).toMatch(/--dataset must be IJBB or IJBC/);
    expect((await run(['--ijb-root', root, '--dataset', 'IJBB', '--features-pickle', pickle, '--method', 'facecoresetnet', '--out', tmp])).err).toMatch(/needs --checkpoint/);
    expect((await run(['--ijb-root', root, '--dataset', 'IJBB', '--features-pickle', pickle, '--protocol', 'set', '--flip', '--out', tmp])).err).toMatch(/apply to --protocol media/);
  });
});

describe('fcn eval ijb refuses bad input with one line naming the file (exit 2)', () => {
  function copyRoot(edit: (meta: string) => void): string {
    const dst = fs.mkdtempSync(path.join(tmp, 'root-'));
    fs.cpSync(root, dst, { recursive: true });
    fs.chmodSync(path.join(dst, 'IJBB', 'meta'), 0o755);
    for (const f of fs.readdirSync(path.join(dst, 'IJBB', 'meta'))) fs.chmodSync(path.join(dst, 'IJBB', 'meta', f), 0o644);
    edit(path.join(dst, 'IJBB', 'meta'));
    return dst;
  }
  const arrays = (): Map<string, NpyArray> => readNumpyPickle(fs.readFileSync(pickle)) as PyDict as Map<string, NpyArray>;

  it('a pair naming a template without faces (the official code scores it against another template)', async () => {
    const bad = copyRoot((meta) => fs.appendFileSync(path.join(meta, 'ijbb_template_pair_label.txt'), '99999 81 0\n'));
    const r = await run(['--ijb-root', bad, '--dataset', 'IJBB', '--features-pickle', pickle, '--quiet', '--out', path.join(tmp, 'x')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/ijbb_template_pair_label.txt:line 1501: pair names template 99999/);
    expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false);
  });

  it('a features pickle whose row count differs from the face list', async () => {
    const a = arrays();
    const file = path.join(tmp, 'short.pickle');
    const feats = a.get('img_feats') as NpyArray;
    writeNumpyDictPickleFile(file, [
      ['img_feats', float32Array((feats.data as Float32Array).subarray(0, 884 * 512), [884, 512])],
      ['norms', float32Array((a.get('norms') as NpyArray).data.subarray(0, 884) as Float32Array, [884, 1])],
    ]);
    const r = await run(['--ijb-root', root, '--dataset', 'IJBB', '--features-pickle', file, '--quiet', '--out', path.join(tmp, 'x')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/short.pickle: has 884 feature rows but .*ijbb_face_tid_mid.txt lists 885 faces/);
  });

  it('NaN features', async () => {
    const a = arrays();
    const feats = Float32Array.from((a.get('img_feats') as NpyArray).data as Float32Array);
    feats[17 * 512 + 3] = NaN;
    const file = path.join(tmp, 'nan.pickle');
    writeNumpyDictPickleFile(file, [
      ['img_feats', float32Array(feats, [885, 512])],
      ['norms', float32Array((a.get('norms') as NpyArray).data as Float32Array, [885, 1])],
    ]);
    const r = await run(['--ijb-root', root, '--dataset', 'IJBB', '--features-pickle', file, '--quiet', '--out', path.join(tmp, 'x')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/nan.pickle:row 17: .*NaN/);
  });

  it('a 1:N template without faces (an empty template)', async () => {
    const bad = copyRoot((meta) => fs.appendFileSync(path.join(meta, 'ijbb_1N_probe_mixed.csv'), '424242,143,img/none.jpg\n'));
    const r = await run(['--ijb-root', bad, '--dataset', 'IJBB', '--features-pickle', pickle, '--quiet', '--out', path.join(tmp, 'x')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/ijbb_1N_probe_mixed.csv.*template 424242/);
  });
});
