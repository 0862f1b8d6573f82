/**
 * AdamW (two groups, decoupled weight decay, a parameter without gradient skipped), global-norm
 * clipping and MultiStepLR over four steps against torch 1.13 (test/fixtures/optim/reference.json,
 * written by test/fixtures-gen/optim_reference.py). Parameters ≤ 1e-6 absolute (float32 storage),
 * norms ≤ 1e-6 relative, learning rates exact.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdamW } from '../../src/optim/adamw';
import { clipCoefficient, clipGradNorm, globalGradNorm } from '../../src/optim/clip';
import { MultiStepLR, multiStepLr } from '../../src/optim/lr-schedule';

const ref = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/optim/reference.json'), 'utf8'));

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('optimiser utilities against torch', () => {
  it('four steps of clipping + AdamW + MultiStepLR', () => {
    const values = new Map<string, Float32Array>(Object.entries(ref.initial as Record<string, number[]>).map(([k, v]) => [k, Float32Array.from(v)]));
    const opt = new AdamW(
      [
        { params: ['a'], lr: 1e-3, weightDecay: 0 },
        { params: ['b', 'c'], lr: 5e-4, weightDecay: 1e-2 },
      ],
      { betas: [0.9, 0.999], eps: 1e-8 },
    );
    const sched = new MultiStepLR([1e-3, 5e-4], [2, 3], 0.5);
    for (const step of ref.steps) {
      expect(sched.rates()).toEqual(step.lrs);
      opt.setLearningRates(sched.rates());
      const grads = new Map<string, Float32Array>(Object.entries(step.grads as Record<string, number[]>).map(([k, v]) => [k, Float32Array.from(v)]));
      const { totalNorm } = clipGradNorm(grads.values(), 1.0);
      expect(Math.abs(totalNorm - step.total_norm) / step.total_norm).toBeLessThanOrEqual(1e-6);
      for (const [k, g] of grads) expect(maxAbs(g, step.clipped[k])).toBeLessThanOrEqual(1e-7);
      opt.step(values, grads);
      sched.step();
      for (const [k, v] of values) expect([k, maxAbs(v, step.after[k]) <= 1e-6]).toEqual([k, true]);
    }
    expect(sched.rates()).toEqual(ref.lrs_after);
    // The parameter that missed a step took one step less.
    expect(opt.state.get('c')?.step).toBe(3);
    expect(opt.state.get('a')?.step).toBe(4);
  });

  it('the clipping factor handed to AdamW as gradScale gives the same four steps', () => {
    const values = new Map<string, Float32Array>(Object.entries(ref.initial as Record<string, number[]>).map(([k, v]) => [k, Float32Array.from(v)]));
    const opt = new AdamW([
      { params: ['a'], lr: 1e-3, weightDecay: 0 },
      { params: ['b', 'c'], lr: 5e-4, weightDecay: 1e-2 },
    ]);
    const sched = new MultiStepLR([1e-3, 5e-4], [2, 3], 0.5);
    for (const step of ref.steps) {
      opt.setLearningRates(sched.rates());
      const grads = new Map<string, Float32Array>(Object.entries(step.grads as Record<string, number[]>).map(([k, v]) => [k, Float32Array.from(v)]));
      const coef = clipCoefficient(globalGradNorm(grads.values()), 1.0);
      opt.step(values, grads, { gradScale: coef });
      sched.step();
      for (const [k, v] of values) expect([k, maxAbs(v, step.after[k]) <= 1e-6]).toEqual([k, true]);
    }
  });

  it('clipping leaves gradients within the norm untouched', () => {
    const g = Float32Array.of(0.3, -0.4);
    const r = clipGradNorm([g], 1.0);
    expect(r.coef).toBe(1);
    expect(r.totalNorm).toBeCloseTo(0.5, 6);
    expect(Array.from(g)).toEqual([Math.fround(0.3), Math.fround(-0.4)]);
  });

  it('multiStepLr counts a repeated milestone twice, as torch does', () => {
    expect(multiStepLr(1, 5, [3, 3], 0.1)).toBeCloseTo(0.01, 12);
    expect(multiStepLr(1, 2, [3, 3], 0.1)).toBe(1);
  });

  it('AdamW refuses a gradient outside its groups and a parameter in two groups', () => {
    const opt = new AdamW([{ params: ['a'], lr: 1, weightDecay: 0 }]);
    expect(() => opt.step(new Map([['a', new Float32Array(1)]]), new Map([['b', new Float32Array(1)]]))).toThrow("gradient for 'b', which is in no parameter group");
    expect(
      () =>
        new AdamW([
          { params: ['a'], lr: 1, weightDecay: 0 },
          { params: ['a'], lr: 1, weightDecay: 0 },
        ]),
    ).toThrow("parameter 'a' is in more than one group");
  });
});
