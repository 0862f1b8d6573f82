import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSetIndex } from '../../src/lib/set-index';
import { buildValidationTemplates, pairScores, rocAuc, spearman, strictTarAtFar, verifyTemplates } from '../../src/lib/validation';

/** Written by test/fixtures-gen/make_rank_metrics.py (Python standard library). */
const RANK_METRICS = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/rank_metrics.json'), 'utf8')) as { x: number[]; y: number[]; spearman: number; genuine: number[]; impostor: number[]; auc: number };

describe('strictTarAtFar', () => {
  it('accepts only scores above the (⌊far·I⌋+1)-th largest impostor', () => {
    const impostor = Array.from({ length: 1000 }, (_, i) => i / 1000); // 0 .. 0.999
    // far 0.01 -> 10 impostors may pass: the threshold is the 11th largest, 0.989.
    const r = strictTarAtFar([0.5, 0.989, 0.9895, 1.2], impostor, 0.01);
    expect(r.threshold).toBe(0.989);
    expect(r.far).toBe(10 / 1000);
    expect(r.tar).toBe(2 / 4);
  });

  it('rejects ties at the threshold so the FAR never exceeds the target', () => {
    const impostor = [0.9, 0.9, 0.9, 0.1];
    const r = strictTarAtFar([0.9, 0.95], impostor, 0.25); // 1 impostor allowed, but three tie at 0.9
    expect(r.far).toBe(0);
    expect(r.tar).toBe(0.5);
  });

  it('with a target below one impostor, accepts only genuine scores above every impostor', () => {
    expect(strictTarAtFar([0.2, 0.7], [0.1, 0.5], 1e-6)).toEqual({ tar: 0.5, far: 0, threshold: 0.5 });
  });
});

describe('verifyTemplates', () => {
  it('scores all pairs by cosine: perfect separation gives TAR 1, genuine = identity pairs', () => {
    const dim = 4;
    // identities 0,1 with two templates each, on orthogonal axes with different norms.
    const v = Float32Array.from([2, 0, 0, 0, 3, 0.1, 0, 0, 0, 1, 0, 0, 0.1, 5, 0, 0]);
    const r = verifyTemplates(v, dim, [0, 0, 1, 1], 0.5);
    expect(r.genuinePairs).toBe(2);
    expect(r.impostorPairs).toBe(4);
    expect(r.tar).toBe(1);
  });
});

describe('buildValidationTemplates', () => {
  it('builds templates per held-out identity from disjoint image groups, reproducibly', () => {
    const labelOfRow: number[] = [];
    const row: number[] = [];
    const view: number[] = [];
    for (let id = 0; id < 5; id++) {
      for (let i = 0; i < 4 + id; i++) {
        const r = labelOfRow.length;
        labelOfRow.push(id);
        for (let v = 0; v < 3; v++) {
          row.push(r);
          view.push(v);
        }
      }
    }
    const index = buildSetIndex({ row, view }, Int32Array.from(labelOfRow));
    const opts = { seed: 3, templatesPerIdentity: 2, maxTemplateSize: 20, maxClipSize: 3 };
    const a = buildValidationTemplates(index, [1, 3], opts);
    expect(buildValidationTemplates(index, [1, 3], opts)).toEqual(a);
    expect(Array.from(a.identity)).toEqual([1, 1, 3, 3]);
    for (let p = 0; p < 4; p += 2) {
      const imagesOf = (m: number) => new Set(Array.from(a.featureRows.subarray(a.offsets[m], a.offsets[m + 1]), (f) => row[f]));
      const first = imagesOf(p);
      for (const img of imagesOf(p + 1)) expect(first.has(img)).toBe(false);
      for (const img of first) expect(labelOfRow[img]).toBe(a.identity[p]);
    }
  });
});

describe('spearman', () => {
  it('is 1 for any increasing relation, -1 for a decreasing one', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 1000])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
  });
  it('averages tied ranks (textbook example: 1 − 6Σd²/(n(n²−1)) without ties)', () => {
    // x ranks 1..5, y = [2, 1, 4, 3, 5]: Σd² = 4 -> 1 - 24/120 = 0.8
    expect(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])).toBeCloseTo(0.8, 12);
    // ties: y ranks [1.5, 1.5, 3]; Pearson of ranks (1,2,3) and (1.5,1.5,3) = 0.8660254
    expect(spearman([1, 2, 3], [7, 7, 9])).toBeCloseTo(Math.sqrt(3) / 2, 12);
  });

  it('matches Python (statistics.correlation of average ranks) on tied data to 1e-12', () => {
    expect(spearman(RANK_METRICS.x, RANK_METRICS.y)).toBeCloseTo(RANK_METRICS.spearman, 12);
  });
});

describe('pairScores and rocAuc', () => {
  it('splits the cosine scores of all pairs into genuine and impostor', () => {
    const v = Float32Array.from([1, 0, 2, 0, 0, 3]);
    const s = pairScores(v, 2, [0, 0, 1]);
    expect(Array.from(s.genuine)).toEqual([1]);
    expect(Array.from(s.impostor)).toEqual([0, 0]);
  });

  it('counts genuine-above-impostor pairs, ties one half (hand count: 7.5 of 9)', () => {
    // 0.9 and 0.7 beat all three impostors; 0.5 beats 0.1 and ties 0.5.
    expect(rocAuc([0.9, 0.7, 0.5], [0.6, 0.5, 0.1])).toBeCloseTo(7.5 / 9, 15);
    expect(rocAuc([1, 2], [3, 4])).toBe(0);
  });

  it('matches Python on tied scores to 1e-12', () => {
    expect(rocAuc(RANK_METRICS.genuine, RANK_METRICS.impostor)).toBeCloseTo(RANK_METRICS.auc, 12);
  });
});
