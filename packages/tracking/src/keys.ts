/**
 * MLflow's rules for keys and values, checked before anything is written or sent so that a bad
 * key fails here with a clear message instead of half-way through a run on the server.
 */
import * as path from 'node:path';

/** Limits of an MLflow 3.x tracking server (mlflow/utils/validation.py). */
export const MLFLOW_LIMITS = {
  maxKeyLength: 250,
  /** Longer param values are cut by the server without an error; we cut them and say so in a tag. */
  maxParamValueLength: 6000,
  maxTagValueLength: 8000,
  maxExperimentNameLength: 500,
  batchMaxMetrics: 1000,
  batchMaxParams: 100,
  batchMaxTags: 100,
  batchMaxItems: 1000,
  /** Bytes of one log-batch request body. */
  batchMaxBytes: 1_000_000,
} as const;

/** Tags in which we record keys whose values were cut to the server's length limit. */
export const TRUNCATED_PARAMS_TAG = 'fcn.truncated_params';
export const TRUNCATED_TAGS_TAG = 'fcn.truncated_tags';

const KEY_CHARS = /^[A-Za-z0-9_\-. :/]+$/;

export type KeyKind = 'metric' | 'param' | 'tag';

export class InvalidKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidKeyError';
  }
}

/** Throws InvalidKeyError unless `key` is a valid MLflow metric/param/tag key. */
export function validateKey(kind: KeyKind, key: string): void {
  const shown = JSON.stringify(key.length > 80 ? key.slice(0, 80) + '…' : key);
  if (typeof key !== 'string' || key.length === 0) throw new InvalidKeyError(`invalid ${kind} key ${shown}: a key must not be empty`);
  if (key.length > MLFLOW_LIMITS.maxKeyLength) {
    throw new InvalidKeyError(`invalid ${kind} key ${shown}: ${key.length} characters, at most ${MLFLOW_LIMITS.maxKeyLength} allowed`);
  }
  if (!KEY_CHARS.test(key)) {
    const bad = [...key].find((c) => !KEY_CHARS.test(c));
    throw new InvalidKeyError(
      `invalid ${kind} key ${shown}: character ${JSON.stringify(bad)} not allowed (letters, digits, _ - . space : / only)`,
    );
  }
  // The file store turns keys into paths: a key must not resolve to another name.
  if (key.includes('..')) throw new InvalidKeyError(`invalid ${kind} key ${shown}: '..' is not allowed`);
  // Python's posixpath.normpath (what MLflow checks with) also drops a trailing '/'.
  const normalised = path.posix.normalize(key).replace(/(.)\/+$/, '$1');
  if (normalised !== key || key.startsWith('/') || normalised === '.') {
    throw new InvalidKeyError(`invalid ${kind} key ${shown}: as a path it would resolve to ${JSON.stringify(normalised)} (no leading, trailing or double '/')`);
  }
}

export function validateExperimentName(name: string): void {
  if (!name || name.trim() === '') throw new InvalidKeyError('invalid experiment name: must not be empty');
  if (name.length > MLFLOW_LIMITS.maxExperimentNameLength) {
    throw new InvalidKeyError(`invalid experiment name: ${name.length} characters, at most ${MLFLOW_LIMITS.maxExperimentNameLength} allowed`);
  }
}

/** MLflow run ids: an alphanumeric first character, then word characters or dashes, at most 256. */
export function validateRunId(runId: string): void {
  if (!/^[A-Za-z0-9][\w-]{0,255}$/.test(runId)) throw new InvalidKeyError(`invalid run id ${JSON.stringify(runId)}`);
}

export function validateMetricPoint(p: { key: string; value: number; step: number; timestamp: number }): void {
  validateKey('metric', p.key);
  if (typeof p.value !== 'number') throw new InvalidKeyError(`metric ${JSON.stringify(p.key)}: value must be a number, got ${typeof p.value}`);
  if (!Number.isSafeInteger(p.step)) throw new InvalidKeyError(`metric ${JSON.stringify(p.key)}: step must be an integer, got ${p.step}`);
  if (!Number.isSafeInteger(p.timestamp) || p.timestamp < 0) {
    throw new InvalidKeyError(`metric ${JSON.stringify(p.key)}: timestamp must be a non-negative integer (ms), got ${p.timestamp}`);
  }
}

/**
 * Flattens a nested config into MLflow params: `{train: {lr: 0.1}}` -> `{'train.lr': '0.1'}`.
 * Arrays are kept whole as JSON (`[1e-6, 1e-4]` reads better than one param per element).
 */
export function flattenParams(value: Record<string, unknown>, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const nested = flattenParams(v as Record<string, unknown>, key);
      if (Object.keys(nested).length === 0) out[key] = '{}';
      Object.assign(out, nested);
    } else if (v === undefined) {
      continue;
    } else {
      out[key] = typeof v === 'string' ? v : JSON.stringify(v);
    }
  }
  return out;
}

export interface CutValues {
  values: Record<string, string>;
  /** Keys whose value was longer than the limit. */
  cut: string[];
}

/** Cuts each value to `limit` characters; lists the keys that were cut. */
export function cutValues(values: Record<string, string>, limit: number): CutValues {
  const out: Record<string, string> = {};
  const cut: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (v.length > limit) {
      out[k] = v.slice(0, limit);
      cut.push(k);
    } else out[k] = v;
  }
  return { values: out, cut };
}

/**
 * Params and tags ready to log: keys validated, values cut to the server's limits, and a
 * `fcn.truncated_params` / `fcn.truncated_tags` tag naming the keys that were cut.
 */
export function prepareParams(params: Record<string, unknown>): { params: Record<string, string>; tags: Record<string, string> } {
  const flat = flattenParams(params);
  for (const k of Object.keys(flat)) validateKey('param', k);
  const { values, cut } = cutValues(flat, MLFLOW_LIMITS.maxParamValueLength);
  const tags: Record<string, string> = {};
  if (cut.length) tags[TRUNCATED_PARAMS_TAG] = cut.join(',').slice(0, MLFLOW_LIMITS.maxTagValueLength);
  return { params: values, tags };
}

export function prepareTags(tags: Record<string, string>): Record<string, string> {
  const asStrings: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    validateKey('tag', k);
    asStrings[k] = String(v);
  }
  const { values, cut } = cutValues(asStrings, MLFLOW_LIMITS.maxTagValueLength);
  if (cut.length) values[TRUNCATED_TAGS_TAG] = cut.join(',').slice(0, MLFLOW_LIMITS.maxTagValueLength);
  return values;
}
