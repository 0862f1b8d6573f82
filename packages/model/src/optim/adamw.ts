/**
 * AdamW with parameter groups, as torch.optim.AdamW (decoupled weight decay, bias-corrected
 * moments, no amsgrad): for each parameter with a gradient,
 *   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps)
 * Parameters without a gradient are skipped entirely (no decay), as torch does.
 * Values are float32 arrays updated in place; the arithmetic is float64.
 */

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
    for (const group of this.groups) {
      for (const name of group.params) {
        const g = grads.get(name);
        if (!g) continue;
        const p = params.get(name);
        if (!p) throw new Error(`AdamW.step: no parameter values for '${name}'`);
        if (p.length !== g.length) throw new Error(`AdamW.step: '${name}' has ${p.length} values but its gradient ${g.length}`);
        let st = this.state.get(name);
        if (!st) this.state.set(name, (st = { step: 0, expAvg: new Float32Array(p.length), expAvgSq: new Float32Array(p.length) }));
        st.step++;
        adamwUpdate(p, g, st.expAvg, st.expAvgSq, {
          scale,
          decay: 1 - group.lr * group.weightDecay,
          stepSize: group.lr / (1 - Math.pow(b1, st.step)),
          invBc2Sqrt: 1 / Math.sqrt(1 - Math.pow(b2, st.step)),
          eps: this.eps,
          b1,
          b2,
        });
      }
    }
  }
}

interface AdamWCoefficients {
  scale: number;
  decay: number;
  stepSize: number;
  invBc2Sqrt: number;
  eps: number;
  b1: number;
  b2: number;
}

/** The element-wise update of one parameter (a small monomorphic function, so V8 optimises it early). */
function adamwUpdate(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: AdamWCoefficients): void {
  const { scale, decay, stepSize, invBc2Sqrt, eps, b1, b2 } = k;
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = Math.fround(g[i] * scale); // exact when scale = 1
    // The moments are float32 tensors in torch; the update reads the stored (rounded) values.
    const mi = Math.fround(b1 * m[i] + c1 * gi);
    const vi = Math.fround(b2 * v[i] + c2 * gi * gi);
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) * invBc2Sqrt + eps);
  }
}
