import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSetIndex } from '../../src/lib/set-index';
import { Rng } from '@facecoreset/common';
import { buildValidationTemplates, clusterBootstrapSpearman, pairScores, quantileOfSorted, rocAuc, spearman, strictTarAtFar, verifyTemplates } from '../../src/lib/validation';

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

/** Written by test/fixtures-gen/make_cluster_bootstrap.py (Python standard library, its own draws). */
const CLUSTER_BOOTSTRAP = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/cluster_bootstrap.json'), 'utf8')) as {
  x: number[];
  y: number[];
  clusters: number[];
  picks: number[][];
  level: number;
  resamples: number;
  low: number;
  high: number;
  spearman: number;
};

/** Pairs (x, y) of a bivariate normal with correlation rho, plus independent per-cluster offsets of sd `offsetSd` on each side. */
function clusteredNormal(seed: number, clusterCount: number, perCluster: number, rho: number, offsetSd: number) {
  const rng = Rng.stream(seed, 'test');
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
  const x: number[] = [];
  const y: number[] = [];
  const clusters: number[] = [];
  for (let c = 0; c < clusterCount; c++) {
    const offsetX = offsetSd * normal();
    const offsetY = offsetSd * normal();
    for (let i = 0; i < perCluster; i++) {
      const u = normal();
      x.push(u + offsetX);
      y.push(rho * u + Math.sqrt(1 - rho * rho) * normal() + offsetY);
      clusters.push(c);
    }
  }
  return { x, y, clusters };
}

describe('clusterBootstrapSpearman', () => {
  it('matches Python on the same resamples of clusters: interval to 1e-12', () => {
    const f = CLUSTER_BOOTSTRAP;
    expect(spearman(f.x, f.y)).toBeCloseTo(f.spearman, 12);
    const r = clusterBootstrapSpearman(f.x, f.y, f.clusters, { picks: f.picks, level: f.level });
    expect(r.resamples).toBe(f.resamples);
    expect(r.low).toBeCloseTo(f.low, 12);
    expect(r.high).toBeCloseTo(f.high, 12);
  });

  it('takes quantiles between order statistics linearly', () => {
    expect(quantileOfSorted([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantileOfSorted([0, 10], 0.25)).toBe(2.5);
    expect(quantileOfSorted([7], 0.9)).toBe(7);
  });

  it('is reproducible from its seed and brackets the population value of a bivariate normal', () => {
    // Spearman's rho of a bivariate normal with correlation r is (6/π)·asin(r/2) (Pearson, 1907).
    const { x, y, clusters } = clusteredNormal(3, 40, 10, 0.6, 0);
    const population = (6 / Math.PI) * Math.asin(0.3);
    const r = clusterBootstrapSpearman(x, y, clusters, { seed: 9, resamples: 400 });
    expect(clusterBootstrapSpearman(x, y, clusters, { seed: 9, resamples: 400 })).toEqual(r);
    expect(r.resamples).toBe(400);
    expect(r.low).toBeLessThan(population);
    expect(r.high).toBeGreaterThan(population);
    expect(r.high - r.low).toBeLessThan(0.2);
  });

  it('is wider than an image-level bootstrap when the clusters carry offsets', () => {
    // Few clusters with offsets on both sides (an identity with mostly poor pictures and a high
    // baseline norm): a cluster's images move together, which resampling single images ignores.
    const { x, y, clusters } = clusteredNormal(4, 8, 24, 0.5, 1.2);
    const byCluster = clusterBootstrapSpearman(x, y, clusters, { seed: 1, resamples: 400 });
    const byImage = clusterBootstrapSpearman(x, y, x.map((_, i) => i), { seed: 1, resamples: 400 });
    expect(byCluster.high - byCluster.low).toBeGreaterThan(1.5 * (byImage.high - byImage.low));
  });

  it('gives [1, 1] for a monotone relation and rejects picks outside the clusters', () => {
    const x = [1, 2, 3, 4, 5, 6];
    const r = clusterBootstrapSpearman(x, x.map((v) => v * v), [0, 0, 1, 1, 2, 2], { seed: 2, resamples: 50 });
    expect([r.low, r.high]).toEqual([1, 1]);
    expect(() => clusterBootstrapSpearman(x, x, [0, 0, 1, 1, 2, 2], { picks: [[0, 3, 1]] })).toThrow(/pick 3 is not a cluster position/);
    expect(() => clusterBootstrapSpearman(x, x, [0, 1], { seed: 1 })).toThrow(/equally long/);
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
