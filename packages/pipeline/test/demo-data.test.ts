import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SYNTH_GENERATOR_VERSION, SYNTH_MANIFEST } from '@facecoreset/data';
import type { ExperimentConfig } from '../src/config';
import { ensureDemoData } from '../src/stages/synth';

describe('ensureDemoData', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-demo-data-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('generates once, keeps data of the same options and generator version, redraws data of an older generator', async () => {
    const out = path.join(dir, 'demo');
    const config = { data: { synth: { out, seed: 2, options: { identities: 3, imagesPerIdentity: 2, ijbSubjects: 2, templatesPerSubject: 3, maxVideoFrames: 16, impostorPairs: 10 } } } } as unknown as ExperimentConfig;
    const run = async () => {
      const lines: string[] = [];
      await ensureDemoData(config, (l) => lines.push(l));
      return lines.join('\n');
    };
    expect(await run()).toMatch(/generating demo data/);
    const manifestFile = path.join(out, SYNTH_MANIFEST);
    expect(JSON.parse(fs.readFileSync(manifestFile, 'utf8')).generatorVersion).toBe(SYNTH_GENERATOR_VERSION);
    expect(await run()).toMatch(/matches the config; not regenerated/);

    // Data written before the generator recorded its version.
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    delete manifest.generatorVersion;
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    const third = await run();
    expect(third).toMatch(new RegExp(`drawn by generator version 1, this is version ${SYNTH_GENERATOR_VERSION}`));
    expect(third).toMatch(/generating demo data/);
    expect(JSON.parse(fs.readFileSync(manifestFile, 'utf8')).generatorVersion).toBe(SYNTH_GENERATOR_VERSION);
  }, 60_000);
});
