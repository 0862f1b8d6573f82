/**
 * 1:1 verification from pair scores: the ROC curve, TAR@FAR by the official and the strict rule,
 * and the area under the curve.
 */
import { InputError } from '@facecoreset/common';
import { OFFICIAL_FARS, officialPercent, rocAuc, rocCurve, splitByLabel, tarAtFarOfficial, tarAtFarStrict, type RocCurve, type TarAtFar } from './roc';

export interface VerificationResult {
  pairs: number;
  genuine: number;
  impostor: number;
  roc: RocCurve;
  auc: number;
  /** Official rule (nearest FPR, ties to the higher TPR), one per FAR. */
  official: TarAtFar[];
  /** Strict rule (largest TPR with FPR ≤ FAR), one per FAR. */
  strict: TarAtFar[];
  /** Official table row: float('%.2f' % (100 · TAR)) per FAR, as the official code returns it. */
  officialPercent: number[];
  strictPercent: number[];
}

/**
 * @param scores pair scores [P]
 * @param labels 1 genuine / 0 impostor [P]
 * @param fars FAR targets (default 1e-6 … 1e-1)
 * @param file the pair list, named when it lacks genuine or impostor pairs
 */
export function evaluateVerification(scores: Float64Array, labels: ArrayLike<number>, fars: readonly number[] = OFFICIAL_FARS, file?: string): VerificationResult {
  for (let i = 0; i < scores.length; i++) if (Number.isNaN(scores[i])) throw new Error(`evaluateVerification: score ${i} is NaN`);
  const split = splitByLabel(scores, labels);
  if (split.positives.length === 0 || split.negatives.length === 0) {
    throw new InputError(`has ${split.positives.length} genuine and ${split.negatives.length} impostor pairs; expected both kinds`, file);
  }
  const roc = rocCurve(split);
  const official = fars.map((f) => tarAtFarOfficial(roc, f));
  const strict = fars.map((f) => tarAtFarStrict(roc, f));
  return {
    pairs: scores.length,
    genuine: split.positives.length,
    impostor: split.negatives.length,
    roc,
    auc: rocAuc(roc),
    official,
    strict,
    officialPercent: official.map((r) => officialPercent(r.tar)),
    strictPercent: strict.map((r) => officialPercent(r.tar)),
  };
}
