/**
 * SGD with momentum and parameter groups, as torch.optim.SGD (dampening 0, no Nesterov): for each
 * parameter with a gradient,
 *   g ← g + wd·p;  buf ← g on the first step, else momentum·buf + g;  p ← p − lr·buf.
 * Parameters without a gradient are skipped. Values are float32 arrays updated in place; the
 * arithmetic is float64, rounded to float32 on store.
 */

export interface SgdGroup {
  params: string[];
  lr: number;
  weightDecay: number;
}

export class Sgd {
  readonly groups: SgdGroup[];
  /** Momentum buffer by parameter name (created on its first step). */
  readonly buffers = new Map<string, Float32Array>();

  constructor(
    groups: SgdGroup[],
    readonly momentum: number,
  ) {
    const seen = new Set<string>();
    for (const g of groups) {
      for (const p of g.params) {
        if (seen.has(p)) throw new Error(`Sgd: parameter '${p}' is in more than one group`);
        seen.add(p);
      }
      if (!(g.lr >= 0) || !(g.weightDecay >= 0)) throw new Error(`Sgd: lr and weightDecay must be non-negative, got ${g.lr}, ${g.weightDecay}`);
    }
    if (!(momentum >= 0 && momentum < 1)) throw new Error(`Sgd: momentum must be in [0, 1), got ${momentum}`);
    this.groups = groups.map((g) => ({ ...g, params: [...g.params] }));
  }

  setLearningRates(lrs: number[]): void {
    if (lrs.length !== this.groups.length) throw new Error(`Sgd.setLearningRates: ${lrs.length} rates for ${this.groups.length} groups`);
    lrs.forEach((lr, i) => (this.groups[i].lr = lr));
  }

  step(params: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>): void {
    const grouped = new Set(this.groups.flatMap((g) => g.params));
    for (const name of grads.keys()) if (!grouped.has(name)) throw new Error(`Sgd.step: gradient for '${name}', which is in no parameter group`);
    for (const group of this.groups) {
      for (const name of group.params) {
        const g = grads.get(name);
        if (!g) continue;
        const p = params.get(name);
        if (!p || p.length !== g.length) throw new Error(`Sgd.step: parameter '${name}' is missing or differs in size from its gradient`);
        let buf = this.buffers.get(name);
        const first = !buf;
        if (!buf) this.buffers.set(name, (buf = new Float32Array(p.length)));
        const { lr, weightDecay: wd } = group;
        const m = this.momentum;
        for (let i = 0; i < p.length; i++) {
          const gi = wd !== 0 ? g[i] + wd * p[i] : g[i];
          const b = m === 0 ? gi : first ? gi : m * buf[i] + gi;
          buf[i] = b;
          p[i] = p[i] - lr * b;
        }
      }
    }
  }
}
