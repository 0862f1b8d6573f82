/**
 * FaceCoresetNet's set aggregator: quality-aware differentiable farthest-point sampling of a
 * coreset, a norm encoding, one decoder layer, mean and normalisation (see REFERENCE.md).
 *
 * Two eval paths give the same results (parity-tested): 'fused' (default; float64 JS glue plus
 * tfjs matMuls, fast for every T) and 'tfjs' (the differentiable forward pass that training uses,
 * run in eval mode). Both accept batches of sets of any mix of sizes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@facecoreset/common';
import { AggregatorConfig, AggregatorConfigInput, aggregatorConfig } from './config';
import {
  AGGREGATOR_STATE_PREFIX,
  AggregatorParams,
  ParamTensor,
  StateDictTensor,
  aggregatorParamsFromStateDict,
  aggregatorParamsToStateDict,
  initAggregatorParams,
  usedAggregatorParamNames,
} from './params';
import { FusedEvalOptions, FusedEvaluator, FusedIntermediates } from './fused-eval';
import { AggregatorTfParams, TfForwardOptions, TfForwardResult, aggregatorForwardTf } from './tf-forward';
import { AggregateOutput, TemplateSet, checkSet, emptyAggregateOutput, setsFromBatch } from './types';

export type EvalPath = 'fused' | 'tfjs';

export interface AggregateOptions {
  /** 'fused' (default) or 'tfjs'. */
  path?: EvalPath;
  /** The official `only_FPS`: the aggregate is the mean of the coreset rows. */
  onlyFps?: boolean;
}

export class FaceCoresetNet {
  private fused: FusedEvaluator | undefined;

  private constructor(
    readonly config: AggregatorConfig,
    /** Live parameter values by official name; call parametersChanged() after editing them. */
    readonly params: AggregatorParams,
  ) {}

  /** A freshly initialised aggregator (official initialisation), seeded. */
  static create(config: AggregatorConfigInput = {}, seed = 0): FaceCoresetNet {
    const c = aggregatorConfig(config);
    return new FaceCoresetNet(c, initAggregatorParams(c, Rng.stream(seed, 'aggregator-init')));
  }

  /**
   * Reads the aggregator from a state dict whose keys carry `prefix` (default `aggregate_model.`,
   * as in FaceCoresetNet Lightning checkpoints). Missing or mis-shaped keys are errors naming the
   * key. Without an explicit config, D comes from `pos_trans_norm.weight` and γ is learned when
   * the dict holds `gamma`.
   */
  static fromStateDict(stateDict: ReadonlyMap<string, StateDictTensor>, prefix = AGGREGATOR_STATE_PREFIX, config: AggregatorConfigInput = {}, source = 'state dict'): FaceCoresetNet {
    const input: AggregatorConfigInput = { ...config };
    const ln = stateDict.get(prefix + 'pos_trans_norm.weight');
    if (input.embeddingSize === undefined && ln && ln.shape.length === 1) input.embeddingSize = ln.shape[0];
    if (input.gamma === undefined && !stateDict.has(prefix + 'gamma')) {
      throw new Error(`${source}: no key '${prefix}gamma': the aggregator was trained with a fixed gamma; pass its value as config.gamma`);
    }
    const c = aggregatorConfig(input);
    return new FaceCoresetNet(c, aggregatorParamsFromStateDict(c, stateDict, prefix, source));
  }

  /** Every parameter (used or not) under `prefix`, official order; values are shared. */
  toStateDict(prefix = AGGREGATOR_STATE_PREFIX): Map<string, ParamTensor> {
    return aggregatorParamsToStateDict(this.config, this.params, prefix);
  }

  /** Names of the parameters the forward pass reads (the trainable ones). */
  trainableParamNames(): string[] {
    return usedAggregatorParamNames(this.config);
  }

  /** Drops weights uploaded for the fused path; call after changing `params` in place. */
  parametersChanged(): void {
    this.fused?.dispose();
    this.fused = undefined;
  }

  dispose(): void {
    this.parametersChanged();
  }

  private evaluator(): FusedEvaluator {
    this.fused ??= new FusedEvaluator(this.config, this.params);
    return this.fused;
  }

