import { learningRatesAt } from '../../src/lib/schedule';
import { stepRandomness } from '../../src/lib/randomness';

describe('learningRatesAt (MultiStepLR stepped per epoch)', () => {
  const s = { base: { gamma: 1e-4, other: 2e-4 }, milestones: [20, 30], gamma: 0.1 };
  it('keeps the base rates before the first milestone and multiplies by gamma at each one, per group', () => {
    expect(learningRatesAt(s, 0)).toEqual({ gamma: 1e-4, other: 2e-4 });
    expect(learningRatesAt(s, 19)).toEqual({ gamma: 1e-4, other: 2e-4 });
    expect(learningRatesAt(s, 20)).toEqual({ gamma: 1e-4 * 0.1, other: 2e-4 * 0.1 });
    expect(learningRatesAt(s, 29)).toEqual(learningRatesAt(s, 20));
    // Chainable form: multiplied once more, not base · γ² (they differ in the last bit).
    expect(learningRatesAt(s, 30)).toEqual({ gamma: 1e-4 * 0.1 * 0.1, other: 2e-4 * 0.1 * 0.1 });
    expect(learningRatesAt(s, 149)).toEqual(learningRatesAt(s, 30));
  });
  it('counts a repeated milestone twice, as PyTorch does', () => {
    expect(learningRatesAt({ ...s, milestones: [5, 5] }, 5).other).toBe(2e-4 * 0.1 * 0.1);
  });
});

describe('stepRandomness', () => {
  it('is a function of (seed, step): equal for equal keys, different otherwise', () => {
    const a = stepRandomness(1, 7, 0.1);
    const b = stepRandomness(1, 7, 0.1);
    expect(a.gumbel(0, 2, 5)).toEqual(b.gumbel(0, 2, 5));
    expect(a.dropoutMask(50)).toEqual(b.dropoutMask(50));
    expect(stepRandomness(1, 8, 0.1).gumbel(0, 2, 5)).not.toEqual(stepRandomness(1, 7, 0.1).gumbel(0, 2, 5));
  });
  it('draws standard Gumbel noise and inverted-dropout masks', () => {
    const r = stepRandomness(3, 0, 0.25);
    const g = r.gumbel(0, 100, 100)!;
    const mean = g.reduce((s, v) => s + v, 0) / g.length;
    expect(mean).toBeCloseTo(0.5772, 1); // Euler–Mascheroni constant
    const m = r.dropoutMask(10000)!;
    const kept = m.filter((v) => v !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.75)]));
    expect(kept.length / m.length).toBeCloseTo(0.75, 1);
    expect(stepRandomness(3, 0, 0).dropoutMask(4)).toBeUndefined();
  });
});
