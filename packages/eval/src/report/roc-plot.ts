/**
 * ROC curves as SVG (log-scale FAR axis, several methods overlaid) and PNG (the SVG rendered by
 * resvg). Every position is computed here from fixed sizes, so nothing depends on measuring text:
 * without a usable system font the PNG still shows axes, grid, curves and legend swatches.
 */
import * as fs from 'node:fs';

export interface RocSeries {
  label: string;
  fpr: ArrayLike<number>;
  tpr: ArrayLike<number>;
  /** Area under the curve, shown in the legend. */
  auc?: number;
}

export interface RocPlotOptions {
  title?: string;
  /** Smallest FAR on the axis (default 1e-6). */
  minFar?: number;
  /** Lower end of the TAR axis (default: from the curves, a multiple of 0.1). */
  minTar?: number;
  width?: number;
  height?: number;
}

/** Colour-blind-safe palette (Okabe–Ito). */
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Renders the curves as a standalone SVG document. */
export function rocSvg(series: readonly RocSeries[], options: RocPlotOptions = {}): string {
  const width = options.width ?? 720;
  const legendRows = series.length;
  const height = (options.height ?? 480) + 22 * legendRows + 10;
  const margin = { left: 70, right: 24, top: 40, bottom: 60 + 22 * legendRows + 10 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const minFar = options.minFar ?? 1e-6;
  const logMin = Math.log10(minFar);
  let minTar = options.minTar;
  if (minTar === undefined) {
    let lowest = 1;
    for (const s of series) for (let i = 0; i < s.fpr.length; i++) if (s.fpr[i] >= minFar) lowest = Math.min(lowest, s.tpr[i]);
    minTar = Math.max(0, Math.floor(lowest * 10) / 10);
    if (minTar >= 1) minTar = 0.9;
  }
  const x = (far: number): number => margin.left + ((Math.log10(Math.max(far, minFar)) - logMin) / -logMin) * plotW;
  const y = (tar: number): number => margin.top + (1 - (Math.max(tar, minTar as number) - (minTar as number)) / (1 - (minTar as number))) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  // Grid and ticks: one line per decade of FAR, every 0.1 of TAR.
  for (let e = Math.round(logMin); e <= 0; e++) {
    const gx = x(10 ** e).toFixed(1);
    parts.push(`<line x1="${gx}" y1="${margin.top}" x2="${gx}" y2="${margin.top + plotH}" stroke="#dddddd" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${gx}" y="${margin.top + plotH + 20}" font-size="13" text-anchor="middle" fill="#333333">1e${e}</text>`);
  }
  for (let k = Math.ceil((minTar as number) * 10 - 1e-9); k <= 10; k++) {
    const gy = y(k / 10).toFixed(1);
    parts.push(`<line x1="${margin.left}" y1="${gy}" x2="${margin.left + plotW}" y2="${gy}" stroke="#dddddd" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${margin.left - 8}" y="${(Number(gy) + 4).toFixed(1)}" font-size="13" text-anchor="end" fill="#333333">${(k / 10).toFixed(1)}</text>`);
  }
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333333"/>`);
  parts.push(`<text x="${margin.left + plotW / 2}" y="${margin.top + plotH + 44}" font-size="14" text-anchor="middle" fill="#111111">False accept rate (log scale)</text>`);
  parts.push(`<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" font-size="14" text-anchor="middle" fill="#111111">True accept rate</text>`);
  parts.push(`<text x="${margin.left + plotW / 2}" y="24" font-size="16" text-anchor="middle" fill="#111111">${escape(options.title ?? 'ROC')}</text>`);
  parts.push(`<clipPath id="plot"><rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}"/></clipPath>`);
  series.forEach((s, i) => {
    parts.push(`<polyline clip-path="url(#plot)" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2" points="${polylinePoints(s, x, y)}"/>`);
  });
  // Legend below the axis title, one row per series (a swatch, then the label): no overlap with the
  // curves whatever the label length.
  const legendX = margin.left;
  series.forEach((s, i) => {
    const ly = margin.top + plotH + 70 + i * 22;
    const label = s.auc === undefined ? s.label : `${s.label} (AUC ${(s.auc * 100).toFixed(2)}%)`;
    parts.push(`<line x1="${legendX}" y1="${ly}" x2="${legendX + 28}" y2="${ly}" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="3"/>`);
    parts.push(`<text x="${legendX + 36}" y="${ly + 5}" font-size="13" fill="#111111">${escape(label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Points in pixels, skipping those that move less than a quarter pixel (IJB-C curves have ~40k points). */
function polylinePoints(s: RocSeries, x: (v: number) => number, y: (v: number) => number): string {
  const out: string[] = [];
  let lastX = NaN;
  let lastY = NaN;
  const n = s.fpr.length;
  for (let i = 0; i < n; i++) {
    const px = x(s.fpr[i]);
    const py = y(s.tpr[i]);
    if (i > 0 && i < n - 1 && Math.abs(px - lastX) < 0.25 && Math.abs(py - lastY) < 0.25) continue;
    out.push(`${px.toFixed(2)},${py.toFixed(2)}`);
    lastX = px;
    lastY = py;
  }
  return out.join(' ');
}

const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts', '/Library/Fonts', '/System/Library/Fonts', 'C:\\Windows\\Fonts'];

/** True when a font directory with at least one TrueType/OpenType file exists (resvg draws no text otherwise). */
export function systemFontsAvailable(): boolean {
  const hasFont = (dir: string, depth: number): boolean => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    for (const e of entries) {
      if (e.isFile() && /\.(ttf|otf|ttc)$/i.test(e.name)) return true;
      if (e.isDirectory() && depth > 0 && hasFont(`${dir}/${e.name}`, depth - 1)) return true;
    }
    return false;
  };
  return FONT_DIRS.some((d) => hasFont(d, 3));
}

/** Renders an SVG to PNG bytes with resvg (system fonts when present). */
export function svgToPng(svg: string, width = 1440): { png: Uint8Array; fonts: boolean } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  const fonts = systemFontsAvailable();
  const resvg = new Resvg(svg, { fitTo: { mode: 'width', value: width }, background: '#ffffff', font: { loadSystemFonts: fonts } });
  return { png: resvg.render().asPng(), fonts };
}
