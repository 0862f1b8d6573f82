/**
 * ROC curve and TAR@FAR with the semantics of scikit-learn's `roc_curve` (as the official IJB code
 * calls it) and of the official TAR@FAR table.
 *
 * The curve is computed without an argsort over all scores: genuine and impostor scores are sorted
 * separately with the typed-array sort and merged from the top, which gives the same points
 * (one per distinct score, with cumulative counts) at IJB-C scale (15.6 M scores) in a few seconds.
 */

/** Labelled scores as two groups. `positives` = genuine (label 1), `negatives` = impostor (label 0). */
export interface SplitScores {
  positives: Float64Array;
  negatives: Float64Array;
}

export interface RocCurve {
  /** False-positive rate per point, ascending. [P] */
  fpr: Float64Array;
  /** True-positive rate per point, ascending. [P] */
  tpr: Float64Array;
  /** Score threshold per point, descending; thresholds[0] = max score + 1 (scikit-learn 1.2). [P] */
  thresholds: Float64Array;
  /** Cumulative false positives per point. [P] */
  falsePositives: Float64Array;
  /** Cumulative true positives per point. [P] */
  truePositives: Float64Array;
  positives: number;
  negatives: number;
}

export interface RocOptions {
  /** scikit-learn's default: drop inner points where both counts change linearly. Default true. */
  dropIntermediate?: boolean;
}

/** Splits scores by label (1 = genuine, 0 = impostor); any other label throws. */
export function splitByLabel(scores: Float64Array, labels: ArrayLike<number>): SplitScores {
  if (scores.length !== labels.length) throw new Error(`splitByLabel: ${scores.length} scores but ${labels.length} labels`);
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l === 1) nPos++;
    else if (l !== 0) throw new Error(`splitByLabel: label ${l} at index ${i}; expected 0 or 1`);
  }
  const positives = new Float64Array(nPos);
  const negatives = new Float64Array(scores.length - nPos);
  let p = 0;
  let n = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] === 1) positives[p++] = scores[i];
    else negatives[n++] = scores[i];
  }
  return { positives, negatives };
}

/** Growable float64 columns for the kept ROC points. */
class PointBuffer {
  fps = new Float64Array(1024);
  tps = new Float64Array(1024);
  thr = new Float64Array(1024);
  length = 0;
  push(fp: number, tp: number, t: number): void {
    if (this.length === this.fps.length) {
      const grow = (a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.fps = grow(this.fps);
      this.tps = grow(this.tps);
      this.thr = grow(this.thr);
    }
    this.fps[this.length] = fp;
    this.tps[this.length] = tp;
    this.thr[this.length] = t;
    this.length++;
  }
}

/**
 * The ROC curve of `roc_curve(labels, scores)` (scikit-learn 1.2): one point per distinct score in
 * descending order with cumulative counts, inner collinear points dropped (default), then (0, 0)
 * with threshold max + 1 in front. Sorts copies; the inputs are not modified.
 */
export function rocCurve(split: SplitScores, options: RocOptions = {}): RocCurve {
  const dropIntermediate = options.dropIntermediate ?? true;
  const pos = Float64Array.from(split.positives).sort();
  const neg = Float64Array.from(split.negatives).sort();
  for (const a of [pos, neg]) {
    if (a.length > 0 && (Number.isNaN(a[a.length - 1]) || Number.isNaN(a[0]))) throw new Error('rocCurve: scores contain NaN');
  }
  const kept = new PointBuffer();
  // Sliding window over the full (distinct-threshold) curve: prev, cur, then each new point decides
  // whether cur is kept (scikit-learn keeps index i when the second difference of fps or tps at i
  // is non-zero; the first and last points are always kept).
  let count = 0;
  let prevF = 0, prevT = 0;
  let curF = 0, curT = 0, curThr = 0;
  const emit = (f: number, t: number, thr: number): void => {
    if (!dropIntermediate) {
      kept.push(f, t, thr);
      return;
    }
    if (count === 0) kept.push(f, t, thr);
    else if (count >= 2) {
      if (f - 2 * curF + prevF !== 0 || t - 2 * curT + prevT !== 0) kept.push(curF, curT, curThr);
    }
    prevF = curF;
    prevT = curT;
    curF = f;
    curT = t;
    curThr = thr;
    count++;
  };
  let i = pos.length - 1;
  let j = neg.length - 1;
  let tp = 0;
  let fp = 0;
  while (i >= 0 || j >= 0) {
    const thr = i < 0 ? neg[j] : j < 0 ? pos[i] : pos[i] >= neg[j] ? pos[i] : neg[j];
    while (i >= 0 && pos[i] === thr) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === thr) {
      fp++;
      j--;
    }
    emit(fp, tp, thr);
  }
  if (dropIntermediate && count >= 2) kept.push(curF, curT, curThr);
  const n = kept.length + 1;
  const fpr = new Float64Array(n);
  const tpr = new Float64Array(n);
  const thresholds = new Float64Array(n);
  const falsePositives = new Float64Array(n);
  const truePositives = new Float64Array(n);
  const totalF = fp;
  const totalT = tp;
  thresholds[0] = kept.length > 0 ? kept.thr[0] + 1 : Infinity;
  for (let k = 0; k < kept.length; k++) {
    falsePositives[k + 1] = kept.fps[k];
    truePositives[k + 1] = kept.tps[k];
    thresholds[k + 1] = kept.thr[k];
  }
  for (let k = 0; k < n; k++) {
    fpr[k] = falsePositives[k] / totalF;
    tpr[k] = truePositives[k] / totalT;
  }
  return { fpr, tpr, thresholds, falsePositives, truePositives, positives: totalT, negatives: totalF };
}

