/**
 * `fcn synth`: writes the demo dataset (see generate.ts for the layout). Returns the exit code;
 * bad flags throw UsageError (exit 2 at the top level).
 */
import { parseArgs } from 'node:util';
import { UsageError } from '@facecoreset/common';
import { DEFAULT_SYNTH_OPTIONS, generateSynthDataset } from './generate';

const d = DEFAULT_SYNTH_OPTIONS;

export const SYNTH_USAGE = `Usage: fcn synth --out <dir> [options]

Writes a demo dataset in the real formats, deterministically from the seed:
  <dir>/train/train.rec, train.idx, property   RecordIO training set (insightface layout), 112x112 JPEG faces
  <dir>/ijb/<IJBB|IJBC>/meta, loose_crop      IJB-style benchmark, identities disjoint from training
  <dir>/ground_truth/*.csv                    per-image degradation severities and quality, templates
  <dir>/synth.json                            options, counts, summaries

Options:
  --out <dir>                    output folder (replaced only when complete; a non-empty folder
                                 that is not a synth output is refused)
  --seed <n>                     random seed (default ${d.seed})
  --identities <n>               training identities (default ${d.identities})
  --images-per-identity <n>      mean training images per identity (default ${d.imagesPerIdentity})
  --ijb-subjects <n>             IJB subjects (default ${d.ijbSubjects})
  --templates-per-subject <n>    IJB templates per subject, >= 3 (default ${d.templatesPerSubject})
  --max-video-frames <n>         frames of the longest video clip, >= 16 (default ${d.maxVideoFrames})
  --impostor-pairs <n>           upper limit on impostor verification pairs (default ${d.impostorPairs})
  --dataset IJBB|IJBC            naming of the IJB folder and files (default ${d.dataset})
  --workers <n>                  threads that draw (default: one per core, none below 500
                                 pictures; 0 or 1: none); the output is the same for any number
  --quiet                        no progress line
  -h, --help                     this text`;

const INTEGER_FLAGS = {
  seed: 'seed',
  identities: 'identities',
  'images-per-identity': 'imagesPerIdentity',
  'ijb-subjects': 'ijbSubjects',
  'templates-per-subject': 'templatesPerSubject',
  'max-video-frames': 'maxVideoFrames',
  'impostor-pairs': 'impostorPairs',
} as const;

function parseInteger(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${flag}: expected a non-negative integer, got '${raw}'`);
  return Number(raw);
}

export async function synthMain(argv: string[], out: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        out: { type: 'string' },
        dataset: { type: 'string' },
        workers: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        ...Object.fromEntries(Object.keys(INTEGER_FLAGS).map((k) => [k, { type: 'string' as const }])),
      },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (see fcn synth --help)`);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) {
    out(SYNTH_USAGE);
    return 0;
  }
  if (typeof v.out !== 'string' || v.out === '') throw new UsageError('--out <dir> is required (see fcn synth --help)');
  const options: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(INTEGER_FLAGS)) {
    const raw = v[flag];
    if (typeof raw === 'string') options[key] = parseInteger(flag, raw);
  }
  if (typeof v.dataset === 'string') options.dataset = v.dataset;
  const started = Date.now();
  const workers = typeof v.workers === 'string' ? parseInteger('workers', v.workers) : undefined;
  const m = await generateSynthDataset(v.out, options, { progress: v.quiet ? false : undefined, workers });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  out(
    `synth: wrote ${v.out} in ${seconds}s — train: ${m.train.images} images of ${m.train.identities} identities; ` +
      `${m.ijb.dataset}: ${m.ijb.images} images (${m.ijb.stills} stills, ${m.ijb.frames} video frames), ${m.ijb.templates} templates ` +
      `(sizes ${m.ijb.templateSize.min}..${m.ijb.templateSize.max}), ${m.ijb.pairs.genuine} genuine + ${m.ijb.pairs.impostor} impostor pairs`,
  );
  return 0;
}
