/**
 * MultiStepLR as PyTorch steps it once per epoch: during epoch e (0-based) the learning rate is
 * base · γ^(number of milestones ≤ e). The official run (milestone 20, γ 0.1) trains epochs 0–19
 * at 1e-4 and the rest at 1e-5.
 */
import type { LearningRates } from './trainer';

export interface MultiStepSchedule {
  base: LearningRates;
  milestones: readonly number[];
  gamma: number;
}

/** Multiplies once per passed milestone, as PyTorch's chainable form does (same float64 values). */
export function learningRatesAt(s: MultiStepSchedule, epoch: number): LearningRates {
  const lrs = { ...s.base };
  for (const m of s.milestones) {
    if (m <= epoch) {
      lrs.gamma *= s.gamma;
      lrs.other *= s.gamma;
    }
  }
  return lrs;
}
