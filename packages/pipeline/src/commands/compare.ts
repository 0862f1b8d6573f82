import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic, writeJsonAtomic } from '@facecoreset/common';
import { formatComparison, loadComparison, openRunSource, rocOverlaySvg, runLabel } from '@facecoreset/tracking';
import type { Command } from '../command';
import type { CommandIo } from './mlflow';

const defaultIo: CommandIo = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n'), env: process.env };

/** Renders the SVG to PNG when resvg loads here (a native package); the SVG is written regardless. */
function svgToPng(svg: string): Uint8Array | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
    return new Resvg(svg, { background: 'white' }).render().asPng();
  } catch {
    return undefined;
  }
}

/** `fcn compare`: runs side by side (params that differ, TAR@FAR) and their ROC curves overlaid. */
export function compareCommand(io: CommandIo = defaultIo): Command {
  return {
    name: 'compare',
    summary: 'compare runs: params that differ, TAR@FAR columns, overlaid ROC curves',
    usage: [
      'Usage: fcn compare [--experiment <name>] [--runs <id,...>] [--store <mlruns dir | http(s)://server>] [--out <dir>]',
      '',
      'Reads runs from the local store (default ./mlruns) or a server (--store, or MLFLOW_TRACKING_URI),',
      'prints a table of the runs with their TAR@FAR metrics and the params whose values differ, and',
      'writes compare.md, compare.json and roc-overlay.svg/.png (from the runs\' roc.json artifacts)',
      'into --out (default artifacts/compare). Without --runs, the experiment\'s evaluated runs are compared.',
    ].join('\n'),
    async run(argv) {
      const { values } = parseArgs({
        args: argv,
        options: { experiment: { type: 'string' }, runs: { type: 'string' }, store: { type: 'string' }, out: { type: 'string', default: path.join('artifacts', 'compare') } },
      });
      const runIds = values.runs?.split(',').map((s) => s.trim()).filter(Boolean);
      const experiment = values.experiment ?? (runIds?.length ? undefined : io.env.MLFLOW_EXPERIMENT_NAME || 'demo');
      const source = openRunSource(values.store ?? (io.env.MLFLOW_TRACKING_URI || 'mlruns'), io.env, { log: io.err });
      const { comparison, curves, rocProblems } = await loadComparison(source, { experiment, runIds });
      if (comparison.runs.length === 0) {
        io.out(`${source.location}: no runs to compare${experiment ? ` in experiment '${experiment}'` : ''}`);
        return 0;
      }
      io.out(formatComparison(comparison));
      const outDir = path.resolve(values.out!);
      fs.mkdirSync(outDir, { recursive: true });
      writeFileAtomic(path.join(outDir, 'compare.md'), `# Runs compared (${source.location})\n\n${formatComparison(comparison, { markdown: true, maxValueWidth: 80 })}\n`);
      writeJsonAtomic(path.join(outDir, 'compare.json'), {
        source: source.location,
        differingParams: comparison.differingParams,
        tarColumns: comparison.tarColumns,
        runs: comparison.runs.map((r) => ({
          runId: r.runId,
          runName: r.runName,
          status: r.status,
          startTime: r.startTime,
          params: Object.fromEntries(comparison.differingParams.map((k) => [k, r.params[k] ?? null])),
          tarAtFar: Object.fromEntries(comparison.tarColumns.map((c) => [c.key, r.metrics[c.key]?.value ?? null])),
        })),
      });
      for (const p of rocProblems) io.err(`compare: ${p}`);
      if (curves.length) {
        const svg = rocOverlaySvg(curves, { title: `ROC: ${comparison.runs.map(runLabel).join(', ').slice(0, 90)}` });
        writeFileAtomic(path.join(outDir, 'roc-overlay.svg'), svg);
        const png = svgToPng(svg);
        if (png) writeFileAtomic(path.join(outDir, 'roc-overlay.png'), png);
        io.out(`\nROC overlay of ${curves.length} curve(s): ${path.join(outDir, png ? 'roc-overlay.png' : 'roc-overlay.svg')}`);
      } else {
        io.out('\nNo roc.json artifacts in these runs: no ROC overlay.');
      }
      io.out(`Written: ${path.join(outDir, 'compare.md')}, compare.json`);
      return 0;
    },
  };
}
