/**
 * The aggregator's parameters as a named record whose keys are the official state_dict names
 * without the `aggregate_model.` prefix, so an official checkpoint maps onto it one to one.
 *
 * The official module also registers tensors its forward pass never reads (tau,
 * feature_norm_normalizer, ur_center, dist_from_ur_center_norm_size_balance, quality_measure,
 * self_attn2, multihead_attn2/3, norm3/norm4). They are kept and saved unchanged so a checkpoint
 * round-trips, and they never receive gradients.
 */
import { Rng } from '@facecoreset/common';
import { AggregatorConfig } from './config';
import { sharedFloat32 } from '../parallel/shared-passes';

/** One parameter tensor: C-order float32 values. */
export interface ParamTensor {
  shape: number[];
  data: Float32Array;
}

/** One tensor of a state dict as readers hand it over (float16 already widened). */
export interface StateDictTensor {
  shape: readonly number[];
  data: ArrayLike<number>;
}

const ATTENTION_MODULES = ['self_attn1', 'self_attn2', 'multihead_attn1', 'multihead_attn2', 'multihead_attn3'] as const;
const NORMS = ['norm1', 'norm2', 'norm3', 'norm4'] as const;

/** Parameters the forward pass reads (they are the ones that get gradients). */
export const USED_AGGREGATOR_PARAMS = [
  'gamma',
  'decoder_layer1.self_attn1.in_proj_weight',
  'decoder_layer1.self_attn1.in_proj_bias',
  'decoder_layer1.self_attn1.out_proj.weight',
  'decoder_layer1.self_attn1.out_proj.bias',
  'decoder_layer1.multihead_attn1.in_proj_weight',
  'decoder_layer1.multihead_attn1.in_proj_bias',
  'decoder_layer1.multihead_attn1.out_proj.weight',
  'decoder_layer1.multihead_attn1.out_proj.bias',
  'decoder_layer1.norm1.weight',
  'decoder_layer1.norm1.bias',
  'decoder_layer1.norm2.weight',
  'decoder_layer1.norm2.bias',
  'pos_trans_norm.weight',
  'pos_trans_norm.bias',
] as const;

export type AggregatorParams = Record<string, ParamTensor>;

/** Official prefix of the aggregator inside a FaceCoresetNet Lightning checkpoint. */
export const AGGREGATOR_STATE_PREFIX = 'aggregate_model.';

/**
 * Every parameter name with its shape, in the official state_dict order. γ is a parameter only
 * when learned (a fixed γ lives in the config, as in the official code).
 */
export function aggregatorParamShapes(config: AggregatorConfig): [string, number[]][] {
  const D = config.embeddingSize;
  const out: [string, number[]][] = [];
  if (config.gamma === 'learned') out.push(['gamma', []]);
  out.push(['tau', []], ['feature_norm_normalizer', []], ['ur_center', [D]], ['dist_from_ur_center_norm_size_balance', []]);
  for (const m of ATTENTION_MODULES) {
    const p = `decoder_layer1.${m}.`;
    out.push([p + 'in_proj_weight', [3 * D, D]], [p + 'in_proj_bias', [3 * D]], [p + 'out_proj.weight', [D, D]], [p + 'out_proj.bias', [D]]);
  }
  for (const n of NORMS) out.push([`decoder_layer1.${n}.weight`, [D]], [`decoder_layer1.${n}.bias`, [D]]);
  out.push(['pos_trans_norm.weight', [D]], ['pos_trans_norm.bias', [D]], ['quality_measure.weight', [1, D]], ['quality_measure.bias', [1]]);
  return out;
}

