/**
 * ROC curves from runs' `roc.json` artifacts, drawn over each other as an SVG with a log-scale
 * FAR axis. A roc.json holds `{fpr: number[], tpr: number[]}`, or several named curves as
 * `{curves: [{name, fpr, tpr}]}` or `{<name>: {fpr, tpr}, ...}`.
 */
import type { RunSource } from '../types';

export interface RocCurve {
  label: string;
  fpr: number[];
  tpr: number[];
}

function isNumberArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number');
}

function curveOf(v: unknown, label: string, where: string): RocCurve | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (!isNumberArray(o.fpr) || !isNumberArray(o.tpr)) return undefined;
  if (o.fpr.length !== o.tpr.length) throw new Error(`${where}: fpr has ${o.fpr.length} values but tpr has ${o.tpr.length}`);
  return { label, fpr: o.fpr, tpr: o.tpr };
}

/** The curves in one parsed roc.json; `label` prefixes each curve's name. */
export function rocCurvesFromJson(doc: unknown, label: string, where = 'roc.json'): RocCurve[] {
  const single = curveOf(doc, label, where);
  if (single) return [single];
  if (doc === null || typeof doc !== 'object') throw new Error(`${where}: expected an object with fpr/tpr arrays`);
  const o = doc as Record<string, unknown>;
  const out: RocCurve[] = [];
  if (Array.isArray(o.curves)) {
    o.curves.forEach((c, i) => {
      const name = (c as Record<string, unknown>)?.name ?? (c as Record<string, unknown>)?.label ?? (c as Record<string, unknown>)?.method ?? String(i);
      const curve = curveOf(c, `${label} ${String(name)}`, `${where}: curves[${i}]`);
      if (curve) out.push(curve);
    });
  } else {
    for (const [name, v] of Object.entries(o)) {
      const curve = curveOf(v, `${label} ${name}`, `${where}: ${name}`);
      if (curve) out.push(curve);
    }
  }
  if (out.length === 0) throw new Error(`${where}: no fpr/tpr arrays found`);
  return out;
}

/** Artifact paths named roc.json in a run, searched breadth-first to a few levels. */
export async function findRocArtifacts(source: RunSource, runId: string, maxDepth = 3, maxListings = 50): Promise<string[]> {
  const found: string[] = [];
  let level = [''];
  let listings = 0;
  for (let depth = 0; depth <= maxDepth && level.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      if (listings++ >= maxListings) return found;
      for (const entry of await source.listArtifacts(runId, dir)) {
        if (entry.isDir) next.push(entry.path);
        else if (entry.path.split('/').pop() === 'roc.json') found.push(entry.path);
      }
    }
    level = next;
  }
  return found;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** An SVG of the curves over each other: FAR (log scale) against TAR. */
export function rocOverlaySvg(curves: RocCurve[], options: { title?: string; width?: number; height?: number } = {}): string {
  const width = options.width ?? 720;
  const height = options.height ?? 520;
  const m = { left: 64, right: 16, top: 40, bottom: 56 };
  let minFpr = Infinity;
  for (const c of curves) for (const f of c.fpr) if (f > 0 && f < minFpr) minFpr = f;
  if (!Number.isFinite(minFpr)) minFpr = 1e-6;
  const lo = Math.max(-8, Math.min(-1, Math.floor(Math.log10(minFpr))));
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const x = (fpr: number): number => m.left + ((Math.log10(Math.max(fpr, 10 ** lo)) - lo) / -lo) * plotW;
  const y = (tpr: number): number => m.top + (1 - Math.min(1, Math.max(0, tpr))) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title ?? 'ROC')}</text>`,
  ];
  for (let e = lo; e <= 0; e++) {
    const gx = x(10 ** e).toFixed(1);
    out.push(`<line x1="${gx}" y1="${m.top}" x2="${gx}" y2="${m.top + plotH}" stroke="#ddd"/>`);
    out.push(`<text x="${gx}" y="${m.top + plotH + 18}" text-anchor="middle">1e${e}</text>`);
  }
  for (let t = 0; t <= 10; t += 2) {
    const gy = y(t / 10).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${gy}" x2="${m.left + plotW}" y2="${gy}" stroke="#ddd"/>`);
    out.push(`<text x="${m.left - 8}" y="${gy}" text-anchor="end" dominant-baseline="middle">${(t / 10).toFixed(1)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${height - 14}" text-anchor="middle">False accept rate (log scale)</text>`);
  out.push(`<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">True accept rate</text>`);
  curves.forEach((c, i) => {
    // Keep a point only when it moves at least half a pixel: ROC arrays can have millions of points.
    const pts: string[] = [];
    let lx = -Infinity;
    let ly = -Infinity;
    for (let k = 0; k < c.fpr.length; k++) {
      if (!(c.fpr[k] > 0)) continue;
      const px = x(c.fpr[k]);
      const py = y(c.tpr[k]);
      if (Math.abs(px - lx) < 0.5 && Math.abs(py - ly) < 0.5 && k !== c.fpr.length - 1) continue;
      pts.push(`${px.toFixed(1)},${py.toFixed(1)}`);
      lx = px;
      ly = py;
    }
    const color = PALETTE[i % PALETTE.length];
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${pts.join(' ')}"/>`);
    const ly0 = m.top + plotH - 12 - (curves.length - 1 - i) * 18;
    out.push(`<line x1="${m.left + plotW - 250}" y1="${ly0}" x2="${m.left + plotW - 226}" y2="${ly0}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${m.left + plotW - 220}" y="${ly0}" dominant-baseline="middle">${escapeXml(c.label.length > 36 ? c.label.slice(0, 35) + '…' : c.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
