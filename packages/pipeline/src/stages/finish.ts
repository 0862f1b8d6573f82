/**
 * The end of `nx run pipeline:full`: links every stage's run to the invocation's pipeline run
 * (stages served from the Nx cache ran in an earlier invocation: they are linked by tag, nothing is
 * re-logged), logs the headline metrics on the pipeline run, closes it, and prints the final table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadExperimentConfig, WORKSPACE } from '../config';
import { artifactsDir, MANIFEST } from './run';
import { invocationFile, readInvocation, trackerFor } from './tracking';
import { describeBenchmarkNormQuality, readNormQualityFiles } from './norm-quality';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const table = require('../../nx/stages.js') as { stages(config: unknown): Array<{ name: string; cache?: boolean }> };

interface StageStatus {
  stage: string;
  runId: string | null;
  finishedAt: string | null;
  ranNow: boolean;
}

export interface MethodResult {
  method: string;
  dir: string;
  tarAtFar: Record<string, number>;
}

/** results.json of every evaluated method, dataset-major when several datasets were evaluated. */
export function collectEvalResults(experiment: string): MethodResult[] {
  const evalDir = path.join(artifactsDir(experiment), 'eval');
  const out: MethodResult[] = [];
  const visit = (dir: string, label: string) => {
    const file = path.join(dir, 'results.json');
    if (fs.existsSync(file)) {
      const r = JSON.parse(fs.readFileSync(file, 'utf8'));
      out.push({ method: label, dir, tarAtFar: r?.verification?.tar_at_far ?? {} });
      return;
    }
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) visit(path.join(dir, e.name), label ? `${label}/${e.name}` : e.name);
  };
  visit(evalDir, '');
  return out;
}

export function formatTarTable(results: MethodResult[]): string {
  if (results.length === 0) return '(no evaluation results)';
  const fars = [...new Set(results.flatMap((r) => Object.keys(r.tarAtFar)))].sort((a, b) => Number(a) - Number(b));
  const header = ['method', ...fars.map((f) => `TAR@FAR=${f}`)];
  const rows = results.map((r) => [r.method, ...fars.map((f) => (r.tarAtFar[f] === undefined ? '-' : r.tarAtFar[f].toFixed(2)))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|', ...rows.map(line)].join('\n');
}

export async function runFinish(out: (l: string) => void = (l) => process.stdout.write(l + '\n')): Promise<void> {
  const { config } = loadExperimentConfig();
  const experiment = config.experiment;
  const inv = readInvocation(experiment);
  const startedAt = inv ? Date.parse(inv.startedAt) : Infinity;
  const statuses: StageStatus[] = [];
  for (const def of table.stages(config)) {
    if (def.cache === false) continue;
    const file = path.join(artifactsDir(experiment), def.name, MANIFEST);
    if (!fs.existsSync(file)) continue;
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    statuses.push({ stage: def.name, runId: m.mlflowRunId ?? null, finishedAt: m.finishedAt ?? null, ranNow: m.finishedAt ? Date.parse(m.finishedAt) >= startedAt : false });
  }
  const results = collectEvalResults(experiment);
  let where = '(tracking unavailable)';
  if (inv) {
    try {
      const tracker = await trackerFor(config);
      const tags: Record<string, string> = {};
      for (const s of statuses) {
        tags[`fcn.stage.${s.stage}`] = s.ranNow ? 'ran' : 'cached';
        if (s.runId) tags[`fcn.stage.${s.stage}.run_id`] = s.runId;
      }
      await tracker.setTags(inv.parentRunId, tags);
      const metrics: Record<string, number> = {};
      for (const r of results) for (const [far, tar] of Object.entries(r.tarAtFar)) metrics[`${r.method.replace(/[^A-Za-z0-9_\-./ ]/g, '_')}/tar_at_far_${far}`] = tar;
      if (Object.keys(metrics).length) await tracker.logMetrics(inv.parentRunId, metrics);
      await tracker.endRun(inv.parentRunId, 'FINISHED');
      await tracker.close();
      where = `${tracker.location}, pipeline run ${inv.parentRunId}`;
    } catch (e) {
      where = `not recorded: ${(e as Error).message} (kept locally; send with fcn mlflow sync)`;
    }
    fs.rmSync(invocationFile(experiment), { force: true });
  }
  const ran = statuses.filter((s) => s.ranNow).map((s) => s.stage);
  const cached = statuses.filter((s) => !s.ranNow).map((s) => s.stage);
  out('');
  out(`Experiment ${experiment}: ${ran.length} stage(s) ran${ran.length ? ` (${ran.join(', ')})` : ''}, ${cached.length} from cache.`);
  out('');
  out(formatTarTable(results));
  const normQuality = readNormQualityFiles(path.join(artifactsDir(experiment), 'eval'));
  for (const r of normQuality) out(`${normQuality.length > 1 ? `${r.dataset}: ` : ''}${describeBenchmarkNormQuality(r)}`);
  out('');
  const report = path.join(artifactsDir(experiment), 'report', 'index.html');
  if (fs.existsSync(report)) out(`Report: ${path.relative(WORKSPACE, report)}`);
  out(`Results: ${path.relative(WORKSPACE, path.join(artifactsDir(experiment), 'eval'))}/<method>/results.json`);
  out(`MLflow: ${where}`);
}
