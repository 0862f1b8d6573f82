/**
 * Run comparison: which params differ between runs, and their TAR@FAR numbers side by side.
 * Works on RunRecords, so it is the same for the file store and a server.
 */
import type { RunRecord } from '../types';

/** A metric key holding a TAR at a FAR, e.g. `tar_at_far_1e-4` or `IJBB/facecoresetnet/tar_at_far_1e-4`. */
const TAR_KEY = /^(.*?)tar_at_far_([0-9.eE+-]+)$/;

export interface TarColumn {
  key: string;
  /** Column title, e.g. `TAR@1e-4` or `facecoresetnet TAR@1e-4`. */
  title: string;
  far: number;
}

export interface RunComparison {
  runs: RunRecord[];
  /** Param keys whose value is not the same in every run (missing counts as a value). */
  differingParams: string[];
  tarColumns: TarColumn[];
}

export function tarColumns(runs: RunRecord[]): TarColumn[] {
  const columns = new Map<string, TarColumn>();
  for (const run of runs) {
    for (const key of Object.keys(run.metrics)) {
      const m = TAR_KEY.exec(key);
      if (!m) continue;
      const far = Number(m[2]);
      if (!Number.isFinite(far)) continue;
      const prefix = m[1].replace(/[._/ -]+$/, '').replace(/[_/]+/g, ' ').trim();
      columns.set(key, { key, title: `${prefix ? prefix + ' ' : ''}TAR@${m[2]}`, far });
    }
  }
  // Grouped by prefix, lowest FAR first (the hardest operating point leads, as in the paper's tables).
  return [...columns.values()].sort((a, b) => {
    const pa = a.title.slice(0, a.title.lastIndexOf('TAR@'));
    const pb = b.title.slice(0, b.title.lastIndexOf('TAR@'));
    return pa === pb ? a.far - b.far : pa.localeCompare(pb);
  });
}

export function compareRuns(runs: RunRecord[]): RunComparison {
  const keys = new Set(runs.flatMap((r) => Object.keys(r.params)));
  const differingParams = [...keys].filter((k) => new Set(runs.map((r) => r.params[k] ?? '\u0000missing')).size > 1).sort();
  return { runs, differingParams, tarColumns: tarColumns(runs) };
}

function formatTar(v: number | undefined): string {
  if (v === undefined) return '—';
  // TAR is logged in percent by the evaluation (results.json); a fraction is shown as logged.
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

export function runLabel(run: RunRecord): string {
  return `${run.runName || '(unnamed)'} ${run.runId.slice(0, 8)}`;
}

function table(header: string[], rows: string[][], markdown: boolean): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => (markdown ? `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |` : cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  const sep = markdown ? `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|` : widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), sep, ...rows.map(line)].join('\n');
}

/** The comparison as text tables (markdown when asked): runs with TAR@FAR, then the params that differ. */
export function formatComparison(c: RunComparison, options: { markdown?: boolean; maxValueWidth?: number } = {}): string {
  const markdown = options.markdown ?? false;
  const maxWidth = options.maxValueWidth ?? 40;
  const clip = (s: string): string => (s.length > maxWidth ? s.slice(0, maxWidth - 1) + '…' : s);
  const runsTable = table(
    ['run', 'status', 'started', ...c.tarColumns.map((t) => t.title)],
    c.runs.map((r) => [runLabel(r), r.status, new Date(r.startTime).toISOString().slice(0, 16).replace('T', ' '), ...c.tarColumns.map((t) => formatTar(r.metrics[t.key]?.value))]),
    markdown,
  );
  const parts = [runsTable];
  if (c.runs.length > 1) {
    if (c.differingParams.length === 0) parts.push('No params differ between these runs.');
    else {
      parts.push(
        table(
          ['param', ...c.runs.map(runLabel)],
          c.differingParams.map((k) => [k, ...c.runs.map((r) => clip(r.params[k] ?? '—'))]),
          markdown,
        ),
      );
    }
  }
  return parts.join('\n\n');
}
