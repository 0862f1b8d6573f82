/**
 * Runs one stage: loads and validates the config, builds the output under a temporary name, writes
 * its manifest, renames it into artifacts/<experiment>/<stage>, and records the run in MLflow as a
 * child of the invocation's parent run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { InputError, writeDirAtomic, writeJsonAtomic } from '@facecoreset/common';
import { loadExperimentConfig, resolveWorkspacePath, WORKSPACE } from '../config';
import type { StageContext, StageFn, StageLogger } from './context';
import { stageFunction } from './registry';
import { openStageRun, type StageRunHandle } from './tracking';
import { gitCommit, libraryVersions } from './provenance';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const table = require('../../nx/stages.js') as {
  stages(config: unknown): Array<{ name: string; sections: string[]; deps: string[] }>;
  get(obj: unknown, key: string): unknown;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { stable } = require('../../nx/stage-inputs.js') as { stable(v: unknown): string };

export const MANIFEST = 'manifest.json';

export function artifactsDir(experiment: string): string {
  return path.join(WORKSPACE, 'artifacts', experiment);
}

export function stageDir(experiment: string, stage: string): string {
  return path.join(artifactsDir(experiment), stage);
}

/** Hash of the config sections a stage depends on (what its Nx cache key covers). */
export function sectionHash(config: unknown, sections: string[]): string {
  const h = crypto.createHash('sha256');
  for (const key of sections) h.update(`${key}=${stable(table.get(config, key))}\n`);
  return h.digest('hex').slice(0, 16);
}

function definition(config: unknown, stage: string) {
  const def = table.stages(config).find((s) => s.name === stage);
  if (!def) throw new InputError(`unknown stage '${stage}' (known: ${table.stages(config).map((s) => s.name).join(', ')})`);
  return def;
}

export function functionFor(stage: string): StageFn {
  const shard = /^extract-train-shard-(\d+)$/.exec(stage);
  const fn = stageFunction(shard ? 'extract-train-shard' : stage);
  if (!fn) throw new InputError(`stage '${stage}' has no implementation`);
  return fn;
}

export async function runStage(stage: string, opts: { experiment?: string; log?: (l: string) => void } = {}): Promise<void> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`[${stage}] ${l}\n`));
  const { config, file } = loadExperimentConfig(opts.experiment);
  const experiment = config.experiment;
  const def = definition(config, stage);
  const fn = functionFor(stage);
  const hash = sectionHash(config, def.sections);
  const started = new Date();
  let run: StageRunHandle | undefined;
  const pending: { params: Record<string, unknown>; tags: Record<string, string>; metrics: Array<{ values: Record<string, number>; step?: number }>; artifacts: string[] } = {
    params: {},
    tags: {},
    metrics: [],
    artifacts: [],
  };
  const track: StageLogger = {
    params: (p) => Object.assign(pending.params, p),
    tags: (t) => Object.assign(pending.tags, t),
    metrics: (values, step) => {
      pending.metrics.push({ values, step });
      run?.metrics(values, step);
    },
    artifact: (rel) => pending.artifacts.push(rel),
  };
  const finalDir = stageDir(experiment, stage);
  try {
    run = await openStageRun({ experiment, config, stage, configHash: hash, log });
    await writeDirAtomic(finalDir, async (tmp) => {
      const ctx: StageContext = {
        experiment,
        config,
        configFile: file,
        stage,
        outDir: tmp,
        upstream: (s) => {
          const d = stageDir(experiment, s);
          if (!fs.existsSync(path.join(d, MANIFEST))) throw new InputError(`upstream stage '${s}' has no output at ${path.relative(WORKSPACE, d)}; run it first (nx run pipeline:${s})`);
          return d;
        },
        track,
        log,
      };
      const result = await fn(ctx);
      writeJsonAtomic(path.join(tmp, 'resolved-config.json'), config);
      writeJsonAtomic(path.join(tmp, MANIFEST), {
        schemaVersion: 1,
        stage,
        experiment,
        configHash: hash,
        configSections: def.sections,
        mlflowRunId: run?.runId ?? null,
        startedAt: started.toISOString(),
        finishedAt: new Date().toISOString(),
        gitCommit: gitCommit(),
        libraries: libraryVersions(),
        backend: process.env.FCN_BACKEND ?? null,
        ...result.summary,
      });
    });
    if (run) {
      await run.finish({ params: pending.params, tags: pending.tags, artifactsRoot: finalDir, artifacts: ['resolved-config.json', MANIFEST, ...pending.artifacts], status: 'FINISHED' });
    }
    log(`done in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s -> ${path.relative(WORKSPACE, finalDir)}`);
  } catch (e) {
    if (run) await run.finish({ params: pending.params, tags: pending.tags, artifactsRoot: undefined, artifacts: [], status: 'FAILED' }).catch(() => undefined);
    throw e;
  }
}

export { resolveWorkspacePath };
