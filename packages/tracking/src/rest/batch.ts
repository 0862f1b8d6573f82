/**
 * Splits metrics, params and tags into log-batch requests within the server's limits: at most
 * 1000 metrics, 100 params, 100 tags, 1000 items and 1 MB of JSON per request. Order is kept, so
 * a metric's points arrive in the order they were logged.
 */
import { MLFLOW_LIMITS } from '../keys';
import type { KeyValue, MetricPoint } from '../types';

export interface LogBatch {
  metrics: MetricPoint[];
  params: KeyValue[];
  tags: KeyValue[];
}

export interface BatchLimits {
  maxMetrics: number;
  maxParams: number;
  maxTags: number;
  maxItems: number;
  maxBytes: number;
}

export const SERVER_BATCH_LIMITS: BatchLimits = {
  maxMetrics: MLFLOW_LIMITS.batchMaxMetrics,
  maxParams: MLFLOW_LIMITS.batchMaxParams,
  maxTags: MLFLOW_LIMITS.batchMaxTags,
  maxItems: MLFLOW_LIMITS.batchMaxItems,
  maxBytes: MLFLOW_LIMITS.batchMaxBytes,
};

/** Bytes of the request body `{"run_id": ..., "metrics": [...], ...}` for these items. */
const ENVELOPE_BYTES = 128;

/** The JSON of one metric as sent (non-finite values as the strings MLflow's JSON parser accepts). */
export function metricJson(m: MetricPoint): Record<string, unknown> {
  const value = Number.isNaN(m.value) ? 'NaN' : m.value === Infinity ? 'Infinity' : m.value === -Infinity ? '-Infinity' : m.value;
  return { key: m.key, value, timestamp: m.timestamp, step: m.step };
}

function itemBytes(item: unknown): number {
  return Buffer.byteLength(JSON.stringify(item)) + 1; // + the comma
}

export function splitBatch(input: LogBatch, limits: BatchLimits = SERVER_BATCH_LIMITS, runIdLength = 32): LogBatch[] {
  const batches: LogBatch[] = [];
  let cur: LogBatch = { metrics: [], params: [], tags: [] };
  let bytes = ENVELOPE_BYTES + runIdLength;
  const flush = (): void => {
    if (cur.metrics.length + cur.params.length + cur.tags.length > 0) batches.push(cur);
    cur = { metrics: [], params: [], tags: [] };
    bytes = ENVELOPE_BYTES + runIdLength;
  };
  const add = (kind: keyof LogBatch, item: MetricPoint | KeyValue, size: number, max: number): void => {
    if (ENVELOPE_BYTES + runIdLength + size > limits.maxBytes) {
      throw new Error(`one ${kind.slice(0, -1)} ('${item.key}') is ${size} bytes of JSON, over the ${limits.maxBytes}-byte request limit`);
    }
    const items = cur.metrics.length + cur.params.length + cur.tags.length;
    if ((cur[kind] as unknown[]).length >= max || items >= limits.maxItems || bytes + size > limits.maxBytes) flush();
    (cur[kind] as unknown[]).push(item);
    bytes += size;
  };
  // Params and tags first: they are few and a run's identity (parent, stage) should land early.
  for (const p of input.params) add('params', p, itemBytes(p), limits.maxParams);
  for (const t of input.tags) add('tags', t, itemBytes(t), limits.maxTags);
  for (const m of input.metrics) add('metrics', m, itemBytes(metricJson(m)), limits.maxMetrics);
  flush();
  return batches;
}
