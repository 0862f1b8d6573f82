/**
 * Loads configs/<experiment>.json: environment substitution (${FCN_DATA_ROOT}), strict validation,
 * defaults, and a check that every raw input path exists — one message listing every problem,
 * before any stage runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '@facecoreset/common';
import { ExperimentConfig } from './schema';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const stagesTable = require('../../nx/stages.js') as {
  WORKSPACE: string;
  substituteEnv<T>(v: T): T;
  experimentName(): string;
  configPath(experiment: string): string;
  resolvePath(p: string): string;
};

export const WORKSPACE: string = stagesTable.WORKSPACE;
export const resolveWorkspacePath: (p: string) => string = stagesTable.resolvePath;

export function selectedExperiment(): string {
  return stagesTable.experimentName();
}

function issuesOf(error: { issues: Array<{ path: PropertyKey[]; message: string; code: string; keys?: string[] }> }): string[] {
  return error.issues.map((i) => {
    const where = i.path.map(String).join('.') || '(top level)';
    if (i.code === 'unrecognized_keys' && i.keys) return `${where}: unknown key(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`;
    return `${where}: ${i.message}`;
  });
}

/** Parses and validates a config object; `file` labels errors. */
export function parseExperimentConfig(raw: unknown, file: string): ExperimentConfig {
  const substituted = stagesTable.substituteEnv(raw);
  const unresolved = JSON.stringify(substituted).match(/\$\{[A-Z0-9_]+\}/g);
  const result = ExperimentConfig.safeParse(substituted);
  const problems: string[] = [];
  if (unresolved) problems.push(`environment variable(s) not set: ${[...new Set(unresolved)].join(', ')}`);
  if (!result.success) problems.push(...issuesOf(result.error as never));
  if (problems.length || !result.success) throw new InputError(`invalid experiment config: ${problems.join('; ')}`, file);
  return result.data;
}

/** Raw input paths the config names, with what each must be. */
export function rawInputPaths(config: ExperimentConfig): Array<{ key: string; path: string; kind: 'file' | 'dir' }> {
  const out: Array<{ key: string; path: string; kind: 'file' | 'dir' }> = [];
  const generated = config.data.synth !== undefined;
  if (!generated) {
    out.push({ key: 'data.train.path', path: config.data.train.path, kind: 'dir' });
    out.push({ key: 'data.ijb.root', path: config.data.ijb.root, kind: 'dir' });
  }
  for (const [ds, p] of Object.entries(config.data.ijb.featuresPickle ?? {})) out.push({ key: `data.ijb.featuresPickle.${ds}`, path: p, kind: 'file' });
  if (config.backbone.mode === 'import') out.push({ key: 'backbone.checkpoint', path: config.backbone.checkpoint, kind: 'file' });
  if (config.eval.officialCheckpoint) out.push({ key: 'eval.officialCheckpoint', path: config.eval.officialCheckpoint, kind: 'file' });
  return out;
}

/** Checks that every raw input exists; one error listing all missing ones. */
export function checkRawInputs(config: ExperimentConfig, file: string): void {
  const missing = rawInputPaths(config).filter((r) => {
    const p = resolveWorkspacePath(r.path);
    if (!fs.existsSync(p)) return true;
    return r.kind === 'dir' ? !fs.statSync(p).isDirectory() : !fs.statSync(p).isFile();
  });
  if (missing.length) throw new InputError(`missing input(s): ${missing.map((m) => `${m.key} = ${m.path} (expected a ${m.kind === 'dir' ? 'folder' : 'file'})`).join('; ')}`, file);
}

export function loadExperimentConfig(experiment = selectedExperiment()): { config: ExperimentConfig; file: string } {
  const file = stagesTable.configPath(experiment);
  if (!fs.existsSync(file)) throw new InputError(`no such experiment config (FCN_EXPERIMENT=${experiment})`, path.relative(process.cwd(), file));
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`not valid JSON: ${(e as Error).message}`, file);
  }
  const config = parseExperimentConfig(raw, file);
  if (config.experiment !== experiment) throw new InputError(`"experiment" is '${config.experiment}' but the file is named ${experiment}.json`, file);
  return { config, file };
}
