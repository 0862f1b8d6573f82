/**
 * `fcn aggregate`: one set through FaceCoresetNet (eval mode, zero-noise selection) or a baseline.
 * Reads .npy features [T,D] or [1,T,D] and norms [T], [T,1] or [1,T,1]; writes JSON.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { InputError, UsageError, readNpy, writeJsonAtomic, type NpyArray } from '@facecoreset/common';
import { aggregateBaseline, aggregateOfSet, initBackend, loadAggregatorCheckpoint, type AggregateOutput } from '@facecoreset/model';
import type { Command } from '../command';

const METHODS = ['facecoresetnet', 'mean', 'norm-weighted'] as const;
type Method = (typeof METHODS)[number];

export const AGGREGATE_USAGE = `Usage: fcn aggregate --features <file.npy> --norms <file.npy> --out <file.json>
                     [--checkpoint <.ckpt or .safetensors>] [--method facecoresetnet|mean|norm-weighted]
                     [--backend node-gpu|node|wasm|cpu]

Aggregates one set (template) of face features into one descriptor.
  --features    float32 .npy [T,512] or [1,T,512]: unit feature rows
  --norms       float32 .npy [T], [T,1] or [1,T,1]: the backbone norms (feature quality)
  --checkpoint  FaceCoresetNet checkpoint: the official Lightning .ckpt or ours (.safetensors);
                required for facecoresetnet (the default method)
  --method      facecoresetnet (default), mean (plain mean of unit features), norm-weighted
  --out         JSON: {"aggregate": [D floats], "norm": x, "coreset_indices": [...], "backend": "..."}`;

/** Checks shapes and values; returns T and D. */
export function checkSetArrays(features: NpyArray, norms: NpyArray, featuresFile: string, normsFile: string): { T: number; D: number; f: Float32Array; n: Float32Array } {
  const fs_ = features.shape;
  if (features.dtype !== 'float32' && features.dtype !== 'float64') throw new InputError(`expected float features, found dtype ${features.dtype}`, featuresFile);
  if (!(fs_.length === 2 || (fs_.length === 3 && fs_[0] === 1))) throw new InputError(`expected shape [T,D] or [1,T,D], found [${fs_.join(',')}]`, featuresFile);
  const T = fs_[fs_.length - 2];
  const D = fs_[fs_.length - 1];
  if (T === 0) throw new InputError('the set is empty (T = 0); expected at least one feature row', featuresFile);
  const ns = norms.shape;
  const okNorms = (ns.length === 1 && ns[0] === T) || (ns.length === 2 && ns[0] === T && ns[1] === 1) || (ns.length === 3 && ns[0] === 1 && ns[1] === T && ns[2] === 1);
  if (!okNorms) throw new InputError(`expected shape [${T}], [${T},1] or [1,${T},1] to match ${T} feature rows, found [${ns.join(',')}]`, normsFile);
  const f = Float32Array.from(features.data as ArrayLike<number>);
  const n = Float32Array.from(norms.data as ArrayLike<number>);
  for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i])) throw new InputError(`feature row ${Math.floor(i / D)} has a non-finite value (${f[i]})`, featuresFile);
  for (let t = 0; t < T; t++) {
    if (!Number.isFinite(n[t])) throw new InputError(`norm ${t} is not finite (${n[t]})`, normsFile);
    if (n[t] <= 0) throw new InputError(`norm ${t} is ${n[t]}; expected a positive backbone norm`, normsFile);
  }
  return { T, D, f, n };
}

export async function aggregateMain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: { features: { type: 'string' }, norms: { type: 'string' }, out: { type: 'string' }, checkpoint: { type: 'string' }, method: { type: 'string', default: 'facecoresetnet' }, backend: { type: 'string' } },
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (fcn aggregate --help)`);
  }
  const method = values.method as Method;
  if (!METHODS.includes(method)) throw new UsageError(`--method ${values.method}: expected one of ${METHODS.join(', ')}`);
  for (const k of ['features', 'norms', 'out'] as const) if (!values[k]) throw new UsageError(`--${k} is required (fcn aggregate --help)`);
  if (method === 'facecoresetnet' && !values.checkpoint) throw new UsageError('--checkpoint is required for --method facecoresetnet');
  const { T, D, f, n } = checkSetArrays(readNpy(values.features!), readNpy(values.norms!), values.features!, values.norms!);
  const backend = await initBackend({ backend: values.backend, log: null });
  let out: AggregateOutput;
  if (method === 'facecoresetnet') {
    const file = values.checkpoint!;
    if (!fs.existsSync(file)) throw new InputError('checkpoint not found', file);
    const { aggregator } = loadAggregatorCheckpoint(fs.readFileSync(file), file);
    if (aggregator.config.embeddingSize !== D) throw new InputError(`features have D = ${D} but the checkpoint's aggregator expects ${aggregator.config.embeddingSize}`, values.features);
    out = aggregator.aggregate([{ features: f, norms: n }]);
  } else {
    out = aggregateBaseline([{ features: f, norms: n }], D, method);
  }
  const set = aggregateOfSet(out, 0);
  writeJsonAtomic(values.out!, {
    method,
    set_size: T,
    aggregate: Array.from(set.aggregate),
    norm: set.norm,
    coreset_indices: set.indices,
    backend: backend.name,
  });
  return 0;
}

export const aggregateCommand: Command = {
  name: 'aggregate',
  summary: 'aggregate one set of face features (FaceCoresetNet or a baseline) into a descriptor',
  usage: AGGREGATE_USAGE,
  run: aggregateMain,
};
