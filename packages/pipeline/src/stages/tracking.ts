/**
 * MLflow for the pipeline: `prepare` opens a parent run per invocation and records its id in
 * artifacts/<experiment>/.invocation.json (not a cached output); every executed stage logs a child
 * run under it. Stages served from the Nx cache log nothing; `full` links their earlier runs to
 * the parent by tag. Tracking never fails a stage: a down server leaves the runs in the local
 * store's outbox, sent by the next run or by `fcn mlflow sync`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeJsonAtomic } from '@facecoreset/common';
import { openTracker, type Tracker } from '@facecoreset/tracking';
import type { ExperimentConfig } from '../config';
import { resolveWorkspacePath, WORKSPACE } from '../config';
import { gitCommit } from './provenance';

export interface Invocation {
  parentRunId: string;
  experimentName: string;
  startedAt: string;
}

export function invocationFile(experiment: string): string {
  return path.join(WORKSPACE, 'artifacts', experiment, '.invocation.json');
}

export function readInvocation(experiment: string): Invocation | undefined {
  try {
    return JSON.parse(fs.readFileSync(invocationFile(experiment), 'utf8')) as Invocation;
  } catch {
    return undefined;
  }
}

export async function trackerFor(config: ExperimentConfig): Promise<Tracker> {
  return openTracker({
    uri: process.env.MLFLOW_TRACKING_URI || undefined,
    mlrunsDir: resolveWorkspacePath(config.tracking.mlrunsDir),
    experiment: config.tracking.experimentName,
  });
}

/** Opens the invocation's parent run (called by `prepare`). */
export async function openInvocation(config: ExperimentConfig, log: (l: string) => void): Promise<Invocation | undefined> {
  try {
    const tracker = await trackerFor(config);
    const parentRunId = await tracker.startRun({
      name: `pipeline ${config.experiment} ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
      tags: { 'fcn.kind': 'pipeline', 'fcn.experiment': config.experiment, ...(gitCommit() ? { 'mlflow.source.git.commit': gitCommit()! } : {}) },
    });
    await tracker.logParams(parentRunId, config as unknown as Record<string, unknown>);
    await tracker.close();
    const inv: Invocation = { parentRunId, experimentName: config.tracking.experimentName, startedAt: new Date().toISOString() };
    writeJsonAtomic(invocationFile(config.experiment), inv);
    log(`MLflow: pipeline run ${parentRunId} in ${tracker.location}`);
    return inv;
  } catch (e) {
    log(`MLflow: could not open the pipeline run (${(e as Error).message}); continuing without tracking`);
    return undefined;
  }
}

export interface StageRunHandle {
  runId: string;
  metrics(values: Record<string, number>, step?: number): void;
  finish(args: { params: Record<string, unknown>; tags: Record<string, string>; artifactsRoot: string | undefined; artifacts: string[]; status: 'FINISHED' | 'FAILED' }): Promise<void>;
}

/** Starts the child run of a stage; undefined when tracking is unavailable (logged, not fatal). */
export async function openStageRun(args: { experiment: string; config: ExperimentConfig; stage: string; configHash: string; log: (l: string) => void }): Promise<StageRunHandle | undefined> {
  const { config, stage, log } = args;
  let tracker: Tracker;
  let runId: string;
  try {
    tracker = await trackerFor(config);
    const inv = readInvocation(args.experiment);
    runId = await tracker.startRun({
      name: stage,
      parentRunId: inv?.parentRunId,
      tags: {
        'fcn.kind': 'stage',
        'fcn.stage': stage,
        'fcn.experiment': args.experiment,
        'fcn.config_hash': args.configHash,
        'fcn.backend': process.env.FCN_BACKEND || 'auto',
        ...(process.env.NX_TASK_HASH ? { 'fcn.nx_task_hash': process.env.NX_TASK_HASH } : {}),
        ...(gitCommit() ? { 'mlflow.source.git.commit': gitCommit()! } : {}),
      },
    });
  } catch (e) {
    log(`MLflow: tracking unavailable (${(e as Error).message}); the stage runs untracked`);
    return undefined;
  }
  // Metrics stream in during the stage; they are sent in order, and failures are reported once.
  let chain: Promise<void> = Promise.resolve();
  let warned = false;
  const safe = (p: () => Promise<void>) => {
    chain = chain.then(p).catch((e) => {
      if (!warned) log(`MLflow: ${(e as Error).message} (kept for sync)`);
      warned = true;
    });
  };
  return {
    runId,
    metrics: (values, step) => safe(() => tracker.logMetrics(runId, values, { step })),
    finish: async ({ params, tags, artifactsRoot, artifacts, status }) => {
      safe(() => tracker.logParams(runId, params));
      if (Object.keys(tags).length) safe(() => tracker.setTags(runId, tags));
      if (artifactsRoot) {
        for (const rel of artifacts) {
          const p = path.join(artifactsRoot, rel);
          if (fs.existsSync(p)) safe(() => tracker.logArtifact(runId, p, path.dirname(rel) === '.' ? undefined : path.dirname(rel)));
        }
      }
      safe(() => tracker.endRun(runId, status));
      await chain;
      await tracker.close().catch(() => undefined);
    },
  };
}
