/**
 * Test helpers for ../shared/fixtures/reference/aggregator: .npy arrays, the manifest, and the
 * checkpoint's state dict.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NpyArray, readNpy, readTorchCheckpoint } from '@facecoreset/common';

export const AGGREGATOR_FIXTURES = path.resolve(__dirname, '../../../../../shared/fixtures/reference/aggregator');

export function npy(rel: string): NpyArray {
  return readNpy(path.join(AGGREGATOR_FIXTURES, rel));
}

export function floats(rel: string): Float32Array {
  const a = npy(rel);
  return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number>);
}

export function ints(rel: string): number[] {
  return Array.from(npy(rel).data as ArrayLike<number>);
}

let manifestCache: any;
export function manifest(): any {
  manifestCache ??= JSON.parse(fs.readFileSync(path.join(AGGREGATOR_FIXTURES, 'manifest.json'), 'utf8'));
  return manifestCache;
}

export interface FixtureTensor {
  shape: number[];
  data: Float32Array;
}

let stateDictCache: Map<string, FixtureTensor> | undefined;

/** The checkpoint's state dict (aggregate_model.* and head.*) through the common checkpoint reader. */
export function checkpointStateDict(): Map<string, FixtureTensor> {
  if (stateDictCache) return stateDictCache;
  const file = path.join(AGGREGATOR_FIXTURES, 'facecoresetnet_random.ckpt');
  const ckpt = readTorchCheckpoint(new Uint8Array(fs.readFileSync(file)), file);
  stateDictCache = new Map([...ckpt.stateDict].map(([k, t]) => [k, { shape: [...t.shape], data: t.data as Float32Array }]));
  return stateDictCache;
}

export const EVAL_CASES = ['T1', 'T2', 'T3', 'T7', 'T20', 'T100', 'T30video'] as const;

export function evalCase(name: string) {
  const c = manifest().eval_cases[name];
  const T: number = c.T;
  return {
    T,
    features: floats(c.inputs.features),
    norms: floats(c.inputs.norms),
    aggregate: floats(c.expected.aggregated_feature_norm),
    norm: floats(c.expected.norms)[0],
    coreset: floats(c.expected.FPS_sample),
    indices: ints(c.expected.indices),
    scaledLogits: floats(c.expected.fps_scaled_logits),
    intermediate: (n: string) => floats(c.intermediates[n].file),
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** ‖a − b‖ / ‖b‖ */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Rows 0, 8, 16, ... of a [R, C] matrix (numpy [::8]). */
export function everyEighthRow(data: Float32Array, cols: number): Float32Array {
  const rows = data.length / cols;
  const out = new Float32Array(Math.ceil(rows / 8) * cols);
  for (let r = 0, o = 0; r < rows; r += 8, o++) out.set(data.subarray(r * cols, (r + 1) * cols), o * cols);
  return out;
}