/** Names of the parameters the forward pass reads under this config (γ only when learned). */
export function usedAggregatorParamNames(config: AggregatorConfig): string[] {
  return USED_AGGREGATOR_PARAMS.filter((n) => n !== 'gamma' || config.gamma === 'learned');
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function shapeText(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

function uniform(rng: Rng, n: number, bound: number): Float32Array {
  // The big matrices go to shared memory, where training hands passes over them to a worker thread.
  const out = sharedFloat32(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.float() - 1) * bound;
  return out;
}

const logit = (p: number) => Math.log(p / (1 - p));

/**
 * Fresh parameters initialised the way the official module's constructor does: xavier-uniform
 * attention input projections with zero biases, kaiming-uniform (a = √5) output projections and
 * quality_measure, LayerNorms 1/0, γ = gammaInit, τ = 0, feature_norm_normalizer = logit(1/20),
 * dist_from_ur_center_norm_size_balance = logit(0.2). `ur_center` is uninitialised memory in the
 * official code (and never read); it starts at zero here.
 */
export function initAggregatorParams(config: AggregatorConfig, rng: Rng): AggregatorParams {
  const D = config.embeddingSize;
  const params: AggregatorParams = {};
  const kaimingBound = 1 / Math.sqrt(D);
  for (const [name, shape] of aggregatorParamShapes(config)) {
    const n = numel(shape);
    let data: Float32Array;
    if (name === 'gamma') data = Float32Array.of(config.gammaInit);
    else if (name === 'feature_norm_normalizer') data = Float32Array.of(logit(1 / 20));
    else if (name === 'dist_from_ur_center_norm_size_balance') data = Float32Array.of(logit(0.2));
    else if (name.endsWith('in_proj_weight')) data = uniform(rng, n, Math.sqrt(6 / (D + 3 * D)));
    else if (name.endsWith('out_proj.weight') || name === 'quality_measure.weight') data = uniform(rng, n, kaimingBound);
    else if (name === 'quality_measure.bias') data = uniform(rng, n, kaimingBound);
    else if (/norm\d?\.weight$/.test(name) || name === 'pos_trans_norm.weight') data = new Float32Array(n).fill(1);
    else data = new Float32Array(n);
    params[name] = { shape: [...shape], data };
  }
  return params;
}

/**
 * Reads the aggregator from a state dict (e.g. a Lightning checkpoint's, whose keys start with
 * `aggregate_model.`). Every expected key must be present with the expected shape; extra keys under
 * the prefix are an error too (they would be lost on save). Values are copied.
 */
export function aggregatorParamsFromStateDict(
  config: AggregatorConfig,
  stateDict: ReadonlyMap<string, StateDictTensor>,
  prefix = AGGREGATOR_STATE_PREFIX,
  source = 'state dict',
): AggregatorParams {
  const params: AggregatorParams = {};
  const expected = aggregatorParamShapes(config);
  for (const [name, shape] of expected) {
    const key = prefix + name;
    const t = stateDict.get(key);
    if (!t) {
      const hint = name === 'gamma' ? ' (a checkpoint without gamma was trained with a fixed gamma: set config.gamma to its value)' : '';
      throw new Error(`${source}: missing key '${key}' (expected shape ${shapeText(shape)})${hint}`);
    }
    const sameShape = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
    if (!sameShape) throw new Error(`${source}: key '${key}' has shape ${shapeText(t.shape)}, expected ${shapeText(shape)}`);
    if (t.data.length !== numel(shape)) throw new Error(`${source}: key '${key}' holds ${t.data.length} values, expected ${numel(shape)} for shape ${shapeText(shape)}`);
    const data = sharedFloat32(t.data.length);
    data.set(t.data);
    params[name] = { shape: [...shape], data };
  }
  const known = new Set(expected.map(([n]) => prefix + n));
  const extra = [...stateDict.keys()].filter((k) => k.startsWith(prefix) && !known.has(k));
  if (extra.length) {
    const hint = extra.includes(prefix + 'gamma') ? ' (the checkpoint has a learned gamma: use config.gamma = "learned")' : '';
    throw new Error(`${source}: unexpected key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `'${k}'`).join(', ')} under '${prefix}'${hint}`);
  }
  return params;
}

/** The parameters as a state dict with the given key prefix (values are shared, not copied). */
export function aggregatorParamsToStateDict(config: AggregatorConfig, params: AggregatorParams, prefix = AGGREGATOR_STATE_PREFIX): Map<string, ParamTensor> {
  const out = new Map<string, ParamTensor>();
  for (const [name] of aggregatorParamShapes(config)) {
    const p = params[name];
    if (!p) throw new Error(`aggregator parameters lack '${name}'`);
    out.set(prefix + name, p);
  }
  return out;
}

/** A deep copy (e.g. to keep the weights before an optimiser step). */
export function cloneParams(params: AggregatorParams): AggregatorParams {
  const out: AggregatorParams = {};
  for (const [k, v] of Object.entries(params)) out[k] = { shape: [...v.shape], data: v.data.slice() };
  return out;
}