  /** Eval-mode aggregation (zero-noise selection) of sets of any sizes. */
  aggregate(sets: readonly TemplateSet[], opts: AggregateOptions = {}): AggregateOutput {
    if ((opts.path ?? 'fused') === 'fused') return this.evaluator().run(sets, { onlyFps: opts.onlyFps }).output;
    return this.aggregateTf(sets, opts.onlyFps ?? false);
  }

  /**
   * Eval-mode aggregation of B sets of equal size T.
   * @param features [B, T, D] unit features
   * @param norms [B, T]
   */
  aggregateBatch(features: Float32Array, norms: Float32Array, batch: number, size: number, opts: AggregateOptions = {}): AggregateOutput {
    return this.aggregate(setsFromBatch(features, norms, batch, size, this.config.embeddingSize), opts);
  }

  /** The fused path with per-set intermediate values (for parity tests and debugging). */
  aggregateWithIntermediates(sets: readonly TemplateSet[], opts: Omit<FusedEvalOptions, 'intermediates'> = {}): { output: AggregateOutput; intermediates: FusedIntermediates[] } {
    const r = this.evaluator().run(sets, { ...opts, intermediates: true });
    return { output: r.output, intermediates: r.intermediates as FusedIntermediates[] };
  }

  /**
   * Tensors of the used parameters (new tensors; dispose them, or create them inside tf.tidy).
   * Training differentiates with respect to these. On the cpu backend they share memory with
   * `params`, so dispose them before the parameters change.
   */
  tfParams(): AggregatorTfParams {
    const out: AggregatorTfParams = {};
    for (const name of this.trainableParamNames()) {
      const p = this.params[name];
      out[name] = tf.tensor(p.data, p.shape);
    }
    return out;
  }

  /**
   * The differentiable forward pass on [B, T, D] features and [B, T] norms (equal T). Call inside
   * tf.tidy or a gradient function; `params` defaults to fresh tensors of this model's values.
   */
  forwardTf(features: tf.Tensor3D, norms: tf.Tensor2D, opts: TfForwardOptions, params?: AggregatorTfParams): TfForwardResult {
    return aggregatorForwardTf(this.config, params ?? this.tfParams(), features, norms, opts);
  }

  /** The tfjs path in eval mode: sets grouped by size, each group one batched forward pass. */
  private aggregateTf(sets: readonly TemplateSet[], onlyFps: boolean): AggregateOutput {
    const D = this.config.embeddingSize;
    const K = this.config.coresetSize;
    const out = emptyAggregateOutput(sets.length, D, K);
    const groups = new Map<number, number[]>();
    sets.forEach((s, b) => {
      const T = checkSet(s, D, `set ${b}`);
      if (!groups.has(T)) groups.set(T, []);
      (groups.get(T) as number[]).push(b);
    });
    for (const [T, members] of groups) {
      const G = members.length;
      const f = new Float32Array(G * T * D);
      const n = new Float32Array(G * T);
      members.forEach((b, g) => {
        f.set(sets[b].features, g * T * D);
        n.set(sets[b].norms, g * T);
      });
      const k = Math.min(K, T);
      const res = tf.tidy(() => {
        const { aggregate, norm, coreset, indices } = this.forwardTf(tf.tensor3d(f, [G, T, D]), tf.tensor2d(n, [G, T]), { mode: 'eval', onlyFps });
        return { aggregate, norm, coreset, indices };
      });
      const r = {
        aggregate: res.aggregate.dataSync() as Float32Array,
        norm: res.norm.dataSync() as Float32Array,
        coreset: res.coreset.dataSync() as Float32Array,
        indices: res.indices.dataSync() as Int32Array,
      };
      tf.dispose(Object.values(res));
      members.forEach((b, g) => {
        out.aggregate.set(r.aggregate.subarray(g * D, (g + 1) * D), b * D);
        out.norm[b] = r.norm[g];
        out.coreset.set(r.coreset.subarray(g * k * D, (g + 1) * k * D), b * K * D);
        out.indices.set(r.indices.subarray(g * k, (g + 1) * k), b * K);
        out.coresetSizes[b] = k;
      });
    }
    return out;
  }
}
