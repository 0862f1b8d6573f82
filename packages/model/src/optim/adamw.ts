/**
 * AdamW with parameter groups, as torch.optim.AdamW (decoupled weight decay, bias-corrected
 * moments, no amsgrad): for each parameter with a gradient,
 *   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps)
 * Parameters without a gradient are skipped entirely (no decay), as torch does.
 * Values are float32 arrays updated in place; the arithmetic is float64. Parameters in shared
 * memory share the pass with a worker thread (parallel/shared-passes.ts).
 */
import { AdamWCoefficients } from '../parallel/pass-kernels';
import { PARALLEL_FROM, PassJob, isShared, runPasses } from '../parallel/shared-passes';

export interface AdamWGroup {
  /** parameter names in this group */
  params: string[];
  lr: number;
  weightDecay: number;
}

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
}

/** Per-parameter state: step count and both moments. */
export interface AdamWParamState {
  step: number;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
}

export class AdamW {
  readonly groups: AdamWGroup[];
  readonly betas: [number, number];
  readonly eps: number;
  /** state by parameter name (created on a parameter's first step) */
  readonly state = new Map<string, AdamWParamState>();

  constructor(groups: AdamWGroup[], opts: AdamWOptions = {}) {
    const seen = new Set<string>();
    for (const g of groups) {
      for (const p of g.params) {
        if (seen.has(p)) throw new Error(`AdamW: parameter '${p}' is in more than one group`);
        seen.add(p);
      }
      if (!(g.lr >= 0) || !(g.weightDecay >= 0)) throw new Error(`AdamW: lr and weightDecay must be non-negative, got ${g.lr}, ${g.weightDecay}`);
    }
    this.groups = groups.map((g) => ({ ...g, params: [...g.params] }));
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
  }

  /** Sets each group's learning rate (e.g. from a schedule), in group order. */
  setLearningRates(lrs: number[]): void {
    if (lrs.length !== this.groups.length) throw new Error(`AdamW.setLearningRates: ${lrs.length} rates for ${this.groups.length} groups`);
    lrs.forEach((lr, i) => (this.groups[i].lr = lr));
  }

  /**
   * One step. `params` maps names to live values; `grads` to gradients (a missing gradient skips
   * the parameter). Every gradient must belong to a group. `gradScale` multiplies every gradient
   * first (float32, as an in-place clip would), e.g. the clipping factor.
   */
  step(params: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, opts: { gradScale?: number } = {}): void {
    const scale = opts.gradScale ?? 1;
    const grouped = new Set(this.groups.flatMap((g) => g.params));
    for (const name of grads.keys()) if (!grouped.has(name)) throw new Error(`AdamW.step: gradient for '${name}', which is in no parameter group`);
    const [b1, b2] = this.betas;
    const updates: { p: Float32Array; g: Float32Array; st: AdamWParamState; k: AdamWCoefficients }[] = [];
    for (const group of this.groups) {
      for (const name of group.params) {
        const g = grads.get(name);
        if (!g) continue;
        const p = params.get(name);
        if (!p) throw new Error(`AdamW.step: no parameter values for '${name}'`);
        if (p.length !== g.length) throw new Error(`AdamW.step: '${name}' has ${p.length} values but its gradient ${g.length}`);
        let st = this.state.get(name);
        if (!st) this.state.set(name, (st = { step: 0, expAvg: sharedLike(p, new Float32Array(p.length)), expAvgSq: sharedLike(p, new Float32Array(p.length)) }));
        else if (isShared(p) && !isShared(st.expAvg)) {
          // e.g. moments restored from a checkpoint: move them to shared memory once.
          st.expAvg = sharedLike(p, st.expAvg);
          st.expAvgSq = sharedLike(p, st.expAvgSq);
        }
        st.step++;
        updates.push({
          p,
          g,
          st,
          k: {
            scale,
            decay: 1 - group.lr * group.weightDecay,
            stepSize: group.lr / (1 - Math.pow(b1, st.step)),
            invBc2Sqrt: 1 / Math.sqrt(1 - Math.pow(b2, st.step)),
            eps: this.eps,
            b1,
            b2,
          },
        });
      }
    }
    // The worker thread takes the tails of parameters in shared memory, up to half of all values.
    let workerBudget = Math.floor(updates.reduce((n, u) => n + u.p.length, 0) / 2);
    const local: PassJob[] = [];
    const worker: PassJob[] = [];
    for (const { p, g, st, k } of updates) {
      const args = [p, g, st.expAvg, st.expAvgSq, k];
      const n = p.length;
      const take = n >= PARALLEL_FROM && [p, g, st.expAvg, st.expAvgSq].every(isShared) ? Math.min(n, workerBudget) : 0;
      workerBudget -= take;
      if (take > 0) worker.push({ kernel: 'adamwRange', args, start: n - take, end: n });
      if (take < n) local.push({ kernel: 'adamwRange', args, start: 0, end: n - take });
    }
    runPasses(local, worker);
  }
}

/** `values` in shared memory when `like` is (a copy), else `values` itself. */
function sharedLike(like: Float32Array, values: Float32Array): Float32Array {
  if (!isShared(like) || isShared(values)) return values;
  const out = new Float32Array(new SharedArrayBuffer(values.length * 4));
  out.set(values);
  return out;
}
