/** Demo data for experiments with `data.synth`: generated once, regenerated only when its settings or the generator's version change. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateSynthDataset, resolveSynthOptions, SYNTH_GENERATOR_VERSION, SYNTH_MANIFEST } from '@facecoreset/data';
import type { ExperimentConfig } from '../config';
import { resolveWorkspacePath } from '../config';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { stable } = require('../../nx/stage-inputs.js') as { stable(v: unknown): string };

/**
 * Generates the data unless `<out>/synth.json` records the same resolved options and generator
 * version (data drawn by an older generator differs from what the options give now). The data is not an
 * Nx output on purpose: Nx would restore it from the cache and undo a user's edit of a raw file,
 * which must instead invalidate ingest (through the raw-input fingerprints).
 */
export async function ensureDemoData(config: ExperimentConfig, log: (l: string) => void): Promise<void> {
  const synth = config.data.synth;
  if (!synth) return;
  const out = resolveWorkspacePath(synth.out);
  const wanted = resolveSynthOptions({ ...synth.options, seed: synth.seed });
  try {
    const have = JSON.parse(fs.readFileSync(path.join(out, SYNTH_MANIFEST), 'utf8'));
    if (stable(have.options) === stable(wanted) && have.generatorVersion === SYNTH_GENERATOR_VERSION) {
      log(`demo data in ${synth.out} matches the config; not regenerated`);
      return;
    }
    if (have.generatorVersion !== SYNTH_GENERATOR_VERSION) log(`demo data in ${synth.out} was drawn by generator version ${have.generatorVersion ?? 1}, this is version ${SYNTH_GENERATOR_VERSION}`);
  } catch {
    // absent or unreadable: generate
  }
  log(`generating demo data into ${synth.out} (seed ${synth.seed})`);
  const manifest = await generateSynthDataset(out, wanted as unknown as Record<string, unknown>);
  log(`demo data: ${manifest.train.images} training images of ${manifest.train.identities} identities; IJB ${manifest.ijb.templates} templates, ${manifest.ijb.images} images, ${manifest.ijb.pairs.genuine + manifest.ijb.pairs.impostor} pairs`);
}
