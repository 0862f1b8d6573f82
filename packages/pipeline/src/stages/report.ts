/**
 * report: one HTML page for the experiment — the TAR@FAR table of every method, their ROC curves
 * overlaid (SVG and PNG), identification numbers, and links to each method's own report and coreset
 * selections. Built from the eval stage's results.json files only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { rocSvg, svgToPng, type RocSeries } from '@facecoreset/eval';
import type { StageFn } from './context';
import { methodDir, methodsOf } from './eval';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface MethodResults {
  method: string;
  results: {
    verification: { tar_at_far: Record<string, number>; tar_at_far_strict: Record<string, number>; auc: number; roc: { fpr: number[]; tpr: number[] }; genuine: number; impostor: number };
    identification: null | { corrected?: { rank1: number; rank5: number }; concatenated?: { rank1: number; rank5: number } };
  };
}

function tableHtml(rows: MethodResults[], key: 'tar_at_far' | 'tar_at_far_strict'): string {
  const fars = Object.keys(rows[0].results.verification[key]);
  const best = fars.map((f) => Math.max(...rows.map((r) => r.results.verification[key][f])));
  const head = `<tr><th>method</th>${fars.map((f) => `<th>TAR@FAR=${f}</th>`).join('')}<th>AUC</th></tr>`;
  const body = rows
    .map((r) => `<tr><td>${esc(r.method)}</td>${fars.map((f, i) => {
      const v = r.results.verification[key][f];
      return `<td${v === best[i] ? ' class="best"' : ''}>${v.toFixed(2)}</td>`;
    }).join('')}<td>${(r.results.verification.auc * 100).toFixed(2)}</td></tr>`)
    .join('\n');
  return `<table>${head}\n${body}</table>`;
}

export const reportStage: StageFn = async (ctx) => {
  const evalDir = ctx.upstream('eval');
  const datasets = ctx.config.data.ijb.datasets;
  const sections: string[] = [];
  const pngs: string[] = [];
  for (const dataset of datasets) {
    const rows: MethodResults[] = methodsOf(ctx).map((method) => {
      const dir = methodDir(evalDir, datasets, dataset, method);
      return { method, results: JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) };
    });
    const series: RocSeries[] = rows.map((r) => ({ label: r.method, fpr: r.results.verification.roc.fpr, tpr: r.results.verification.roc.tpr, auc: r.results.verification.auc }));
    const svg = rocSvg(series, { title: `ROC on ${dataset} (${ctx.experiment})` });
    const { png } = svgToPng(svg);
    fs.writeFileSync(path.join(ctx.outDir, `roc-${dataset}.svg`), svg);
    fs.writeFileSync(path.join(ctx.outDir, `roc-${dataset}.png`), png);
    pngs.push(`roc-${dataset}.png`);
    const v = rows[0].results.verification;
    const links = rows.map((r) => `<li>${esc(r.method)}: <a href="${esc(path.relative(ctx.outDir, path.join(methodDir(evalDir, datasets, dataset, r.method), 'report.html')).replace(/^(\.\.\/)+/, '../eval/'))}">report</a></li>`);
    const ident = rows.filter((r) => r.results.identification?.corrected);
    const identHtml = ident.length
      ? `<h3>1:N identification (corrected: each gallery with the other's subjects as non-mated probes)</h3><table><tr><th>method</th><th>rank-1</th><th>rank-5</th></tr>${ident
          .map((r) => `<tr><td>${esc(r.method)}</td><td>${(r.results.identification!.corrected!.rank1 * 100).toFixed(2)}</td><td>${(r.results.identification!.corrected!.rank5 * 100).toFixed(2)}</td></tr>`)
          .join('')}</table>`
      : '';
    sections.push(`<h2>${esc(dataset)}</h2>
<p>${v.genuine} genuine and ${v.impostor} impostor pairs. TAR in percent; the official rule takes the ROC point whose FPR is nearest the target, the strict rule the best TPR with FPR &le; target.</p>
<h3>TAR@FAR, official rule</h3>${tableHtml(rows, 'tar_at_far')}
<h3>TAR@FAR, strict rule</h3>${tableHtml(rows, 'tar_at_far_strict')}
${identHtml}
<p><img src="roc-${dataset}.svg" alt="ROC curves on ${esc(dataset)}" width="720"></p>
<ul>${links.join('')}</ul>`);
  }
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(ctx.config.report.title)}</title>
<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.best{font-weight:bold;background:#eef6ee}</style></head>
<body><h1>${esc(ctx.config.report.title)}</h1>
<p>Experiment <code>${esc(ctx.experiment)}</code>. Per-method results, ROC data and coreset selections are in <code>artifacts/${esc(ctx.experiment)}/eval/</code>.</p>
${sections.join('\n')}
</body></html>
`;
  fs.writeFileSync(path.join(ctx.outDir, 'index.html'), html);
  ctx.track.artifact('index.html');
  for (const p of pngs) ctx.track.artifact(p);
  return { summary: { datasets, methods: methodsOf(ctx) } };
};
