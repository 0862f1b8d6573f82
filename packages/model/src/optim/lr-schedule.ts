/**
 * MultiStepLR (torch.optim.lr_scheduler): the learning rate of epoch e is
 * base · gamma^(number of milestones ≤ e), a milestone listed twice counting twice.
 */
export function multiStepLr(baseLr: number, epoch: number, milestones: readonly number[], gamma: number): number {
  let n = 0;
  for (const m of milestones) if (m <= epoch) n++;
  return baseLr * Math.pow(gamma, n);
}

/** Tracks the epoch and gives every group's rate (as torch's scheduler.step() once per epoch). */
export class MultiStepLR {
  private epoch = 0;
  constructor(
    private readonly baseLrs: readonly number[],
    private readonly milestones: readonly number[],
    private readonly gamma: number,
  ) {}

  /** The current epoch (0 before the first step()). */
  get lastEpoch(): number {
    return this.epoch;
  }

  /** Rates for the current epoch. */
  rates(): number[] {
    return this.baseLrs.map((lr) => multiStepLr(lr, this.epoch, this.milestones, this.gamma));
  }

  /** Ends an epoch; returns the rates of the next one. */
  step(): number[] {
    this.epoch++;
    return this.rates();
  }

  /** Resumes at a given epoch (e.g. from a checkpoint). */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`MultiStepLR.setEpoch: expected a non-negative integer, got ${epoch}`);
    this.epoch = epoch;
  }
}
