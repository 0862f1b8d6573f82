import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { describeFailure, UsageError } from '@facecoreset/common';
import { ingestFolderMain, ingestIjbMain, ingestRecordioMain, type CliIo } from '../src/cli';
import { tempDirs } from './helpers';

const FIX = path.resolve(__dirname, 'fixtures');
const MINI = path.resolve(__dirname, '../../../../shared/fixtures/reference/ijb_mini');
const tmp = tempDirs('cli');

function capture(): { io: CliIo; out: string[]; progress: string[] } {
  const out: string[] = [];
  const progress: string[] = [];
  const progressStream = new Writable({
    write(chunk, _enc, cb) {
      progress.push(String(chunk));
      cb();
    },
  });
  return { io: { out: (s) => out.push(s), progressStream, progressIntervalMs: 0 }, out, progress };
}

async function exitOf(p: Promise<number>): Promise<{ code: number; line: string }> {
  try {
    return { code: await p, line: '' };
  } catch (e) {
    const f = describeFailure(e);
    return { code: f.exitCode, line: f.line };
  }
}

describe('ingest CLI functions', () => {
  test('recordio: summary line, progress line with records, MB/s and ETA', async () => {
    const c = capture();
    const out = path.join(tmp(), 'out');
    expect(await ingestRecordioMain([path.join(FIX, 'recordio/insightface'), '--out', out], c.io)).toBe(0);
    expect(c.out).toEqual([expect.stringMatching(/^wrote .*out: images 7 rows, identities 3 rows \(0\.0 MB\)$/)]);
    expect(c.progress.join('')).toMatch(/ingest recordio: 11\/11 records, [\d.]+ records\/s, [\d.]+ MB\/s, ETA 0s/);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')).options.compression).toBe('none');
  });

  test('folder and ijb run; --quiet silences progress', async () => {
    const c = capture();
    const parent = tmp();
    const root = path.join(parent, 'faces');
    fs.mkdirSync(path.join(root, 'id0'), { recursive: true });
    fs.copyFileSync(path.join(FIX, '../fixtures-gen/tiny-b.jpg'), path.join(root, 'id0/a.jpg'));
    expect(await ingestFolderMain([root, '--out', path.join(parent, 'o1'), '--quiet'], c.io)).toBe(0);
    expect(await ingestIjbMain([path.join(MINI, 'ijb_root'), '--dataset', 'IJBB', '--features-pickle', path.join(MINI, 'IJBB_ir101_webface4m.pickle'), '--out', path.join(parent, 'o2'), '--compression', 'snappy', '--quiet'], c.io)).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(parent, 'o2/manifest.json'), 'utf8')).options.compression).toBe('snappy');
    expect(c.progress).toEqual([]);
    expect(c.out[1]).toMatch(/faces 885 rows, pairs 1500 rows, gallery_S1 15 rows, gallery_S2 15 rows, probe_mixed 71 rows, features 885 rows/);
  });

  test('bad usage and bad input: exit code 2 with a one-line reason', async () => {
    const c = capture();
    const cases: Array<[Promise<number>, RegExp]> = [
      [ingestRecordioMain([path.join(FIX, 'recordio/insightface')], c.io), /^--out <dir> is required$/],
      [ingestRecordioMain(['a', 'b', '--out', 'x'], c.io), /^expected one input path, got a b/],
      [ingestRecordioMain(['a', '--out', 'x', '--bogus'], c.io), /Unknown option '--bogus'.*See fcn ingest recordio --help/],
      [ingestIjbMain([MINI, '--dataset', 'IJBB', '--out', 'x', '--compression', 'lz4'], c.io), /^--compression: expected zstd, snappy or none, got lz4$/],
      [ingestIjbMain([MINI, '--dataset', 'IJBX', '--out', 'x'], c.io), /^--dataset: expected IJBB or IJBC, got IJBX$/],
      [ingestRecordioMain(['/nonexistent/dir', '--out', 'x'], c.io), /^\/nonexistent\/dir: not found; expected a folder with train\.rec and train\.idx/],
      [ingestRecordioMain([path.join(FIX, 'recordio/insightface'), '--out', 'x', '--part-mb', '0'], c.io), /^--part-mb: expected a positive number, got 0$/],
      [ingestRecordioMain([path.join(FIX, 'recordio/insightface'), '--out', 'x', '--part-mb', '-1'], c.io), /^Option '--part-mb' argument is ambiguous\. .*See fcn ingest recordio --help$/],
    ];
    for (const [p, pattern] of cases) {
      const r = await exitOf(p);
      expect(r.code).toBe(2);
      expect(r.line).toMatch(pattern);
      expect(r.line).not.toContain('\n');
    }
    expect(new UsageError('x').exitCode).toBe(2);
  });
});
