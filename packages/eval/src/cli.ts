/**
 * `fcn eval ijb`: IJB-B/C 1:1 verification (and 1:N identification when the lists exist) of one or
 * more aggregators, from the official layout + features pickle or from our ingested tables.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '@facecoreset/common';
import { IJB_DATASETS, type IjbDataset } from '@facecoreset/data';
import { meanAggregator, normWeightedAggregator, type Aggregator } from './lib/aggregator';
import { OFFICIAL_FARS } from './lib/roc';
import { loadOfficialInputs, type EvalInputs } from './io/inputs';
import { loadTableInputs } from './io/tables';
import { loadFaceCoresetNetAggregator } from './io/checkpoint';
import { evaluateMethod, type MethodRun, type Protocol } from './run';
import { summaryTables, writeEvalOutputs } from './report/outputs';

export const EVAL_IJB_USAGE = `Usage: fcn eval ijb --ijb-root <root> --dataset IJBB|IJBC
         (--features-pickle <official pickle> | --features <features table dir>)
         [--checkpoint <FaceCoresetNet .ckpt>] [--method mean,norm-weighted,facecoresetnet]
         [--protocol set|media] [--far-list 1e-6,1e-5,...] [--flip] [--faceness]
         [--no-identification] [--quiet] --out <dir>

Evaluates IJB-B/C 1:1 verification (TAR@FAR official and strict, ROC, AUC) and, when the 1:N
lists are present, identification (rank-1/5/10, TPIR@FPIR; concatenated and corrected methods).

  --ijb-root          folder holding <IJBB|IJBC>/meta/ (the official layout)
  --features-pickle   the official features pickle (dict img_feats, norms, faceness_scores)
  --features          our features table (folder of Parquet parts: row, view, embedding, norm)
  --checkpoint        FaceCoresetNet checkpoint (official Lightning .ckpt or ours); implies --method facecoresetnet
  --method            one or more of mean, norm-weighted, facecoresetnet (comma separated; curves
                      are overlaid). Default: facecoresetnet with --checkpoint, else mean,norm-weighted
  --protocol          set (default; the official FaceCoresetNet path: each template is one set) or
                      media (insightface style: average per media, sum per template)
  --far-list          FAR targets (default 1e-6,1e-5,1e-4,1e-3,1e-2,1e-1)
  --flip              media protocol: fuse the flipped view (features table view 1)
  --faceness          media protocol: weight rows by faceness (mean baselines only)
  --out               output folder: results.json, results.md, roc.svg, roc.png, coresets.json, report.html`;

const METHODS = ['mean', 'norm-weighted', 'facecoresetnet'] as const;
type Method = (typeof METHODS)[number];

export interface EvalIjbArgs {
  ijbRoot: string;
  dataset: IjbDataset;
  featuresPickle?: string;
  features?: string;
  checkpoint?: string;
  methods: Method[];
  protocol: Protocol;
  fars: number[];
  flip: boolean;
  faceness: boolean;
  identification: boolean;
  quiet: boolean;
  out: string;
}

export function parseEvalIjbArgs(argv: string[]): EvalIjbArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'ijb-root': { type: 'string' },
        dataset: { type: 'string' },
        'features-pickle': { type: 'string' },
        features: { type: 'string' },
        checkpoint: { type: 'string' },
        method: { type: 'string' },
        protocol: { type: 'string', default: 'set' },
        'far-list': { type: 'string' },
        flip: { type: 'boolean', default: false },
        faceness: { type: 'boolean', default: false },
        'no-identification': { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        out: { type: 'string' },
      },
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${EVAL_IJB_USAGE}`);
  }
  const need = (name: string, v: string | undefined): string => {
    if (!v) throw new UsageError(`--${name} is required\n\n${EVAL_IJB_USAGE}`);
    return v;
  };
  const dataset = need('dataset', values.dataset).toUpperCase();
  if (!(IJB_DATASETS as readonly string[]).includes(dataset)) throw new UsageError(`--dataset must be IJBB or IJBC, got '${values.dataset}'`);
  if (!values['features-pickle'] === !values.features) throw new UsageError('give exactly one of --features-pickle and --features');
  const methods = (values.method ?? (values.checkpoint ? 'facecoresetnet' : 'mean,norm-weighted')).split(',').map((m) => m.trim());
  for (const m of methods) if (!(METHODS as readonly string[]).includes(m)) throw new UsageError(`unknown --method '${m}'; expected ${METHODS.join(', ')}`);
  if (new Set(methods).size !== methods.length) throw new UsageError(`--method lists a method twice: ${values.method}`);
  if (methods.includes('facecoresetnet') && !values.checkpoint) throw new UsageError('--method facecoresetnet needs --checkpoint <FaceCoresetNet .ckpt>');
  if (values.protocol !== 'set' && values.protocol !== 'media') throw new UsageError(`--protocol must be set or media, got '${values.protocol}'`);
  const fars = values['far-list'] ? values['far-list'].split(',').map((s) => Number(s.trim())) : [...OFFICIAL_FARS];
  for (const f of fars) if (!(f > 0 && f <= 1)) throw new UsageError(`--far-list: every FAR must be in (0, 1], got '${values['far-list']}'`);
  if (values.protocol === 'set' && (values.flip || values.faceness)) throw new UsageError('--flip and --faceness apply to --protocol media');
  return {
    ijbRoot: need('ijb-root', values['ijb-root']),
    dataset: dataset as IjbDataset,
    featuresPickle: values['features-pickle'],
    features: values.features,
    checkpoint: values.checkpoint,
    methods: methods as Method[],
    protocol: values.protocol,
    fars,
    flip: values.flip,
    faceness: values.faceness,
    identification: !values['no-identification'],
    quiet: values.quiet,
    out: need('out', values.out),
  };
}

async function aggregatorFor(method: Method, args: EvalIjbArgs): Promise<Aggregator> {
  if (method === 'mean') return meanAggregator;
  if (method === 'norm-weighted') return normWeightedAggregator;
  return loadFaceCoresetNetAggregator(args.checkpoint as string);
}

/** Runs `fcn eval ijb`; returns the exit code. */
export async function evalIjbCli(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  const args = parseEvalIjbArgs(argv);
  const t0 = process.hrtime.bigint();
  const inputs: EvalInputs = args.featuresPickle
    ? await loadOfficialInputs(args.ijbRoot, args.dataset, args.featuresPickle, { identification: args.identification })
    : await loadTableInputs(args.ijbRoot, args.dataset, args.features as string, { identification: args.identification });
  const loadSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const runs: MethodRun[] = [];
  for (const method of args.methods) {
    const aggregator = await aggregatorFor(method, args);
    try {
      runs.push(await evaluateMethod(inputs, aggregator, { protocol: args.protocol, fars: args.fars, flip: args.flip, facenessWeighting: args.faceness, identification: args.identification, progress: !args.quiet }));
    } finally {
      await (aggregator as Aggregator & { close?: () => Promise<void> }).close?.();
    }
  }
  const config = {
    ijb_root: path.resolve(args.ijbRoot),
    dataset: args.dataset,
    features_pickle: args.featuresPickle ? path.resolve(args.featuresPickle) : undefined,
    features: args.features ? path.resolve(args.features) : undefined,
    checkpoint: args.checkpoint ? path.resolve(args.checkpoint) : undefined,
    methods: args.methods,
    protocol: args.protocol,
    far_list: args.fars,
    flip: args.flip,
    faceness_weighting: args.faceness,
    identification: args.identification,
    facecoresetnet_selection: 'zero-noise (argmax) farthest-point sampling',
  };
  const { fonts } = await writeEvalOutputs(args.out, runs, { dataset: args.dataset, config, inputs: inputs.fingerprints, images: inputs.images, templateIds: inputs.index.templateIds, loadSeconds });
  out(summaryTables(runs, args.dataset));
  out('');
  out(`load ${loadSeconds.toFixed(1)} s; ` + runs.map((r) => `${r.method}: aggregate ${r.timings.aggregate.toFixed(1)} s, score ${r.timings.score.toFixed(1)} s, ROC ${r.timings.roc.toFixed(1)} s`).join('; '));
  out(`wrote ${path.join(args.out, 'results.json')}, results.md, roc.svg, roc.png${fonts ? '' : ' (no system fonts: PNG without text)'}, coresets.json, report.html`);
  return 0;
}
