/**
 * eval: IJB verification (and identification) of every configured method, one output folder per
 * method: eval/<method>/ for one dataset, eval/<DATASET>/<method>/ for several.
 */
import * as path from 'node:path';
import { writeJsonAtomic } from '@facecoreset/common';
import { resolveSynthOptions } from '@facecoreset/data';
import { evaluateMethod, loadFaceCoresetNetAggregator, loadOfficialInputs, loadTableInputs, meanAggregator, normWeightedAggregator, summaryTables, writeEvalOutputs, type Aggregator, type EvalInputs, type MethodRun } from '@facecoreset/eval';
import type { IjbDataset } from '../config';
import { resolveWorkspacePath } from '../config';
import type { StageContext, StageFn } from './context';
import { FEATURES_DIR } from './extract';
import { benchmarkNormQuality, describeBenchmarkNormQuality, NORM_QUALITY_FILE, readBenchmarkTruth } from './norm-quality';
import { AGGREGATOR_CHECKPOINT } from './train';

export const OFFICIAL_METHOD = 'facecoresetnet-official';

async function aggregatorFor(ctx: StageContext, method: string): Promise<{ aggregator: Aggregator; close?: () => Promise<void> | void }> {
  if (method === 'mean') return { aggregator: meanAggregator };
  if (method === 'norm-weighted') return { aggregator: normWeightedAggregator };
  const file = method === OFFICIAL_METHOD ? resolveWorkspacePath(ctx.config.eval.officialCheckpoint!) : path.join(ctx.upstream('train'), AGGREGATOR_CHECKPOINT);
  const agg = await loadFaceCoresetNetAggregator(file);
  return { aggregator: agg, close: () => agg.close?.() };
}

function loadInputs(ctx: StageContext, dataset: IjbDataset): Promise<EvalInputs> {
  const ijb = ctx.config.data.ijb;
  const root = resolveWorkspacePath(ijb.root);
  const identification = ctx.config.eval.identification;
  const pickle = ijb.featuresPickle?.[dataset];
  if (pickle) return loadOfficialInputs(root, dataset, resolveWorkspacePath(pickle), { identification });
  return loadTableInputs(root, dataset, path.join(ctx.upstream('extract-ijb'), dataset, FEATURES_DIR), { identification });
}

export function methodsOf(ctx: { config: StageContext['config'] }): string[] {
  const m: string[] = [...ctx.config.eval.methods];
  if (ctx.config.eval.officialCheckpoint) m.push(OFFICIAL_METHOD);
  return m;
}

/** Where a method's results go. */
export function methodDir(root: string, datasets: readonly string[], dataset: string, method: string): string {
  return datasets.length === 1 ? path.join(root, method) : path.join(root, dataset, method);
}

export const evalStage: StageFn = async (ctx) => {
  const e = ctx.config.eval;
  const datasets = ctx.config.data.ijb.datasets;
  const summary: Record<string, Record<string, Record<string, number>>> = {};
  for (const dataset of datasets) {
    const inputs = await loadInputs(ctx, dataset);
    const runs: MethodRun[] = [];
    for (const method of methodsOf(ctx)) {
      const { aggregator, close } = await aggregatorFor(ctx, method);
      try {
        const run = await evaluateMethod(inputs, aggregator, { protocol: e.protocol, fars: e.farList, identification: e.identification, progress: true });
        run.method = method;
        runs.push(run);
      } finally {
        await close?.();
      }
    }
    const config = { dataset, protocol: e.protocol, far_list: e.farList, methods: methodsOf(ctx), experiment: ctx.experiment, facecoresetnet_selection: 'zero-noise (argmax) farthest-point sampling' };
    for (const run of runs) {
      const dir = methodDir(ctx.outDir, datasets, dataset, run.method);
      await writeEvalOutputs(dir, [run], { dataset, config, inputs: inputs.fingerprints, images: inputs.images, templateIds: inputs.index.templateIds });
      const prefix = datasets.length === 1 ? run.method : `${dataset}.${run.method}`;
      const tar: Record<string, number> = {};
      run.verification.official.forEach((r, i) => {
        const key = `${prefix}.tar_at_far_${r.far.toExponential().replace('+', '')}`;
        tar[key] = run.verification.officialPercent[i];
      });
      tar[`${prefix}.auc`] = run.verification.auc;
      if (run.identification) {
        tar[`${prefix}.rank1_corrected`] = run.identification.corrected.rank1 * 100;
        tar[`${prefix}.rank1_concatenated`] = run.identification.concatenated.rank1 * 100;
      }
      ctx.track.metrics(tar);
      ctx.track.artifact(path.relative(ctx.outDir, path.join(dir, 'results.json')));
      ctx.track.artifact(path.relative(ctx.outDir, path.join(dir, 'roc.png')));
      summary[dataset] = { ...(summary[dataset] ?? {}), [run.method]: tar };
    }
    ctx.log('\n' + summaryTables(runs, dataset));
    const synth = ctx.config.data.synth;
    const generated = synth ? readBenchmarkTruth(resolveWorkspacePath(synth.out), dataset, resolveSynthOptions({ ...synth.options, seed: synth.seed }).dataset) : undefined;
    if (generated) {
      const r = benchmarkNormQuality(inputs.faces.norms, generated.truth, generated.file);
      writeJsonAtomic(path.join(datasets.length === 1 ? ctx.outDir : path.join(ctx.outDir, dataset), NORM_QUALITY_FILE), { dataset, truth: generated.file, ...r });
      const prefix = datasets.length === 1 ? 'backbone' : `${dataset}.backbone`;
      ctx.track.metrics({
        [`${prefix}.norm_quality_spearman`]: r.spearman,
        [`${prefix}.norm_quality_spearman_ci95_low`]: r.ci95[0],
        [`${prefix}.norm_quality_spearman_ci95_high`]: r.ci95[1],
      });
      ctx.log(describeBenchmarkNormQuality(r));
    }
  }
  ctx.track.params({ eval: e });
  return { summary: { datasets, methods: methodsOf(ctx), metrics: summary } };
};
