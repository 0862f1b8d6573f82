/**
 * A single self-contained HTML page: the TAR@FAR tables, the ROC curves (inline SVG), the 1:N
 * numbers and the coreset each template chose (first templates; coresets.json has them all).
 */
import type { IdentificationResult } from '../lib/identification';
import { farKey } from '../lib/roc';
import type { MethodRun } from '../run';
import type { EvalContext } from './outputs';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function htmlTable(header: string[], rows: string[][]): string {
  const th = header.map((h) => `<th>${esc(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table>`;
}

const MAX_TEMPLATES_SHOWN = 200;

export function htmlReport(runs: MethodRun[], ctx: EvalContext, svg: string): string {
  const fars = runs[0].verification.official.map((r) => farKey(r.far));
  const tarRows = (strict: boolean): string[][] =>
    runs.map((r) => [`${r.method} (${r.protocol})`, ...(strict ? r.verification.strictPercent : r.verification.officialPercent).map((x) => x.toFixed(2)), (r.verification.auc * 100).toFixed(2)]);
  const v0 = runs[0].verification;
  const sections: string[] = [
    `<h1>IJB evaluation — ${esc(ctx.dataset)}</h1>`,
    `<p>${v0.pairs.toLocaleString('en')} pairs (${v0.genuine.toLocaleString('en')} genuine, ${v0.impostor.toLocaleString('en')} impostor), ${ctx.templateIds.length.toLocaleString('en')} templates.</p>`,
    '<h2>TAR@FAR (%) — official rule</h2><p>The ROC point whose FPR is nearest the target (ties: higher TPR); it can sit above the target.</p>',
    htmlTable(['method', ...fars, 'AUC'], tarRows(false)),
    '<h2>TAR@FAR (%) — strict rule</h2><p>The largest TPR among points with FPR ≤ target.</p>',
    htmlTable(['method', ...fars, 'AUC'], tarRows(true)),
    `<h2>ROC</h2><div class="plot">${svg.replace(/^<\?xml[^>]*>/, '')}</div>`,
  ];
  const ident = runs.filter((r) => r.identification);
  if (ident.length > 0) {
    const pct = (x: number): string => (x * 100).toFixed(2);
    const fpirs = (ident[0].identification as IdentificationResult).concatenated.tpir.map((t) => t.fpir);
    const rows = ident.flatMap((r) => {
      const id = r.identification as IdentificationResult;
      return [
        [`${r.method}: concatenated`, pct(id.concatenated.rank1), pct(id.concatenated.rank5), pct(id.concatenated.rank10), ...id.concatenated.tpir.map((t) => pct(t.tpir))],
        [`${r.method}: corrected`, pct(id.corrected.rank1), pct(id.corrected.rank5), pct(id.corrected.rank10), ...id.corrected.tpir.map((t) => pct(t.tpir))],
      ];
    });
    sections.push('<h2>1:N identification (%)</h2>', htmlTable(['method', 'rank-1', 'rank-5', 'rank-10', ...fpirs.map((f) => `TPIR@FPIR ${f}`)], rows));
  }
  for (const run of runs) {
    const { offsets, rows } = run.descriptors.coresets;
    if (rows.length === 0) continue;
    const n = Math.min(ctx.templateIds.length, MAX_TEMPLATES_SHOWN);
    const lines: string[][] = [];
    for (let t = 0; t < n; t++) {
      const sel = Array.from(rows.subarray(offsets[t], offsets[t + 1]));
      const images = ctx.images ? sel.map((r) => `${r}: ${(ctx.images as string[])[r]}`) : sel.map(String);
      lines.push([String(ctx.templateIds[t]), images.join(' · ')]);
    }
    sections.push(
      `<h2>Coresets chosen by ${esc(run.method)}</h2><p>Face-list rows (and images) of each template's coreset, in selection order; the first ${n} of ${ctx.templateIds.length} templates (all in coresets.json).</p>`,
      htmlTable(['template', 'coreset rows'], lines),
    );
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>IJB evaluation — ${esc(ctx.dataset)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #111; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
thead th, tbody th { text-align: left; background: #f4f4f4; }
.plot svg { max-width: 100%; height: auto; }
</style></head><body>
${sections.join('\n')}
</body></html>
`;
}
