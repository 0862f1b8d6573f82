import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../src/cli';

const FIX = path.resolve(__dirname, '../../data/test/fixtures');

describe('fcn ingest (in-process)', () => {
  async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, (s) => out.push(s), (s) => err.push(s));
    return { code, out, err };
  }

  test('ingest recordio on the fixture set writes the tables and exits 0', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-cmd-'));
    const dest = path.join(parent, 'out');
    const r = await run(['ingest', 'recordio', path.join(FIX, 'recordio/insightface'), '--out', dest, '--quiet']);
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(dest, 'images/part-00000.parquet'))).toBe(true);
    expect(fs.existsSync(path.join(dest, 'manifest.json'))).toBe(true);
    fs.rmSync(parent, { recursive: true, force: true });
  });

  test('--help prints the usage; bad input exits 2 with one line naming the command', async () => {
    const help = await run(['ingest', 'ijb', '--help']);
    expect(help.code).toBe(0);
    expect(help.out[0]).toMatch(/^Usage: fcn ingest ijb <root> --dataset IJBB\|IJBC/);
    const bad = await run(['ingest', 'folder', '/nonexistent', '--out', '/tmp/never']);
    expect(bad.code).toBe(2);
    expect(bad.err).toEqual([expect.stringMatching(/^fcn ingest folder: \/nonexistent: not a folder/)]);
  });
});
