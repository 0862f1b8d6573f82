/**
 * What an evaluation writes: results.json (every number, the inputs' fingerprints, the config),
 * results.md, roc.svg/roc.png, coresets.json and report.html; and the terminal summary table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeDirAtomic } from '@facecoreset/common';
import type { FileFingerprint } from '../io/inputs';
import type { IdentificationResult } from '../lib/identification';
import { farKey, type TarAtFar } from '../lib/roc';
import type { MethodRun } from '../run';
import { htmlReport } from './html';
import { rocSvg, svgToPng } from './roc-plot';

export interface EvalContext {
  dataset: string;
  config: Record<string, unknown>;
  inputs: FileFingerprint[];
  /** Image name per face row, for coreset listings. */
  images?: string[];
  templateIds: Int32Array;
  /** Seconds spent reading inputs. */
  loadSeconds?: number;
}

const round = (x: number, digits = 10): number => Number(x.toPrecision(digits));

function tarMap(readings: TarAtFar[], percent: number[]): Record<string, number> {
  return Object.fromEntries(readings.map((r, i) => [farKey(r.far), percent[i]]));
}

function tarDetail(readings: TarAtFar[]): Record<string, unknown> {
  return Object.fromEntries(
    readings.map((r) => [farKey(r.far), { tar: r.tar, fpr_used: r.fprUsed, true_accepts: r.truePositives, false_accepts: r.falsePositives, roc_index: r.index }]),
  );
}

function identificationJson(r: IdentificationResult): Record<string, unknown> {
  return {
    concatenated: {
      description: 'official helper: galleries concatenated, threshold from the ceil(P*FPIR)-th largest non-mated similarity',
      rank1: r.concatenated.rank1,
      rank5: r.concatenated.rank5,
      rank10: r.concatenated.rank10,
      probes: r.concatenated.probes,
      gallery: r.concatenated.gallery,
      tpir_at_fpir: Object.fromEntries(r.concatenated.tpir.map((t) => [String(t.fpir), { tpir: t.tpir, threshold: t.threshold }])),
    },
    corrected: {
      description: "each gallery alone with the other gallery's subjects as non-mated probes, averaged",
      rank1: r.corrected.rank1,
      rank5: r.corrected.rank5,
      rank10: r.corrected.rank10,
      probes: r.corrected.probes,
      tpir_at_fpir: Object.fromEntries(r.corrected.tpir.map((t) => [String(t.fpir), t.tpir])),
      galleries: r.corrected.galleries.map((g) => ({
        name: g.name,
        gallery: g.gallery,
        mated_probes: g.mated,
        non_mated_probes: g.nonMated,
        rank1: g.rank1,
        rank5: g.rank5,
        rank10: g.rank10,
        tpir_at_fpir: Object.fromEntries(g.tpir.map((t) => [String(t.fpir), { tpir: t.tpir, threshold: t.threshold, fpir_actual: t.fpirActual }])),
      })),
    },
  };
}

/** The JSON record of one method. */
export function methodJson(run: MethodRun): Record<string, unknown> {
  const v = run.verification;
  return {
    method: run.method,
    protocol: run.protocol,
    verification: {
      pairs: v.pairs,
      genuine: v.genuine,
      impostor: v.impostor,
      auc: v.auc,
      tar_at_far: tarMap(v.official, v.officialPercent),
      tar_at_far_strict: tarMap(v.strict, v.strictPercent),
      tar_at_far_rule: "official: ROC point with the FPR nearest the target (ties: higher TPR), '%.2f' of 100*TPR; strict: largest TPR with FPR <= target",
      tar_at_far_detail: tarDetail(v.official),
      tar_at_far_strict_detail: tarDetail(v.strict),
      roc: { points: v.roc.fpr.length, fpr: Array.from(v.roc.fpr), tpr: Array.from(v.roc.tpr), thresholds: Array.from(v.roc.thresholds, (t) => round(t, 17)) },
    },
    identification: run.identification ? identificationJson(run.identification) : null,
    coresets: run.descriptors.coresets.rows.length > 0 ? 'coresets.json' : null,
    timings_s: run.timings,
    cpu_s: run.cpu,
  };
}

/** results.json: the first method's record at the top level, every method under `methods`. */
export function resultsJson(runs: MethodRun[], ctx: EvalContext): Record<string, unknown> {
  const records = runs.map(methodJson);
  return {
    schema: 'facecoreset.eval.ijb/1',
    dataset: ctx.dataset,
    ...records[0],
    methods: Object.fromEntries(records.map((r) => [r.method as string, r])),
    config: ctx.config,
    inputs: ctx.inputs,
    load_s: ctx.loadSeconds,
  };
}

