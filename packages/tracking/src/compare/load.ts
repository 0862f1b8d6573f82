/** Gathers the runs to compare and their ROC curves from any RunSource (file store or server). */
import type { RunRecord, RunSource } from '../types';
import { findRocArtifacts, rocCurvesFromJson, type RocCurve } from './roc';
import { compareRuns, runLabel, type RunComparison } from './table';

export interface CompareSelection {
  /** Runs of this experiment (by name). */
  experiment?: string;
  /** These runs (ids); with `experiment`, only those of the experiment. */
  runIds?: string[];
}

export interface LoadedComparison {
  comparison: RunComparison;
  curves: RocCurve[];
  /** roc.json artifacts that could not be read, with the reason. */
  rocProblems: string[];
}

export async function selectRuns(source: RunSource, selection: CompareSelection): Promise<RunRecord[]> {
  if (selection.experiment !== undefined) {
    const experiment = await source.getExperimentByName(selection.experiment);
    if (!experiment) throw new Error(`${source.location}: no experiment named '${selection.experiment}'`);
    let runs = await source.listRuns([experiment.experimentId]);
    if (selection.runIds?.length) {
      const wanted = new Set(selection.runIds);
      runs = runs.filter((r) => wanted.has(r.runId));
      const missing = selection.runIds.filter((id) => !runs.some((r) => r.runId === id));
      if (missing.length) throw new Error(`${source.location}: experiment '${selection.experiment}' has no run ${missing.join(', ')}`);
      return runs;
    }
    // Without explicit runs: those that report TAR@FAR (the evaluations), or all when none does.
    const evaluated = runs.filter((r) => Object.keys(r.metrics).some((k) => k.includes('tar_at_far')));
    return evaluated.length ? evaluated : runs;
  }
  if (!selection.runIds?.length) throw new Error('choose runs with --experiment <name> and/or --runs <id,...>');
  const runs: RunRecord[] = [];
  for (const id of selection.runIds) runs.push(await source.getRun(id));
  return runs;
}

/**
 * The pipeline logs the resolved config on the parent run and results on stage runs: a stage run
 * is compared with its parent's params under its own, and named "<parent> / <stage>".
 */
async function withParents(source: RunSource, runs: RunRecord[]): Promise<RunRecord[]> {
  const parents = new Map<string, RunRecord | undefined>();
  const out: RunRecord[] = [];
  for (const run of runs) {
    const parentId = run.tags['mlflow.parentRunId'];
    if (!parentId) {
      out.push(run);
      continue;
    }
    if (!parents.has(parentId)) parents.set(parentId, await source.getRun(parentId).catch(() => undefined));
    const parent = parents.get(parentId);
    out.push(parent ? { ...run, runName: `${parent.runName} / ${run.runName}`, params: { ...parent.params, ...run.params } } : run);
  }
  return out;
}

export async function loadComparison(source: RunSource, selection: CompareSelection): Promise<LoadedComparison> {
  const runs = await withParents(source, await selectRuns(source, selection));
  const curves: RocCurve[] = [];
  const rocProblems: string[] = [];
  for (const run of runs) {
    let paths: string[] = [];
    try {
      paths = await findRocArtifacts(source, run.runId);
    } catch (e) {
      rocProblems.push(`${runLabel(run)}: artifacts not listed (${(e as Error).message})`);
    }
    for (const p of paths) {
      const where = `${runLabel(run)}:${p}`;
      try {
        const doc = JSON.parse(new TextDecoder().decode(await source.readArtifact(run.runId, p)));
        const folder = p.split('/').slice(0, -1).join('/');
        curves.push(...rocCurvesFromJson(doc, `${runLabel(run)}${folder ? ' ' + folder : ''}`, where));
      } catch (e) {
        rocProblems.push(`${where}: ${(e as Error).message}`);
      }
    }
  }
  return { comparison: compareRuns(runs), curves, rocProblems };
}