/** Area under the ROC curve by the trapezoidal rule (scikit-learn `auc(fpr, tpr)`). */
export function rocAuc(roc: Pick<RocCurve, 'fpr' | 'tpr'>): number {
  let area = 0;
  for (let k = 1; k < roc.fpr.length; k++) area += ((roc.fpr[k] - roc.fpr[k - 1]) * (roc.tpr[k] + roc.tpr[k - 1])) / 2;
  return area;
}

/** One TAR@FAR reading: the ROC point used and its TPR. */
export interface TarAtFar {
  far: number;
  /** TPR at the chosen point (fraction, unrounded). */
  tar: number;
  /** FPR of the chosen point (can exceed `far` for the official rule). */
  fprUsed: number;
  /** Index of the chosen point in the ROC arrays (ascending order). */
  index: number;
  truePositives: number;
  falsePositives: number;
}

/**
 * The official rule (`write_result`): on the reversed curve, the point whose FPR is nearest to the
 * target; ties go to the first index of the reversed arrays, i.e. the highest TPR at that FPR.
 * Not interpolated; the chosen FPR may sit above the target.
 */
export function tarAtFarOfficial(roc: RocCurve, far: number): TarAtFar {
  const n = roc.fpr.length;
  let best = -1;
  let bestDiff = Infinity;
  for (let r = 0; r < n; r++) {
    const k = n - 1 - r;
    const d = Math.abs(roc.fpr[k] - far);
    if (d < bestDiff) {
      bestDiff = d;
      best = k;
    }
  }
  return reading(roc, far, best);
}

/** The strict rule: the largest TPR among points with FPR ≤ target (the (0, 0) point always qualifies). */
export function tarAtFarStrict(roc: RocCurve, far: number): TarAtFar {
  let best = 0;
  for (let k = 0; k < roc.fpr.length; k++) {
    if (roc.fpr[k] <= far && roc.tpr[k] >= roc.tpr[best]) best = k;
  }
  return reading(roc, far, best);
}

function reading(roc: RocCurve, far: number, k: number): TarAtFar {
  return {
    far,
    tar: roc.tpr[k],
    fprUsed: roc.fpr[k],
    index: k,
    truePositives: roc.truePositives[k],
    falsePositives: roc.falsePositives[k],
  };
}

/**
 * Python's `'%.{digits}f' % x`: the exact binary value rounded half-to-even (JavaScript's toFixed
 * rounds exact ties up, e.g. 0.125 -> "0.13" where Python prints "0.12").
 */
export function formatFixedLikePython(x: number, digits: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : x < 0 ? '-inf' : 'nan';
  const exact = Math.abs(x).toFixed(100); // exact decimal expansion of the double (≥ 1e-100 resolution)
  const dot = exact.indexOf('.');
  const intPart = exact.slice(0, dot);
  const frac = exact.slice(dot + 1);
  const head = intPart + frac.slice(0, digits);
  const rest = frac.slice(digits);
  let roundUp: boolean;
  if (rest[0] > '5') roundUp = true;
  else if (rest[0] < '5') roundUp = false;
  else if (/[1-9]/.test(rest.slice(1))) roundUp = true;
  else roundUp = Number(head[head.length - 1]) % 2 === 1;
  let digitsStr = head;
  if (roundUp) digitsStr = (BigInt(head) + 1n).toString().padStart(head.length, '0');
  const whole = digitsStr.slice(0, digitsStr.length - digits) || '0';
  const text = digits > 0 ? `${whole}.${digitsStr.slice(digitsStr.length - digits)}` : whole;
  return x < 0 || Object.is(x, -0) ? `-${text}` : text; // Python keeps the sign: '%.2f' % -0.001 = '-0.00'
}

/** TAR in percent the way the official table prints it: float('%.2f' % (100 · tar)). */
export function officialPercent(tar: number): number {
  return Number(formatFixedLikePython(tar * 100, 2));
}

/** The FAR written as a key: 1e-6 -> "1e-6", 0.1 -> "1e-1", 5e-4 -> "5e-4". */
export function farKey(far: number): string {
  return far.toExponential();
}

export const OFFICIAL_FARS: readonly number[] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1];