/** Per template: its coreset as face-list rows and image names, for each method that has coresets. */
export function coresetsJson(runs: MethodRun[], ctx: EvalContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const run of runs) {
    const { offsets, rows } = run.descriptors.coresets;
    if (rows.length === 0) continue;
    out[run.method] = Array.from(ctx.templateIds, (id, t) => {
      const sel = Array.from(rows.subarray(offsets[t], offsets[t + 1]));
      return { template_id: id, rows: sel, images: ctx.images ? sel.map((r) => (ctx.images as string[])[r]) : undefined };
    });
  }
  return out;
}

function pad(cells: string[], widths: number[]): string {
  return '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
}

/** A markdown table (also readable in a terminal). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [pad(header, widths), '| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |', ...rows.map((r) => pad(r, widths))].join('\n');
}

/** Verification TAR@FAR (official and strict) and AUC per method, identification per method. */
export function summaryTables(runs: MethodRun[], dataset: string): string {
  const fars = runs[0].verification.official.map((r) => farKey(r.far));
  const rows = (strict: boolean): string[][] =>
    runs.map((r) => [`${r.method}-${dataset}`, r.protocol, ...(strict ? r.verification.strictPercent : r.verification.officialPercent).map((x) => x.toFixed(2)), (r.verification.auc * 100).toFixed(2)]);
  const parts = [
    `TAR@FAR (%), official rule (nearest FPR), ${runs[0].verification.genuine} genuine / ${runs[0].verification.impostor} impostor pairs`,
    table(['method', 'protocol', ...fars, 'AUC'], rows(false)),
    '',
    'TAR@FAR (%), strict rule (FPR <= FAR)',
    table(['method', 'protocol', ...fars, 'AUC'], rows(true)),
  ];
  const ident = runs.filter((r) => r.identification);
  if (ident.length > 0) {
    const fpirs = (ident[0].identification as IdentificationResult).concatenated.tpir.map((t) => t.fpir);
    const pct = (x: number): string => (x * 100).toFixed(2);
    const identRows = ident.flatMap((r) => {
      const id = r.identification as IdentificationResult;
      return [
        [r.method, 'concatenated (official helper)', pct(id.concatenated.rank1), pct(id.concatenated.rank5), pct(id.concatenated.rank10), ...id.concatenated.tpir.map((t) => pct(t.tpir))],
        [r.method, 'corrected (per gallery, averaged)', pct(id.corrected.rank1), pct(id.corrected.rank5), pct(id.corrected.rank10), ...id.corrected.tpir.map((t) => pct(t.tpir))],
      ];
    });
    parts.push('', '1:N identification (%)', table(['method', '1:N method', 'rank-1', 'rank-5', 'rank-10', ...fpirs.map((f) => `TPIR@FPIR=${f}`)], identRows));
  }
  return parts.join('\n');
}

/** Writes every output into `outDir` (built under a temporary name, renamed when complete). */
export async function writeEvalOutputs(outDir: string, runs: MethodRun[], ctx: EvalContext): Promise<{ fonts: boolean }> {
  const svg = rocSvg(
    runs.map((r) => ({ label: `${r.method} (${r.protocol})`, fpr: r.verification.roc.fpr, tpr: r.verification.roc.tpr, auc: r.verification.auc })),
    { title: `ROC on ${ctx.dataset}` },
  );
  const { png, fonts } = svgToPng(svg);
  const results = resultsJson(runs, ctx);
  const coresets = coresetsJson(runs, ctx);
  const markdown = `# IJB evaluation: ${ctx.dataset}\n\n${summaryTables(runs, ctx.dataset)}\n\n![ROC](roc.svg)\n`;
  await writeDirAtomic(outDir, (tmp) => {
    fs.writeFileSync(path.join(tmp, 'results.json'), JSON.stringify(results, null, 1) + '\n');
    fs.writeFileSync(path.join(tmp, 'results.md'), markdown);
    fs.writeFileSync(path.join(tmp, 'roc.svg'), svg);
    fs.writeFileSync(path.join(tmp, 'roc.png'), png);
    fs.writeFileSync(path.join(tmp, 'coresets.json'), JSON.stringify(coresets) + '\n');
    fs.writeFileSync(path.join(tmp, 'report.html'), htmlReport(runs, ctx, svg));
  });
  return { fonts };
}
