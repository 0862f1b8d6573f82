/**
 * `<out>/extract.json`: what an output folder's parts were computed from and how (input table,
 * checkpoint, views, seed, augmentations, rows per part). A rerun or another shard writing into
 * the folder, and a merge of shard folders, must agree with it; otherwise parts computed with
 * different settings would be mixed into one table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, writeJsonAtomic } from '@facecoreset/common';
import type { SourceFingerprint } from '@facecoreset/data';
import type { IResNetConfig } from '@facecoreset/model';
import type { AugmentOptions } from '../lib/augment';
import type { InputTableKind } from './input-table';

export const RUN_PLAN_FILE = 'extract.json';
export const RUN_PLAN_FORMAT = 'facecoreset.extract-plan';
export const RUN_PLAN_VERSION = 1;

export interface RunPlan {
  format: typeof RUN_PLAN_FORMAT;
  version: typeof RUN_PLAN_VERSION;
  input: { kind: InputTableKind; rows: number; source: SourceFingerprint };
  checkpoint: { file: string; size: number; sha256: string; sampled: boolean; architecture: string; config: IResNetConfig };
  /** The --views spec and the view ids it names. */
  viewsSpec: string;
  views: number[];
  seed: number;
  augment: AugmentOptions;
  /** Input rows per part file. */
  partRows: number;
  /** Embedding length D. */
  dim: number;
}

/** The fields that decide the features; paths and file names are left out (folders move). */
function identity(p: RunPlan): Record<string, unknown> {
  return {
    'input table': p.input.kind,
    'input rows': p.input.rows,
    'input content': p.input.source.digest,
    'checkpoint content': `${p.checkpoint.size}:${p.checkpoint.sha256}`,
    architecture: p.checkpoint.config,
    views: p.views,
    seed: p.seed,
    augmentations: p.augment,
    'rows per part': p.partRows,
    'embedding size': p.dim,
  };
}

/** @throws InputError naming `file` and the first setting that differs. */
export function requireSamePlan(found: RunPlan, wanted: RunPlan, file: string, hint: string): void {
  const a = identity(found);
  const b = identity(wanted);
  for (const key of Object.keys(b)) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) {
      throw new InputError(`${key} differs: the folder holds parts made with ${JSON.stringify(a[key])}, this run uses ${JSON.stringify(b[key])}; ${hint}`, file);
    }
  }
}

export function readRunPlan(dir: string): RunPlan {
  const file = path.join(dir, RUN_PLAN_FILE);
  if (!fs.existsSync(file)) throw new InputError(`${RUN_PLAN_FILE} not found: not an extraction output folder`, dir);
  let plan: RunPlan;
  try {
    plan = JSON.parse(fs.readFileSync(file, 'utf8')) as RunPlan;
  } catch (e) {
    throw new InputError(`not JSON (${e instanceof Error ? e.message : String(e)})`, file);
  }
  if (plan.format !== RUN_PLAN_FORMAT || plan.version !== RUN_PLAN_VERSION) {
    throw new InputError(`expected format ${RUN_PLAN_FORMAT} version ${RUN_PLAN_VERSION}, found ${JSON.stringify(plan.format)} version ${JSON.stringify(plan.version)}`, file);
  }
  return plan;
}

/**
 * Records the plan in a new folder, or checks an existing folder's plan matches.
 * @throws InputError when the folder holds parts made with other settings.
 */
export function adoptRunPlan(dir: string, plan: RunPlan): void {
  const file = path.join(dir, RUN_PLAN_FILE);
  if (fs.existsSync(file)) {
    requireSamePlan(readRunPlan(dir), plan, file, 'use another --out folder, or delete this one to start over');
    return;
  }
  writeJsonAtomic(file, plan);
}
