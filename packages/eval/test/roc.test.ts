import { evaluateVerification, farKey, formatFixedLikePython, rocAuc, rocCurve, splitByLabel, tarAtFarStrict, OFFICIAL_FARS } from '../src';
import { VARIANTS, expectedFloat64, expectedSummary, officialCsvRow } from './fixtures';

const labels = expectedFloat64('pair_labels.npy');
const summary = expectedSummary();

describe('ROC and TAR@FAR against the official outputs (ijb_mini)', () => {
  for (const variant of VARIANTS) {
    describe(variant, () => {
      const scores = expectedFloat64(`${variant}_pair_scores.npy`);
      const result = evaluateVerification(scores, labels);

      it('gives exactly the ROC arrays scikit-learn returned (fpr, tpr, thresholds)', () => {
        expect(Array.from(result.roc.fpr)).toEqual(Array.from(expectedFloat64(`${variant}_roc_fpr.npy`)));
        expect(Array.from(result.roc.tpr)).toEqual(Array.from(expectedFloat64(`${variant}_roc_tpr.npy`)));
        expect(Array.from(result.roc.thresholds)).toEqual(Array.from(expectedFloat64(`${variant}_roc_thresholds.npy`)));
      });

      it('gives the official TAR@FAR table to the printed 2 decimals', () => {
        const csv = officialCsvRow(variant);
        expect(csv.fars).toEqual([...OFFICIAL_FARS]);
        expect(result.officialPercent).toEqual(csv.tars);
        expect(result.officialPercent).toEqual(summary[variant].table_returned);
      });

      it('uses the same ROC point as the official code (unrounded TAR, FPR used, index)', () => {
        const n = result.roc.fpr.length;
        for (const ref of summary[variant].tar_unrounded) {
          const got = result.official[OFFICIAL_FARS.indexOf(ref.far)];
          expect(got.tar).toBe(ref.tar);
          expect(got.fprUsed).toBe(ref.fpr_used);
          expect(n - 1 - got.index).toBe(ref.index_in_flipped_arrays);
        }
        expect(n).toBe(summary[variant].n_roc_points);
      });

      it('strict TAR never uses a point above the target FAR and is the best such point', () => {
        result.strict.forEach((s, f) => {
          expect(s.fprUsed).toBeLessThanOrEqual(OFFICIAL_FARS[f]);
          for (let k = 0; k < result.roc.fpr.length; k++) if (result.roc.fpr[k] <= OFFICIAL_FARS[f]) expect(result.roc.tpr[k]).toBeLessThanOrEqual(s.tar);
        });
      });

      it('AUC equals the Mann-Whitney statistic of the scores', () => {
        const { positives, negatives } = splitByLabel(scores, labels);
        let wins = 0;
        for (const p of positives) for (const q of negatives) wins += p > q ? 1 : p === q ? 0.5 : 0;
        expect(result.auc).toBeCloseTo(wins / (positives.length * negatives.length), 12);
      });
    });
  }

  it('counts pairs by label', () => {
    const r = evaluateVerification(expectedFloat64('plain_mean_pair_scores.npy'), labels);
    expect([r.pairs, r.genuine, r.impostor]).toEqual([1500, summary.pair_counts.genuine, summary.pair_counts.impostor]);
  });
});

describe('rocCurve edge cases', () => {
  it('keeps every distinct threshold without drop_intermediate, and the dropped curve is a subset with the same area', () => {
    const scores = Float64Array.from([0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.5, 0.4, 0.3, 0.2]);
    const lab = [1, 1, 0, 1, 0, 1, 0, 0, 1, 0];
    const split = splitByLabel(scores, lab);
    const full = rocCurve(split, { dropIntermediate: false });
    const dropped = rocCurve(split);
    expect(full.fpr.length).toBe(1 + 8); // 8 distinct scores + (0,0)
    expect(dropped.fpr.length).toBeLessThanOrEqual(full.fpr.length);
    for (let k = 0; k < dropped.fpr.length; k++) {
      const j = Array.from(full.thresholds).indexOf(dropped.thresholds[k]);
      expect(j).toBeGreaterThanOrEqual(0);
      expect([full.fpr[j], full.tpr[j]]).toEqual([dropped.fpr[k], dropped.tpr[k]]);
    }
    expect(rocAuc(dropped)).toBeCloseTo(rocAuc(full), 15);
    expect(full.thresholds[0]).toBe(1.9);
  });

  it('treats tied genuine and impostor scores as one point', () => {
    const r = rocCurve(splitByLabel(Float64Array.from([0.5, 0.5, 0.5, 0.1]), [1, 0, 1, 0]), { dropIntermediate: false });
    expect(Array.from(r.truePositives)).toEqual([0, 2, 2]);
    expect(Array.from(r.falsePositives)).toEqual([0, 1, 2]);
  });

  it('strict TAR falls back to the (0, 0) point when every point is above the target', () => {
    const r = rocCurve(splitByLabel(Float64Array.from([0.1, 0.9]), [1, 0]));
    expect(tarAtFarStrict(r, 1e-6).tar).toBe(0);
  });

  it('rejects labels other than 0 and 1, and a pair list with one kind only', () => {
    expect(() => splitByLabel(Float64Array.from([0.1]), [2])).toThrow(/label 2/);
    expect(() => evaluateVerification(Float64Array.from([0.1, 0.2]), [1, 1], OFFICIAL_FARS, 'pairs.txt')).toThrow(/pairs.txt: has 2 genuine and 0 impostor/);
  });
});

describe('number formatting', () => {
  it("rounds like Python's '%.2f' (exact binary value, ties to even)", () => {
    expect(formatFixedLikePython(0.125, 2)).toBe('0.12');
    expect(formatFixedLikePython(0.375, 2)).toBe('0.38');
    expect(formatFixedLikePython(2.675, 2)).toBe('2.67'); // 2.67499999... in binary
    expect(formatFixedLikePython(99.995, 2)).toBe('100.00'); // 99.99500000000000454...
    expect(formatFixedLikePython(63.90977443609023, 2)).toBe('63.91');
    expect(formatFixedLikePython(-0.001, 2)).toBe('-0.00');
    expect(formatFixedLikePython(-1.5, 0)).toBe('-2');
  });

  it('writes FAR keys as 1e-6 … 1e-1', () => {
    expect(OFFICIAL_FARS.map(farKey)).toEqual(['1e-6', '1e-5', '1e-4', '1e-3', '1e-2', '1e-1']);
    expect(farKey(5e-4)).toBe('5e-4');
  });
});
