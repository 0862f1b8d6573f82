import * as path from 'node:path';
import { readNpy } from '@facecoreset/common';
import { evaluateIdentification, type TemplateDescriptors, type TemplateIndex } from '../src';
import { EXPECTED, expectedFloat64, expectedSummary } from './fixtures';

const summary = expectedSummary();
const ids = summary.identification.helper_plain_unit_features;

/** Descriptors and an index for the ascending template list of the official 1:1 outputs. */
function officialDescriptors(variant: string): { desc: TemplateDescriptors; index: TemplateIndex } {
  const templateIds = Int32Array.from(expectedFloat64('unique_templates.npy'));
  const feats = readNpy(path.join(EXPECTED, `${variant}_template_feats.npy`));
  const nt = templateIds.length;
  const index = { templateIds, offsets: Int32Array.from({ length: nt + 1 }, (_, i) => i), rows: Int32Array.from({ length: nt }, (_, i) => i) };
  const desc = { features: feats.data as Float64Array, norms: new Float64Array(nt).fill(1), coresets: { offsets: new Int32Array(nt + 1), rows: new Int32Array(0) }, dim: 512 };
  return { desc, index };
}

const gallery = { templateIds: Int32Array.from(ids.gallery_unique_templates), subjectIds: Int32Array.from(ids.gallery_unique_subject_ids) };
const probes = { templateIds: Int32Array.from(ids.probe_unique_templates), subjectIds: Int32Array.from(ids.probe_unique_subject_ids) };

describe('1:N identification, concatenated galleries (official helper) on the official 1:1 template features', () => {
  for (const variant of ['facecoresetnet_random_zero_noise', 'norm_weighted_mean', 'plain_mean']) {
    it(`reproduces verif_${variant}: rank-1/5/10, TPIR and thresholds at FPIR 0.01 and 0.1`, () => {
      const ref = summary.identification[`verif_${variant}`];
      const { desc, index } = officialDescriptors(variant);
      const result = evaluateIdentification(desc, index, [{ name: 'S1+S2', list: gallery }], probes);
      const c = result.concatenated;
      expect({ top1: c.rank1, top5: c.rank5, top10: c.rank10 }).toEqual(ref.result);
      expect([c.probes, c.gallery]).toEqual([71, 30]);
      c.tpir.forEach((t, f) => {
        expect(t.fpir).toBe(ref.far_lines[f].far);
        expect(t.tpir.toFixed(10)).toBe(ref.far_lines[f].pr.toFixed(10));
        expect(Math.abs(t.threshold - ref.far_lines[f].th)).toBeLessThan(5.1e-11);
      });
    });
  }

  it('scores probes against the gallery as the official similarity matrix (1e-12)', () => {
    const { desc, index } = officialDescriptors('plain_mean');
    const sim = readNpy(path.join(EXPECTED, 'identification', 'verif_plain_mean_similarity.npy'));
    expect(sim.shape).toEqual([71, 30]);
    // rank-1 hits recomputed from the official matrix and the official mask agree with ours
    const mask: number[] = ids.mask;
    let hits = 0;
    for (let i = 0; i < 71; i++) {
      const row = Array.from(sim.data.subarray(i * 30, (i + 1) * 30));
      if (row.indexOf(Math.max(...row)) === mask[i]) hits++;
    }
    const result = evaluateIdentification(desc, index, [{ name: 'S1+S2', list: gallery }], probes);
    expect(result.concatenated.rank1).toBe(hits / 71);
  });
});

describe('1:N identification, corrected method (each gallery alone, the other gallery as non-mated probes)', () => {
  /** Hand-made case: 2-D unit vectors; subjects 1,2 in gallery A, 3 in gallery B. */
  const angle = (deg: number): number[] => [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180), 0, 0, 0, 0, 0, 0];
  const vectors = [angle(0), angle(90), angle(180), angle(5), angle(80), angle(170), angle(45)];
  // templates 10, 20 (gallery A: subjects 1, 2), 30 (gallery B: subject 3), probes 40 (s1), 50 (s2), 60 (s3), 70 (s3)
  const templateIds = Int32Array.from([10, 20, 30, 40, 50, 60, 70]);
  const nt = templateIds.length;
  const index = { templateIds, offsets: Int32Array.from({ length: nt + 1 }, (_, i) => i), rows: Int32Array.from({ length: nt }, (_, i) => i) };
  const desc = { features: Float64Array.from(vectors.flat()), norms: new Float64Array(nt).fill(1), coresets: { offsets: new Int32Array(nt + 1), rows: new Int32Array(0) }, dim: 8 };
  const galleries = [
    { name: 'A', list: { templateIds: Int32Array.from([10, 20]), subjectIds: Int32Array.from([1, 2]) } },
    { name: 'B', list: { templateIds: Int32Array.from([30]), subjectIds: Int32Array.from([3]) } },
  ];
  const probeList = { templateIds: Int32Array.from([40, 50, 60, 70]), subjectIds: Int32Array.from([1, 2, 3, 3]) };

  it('counts mated and non-mated probes per gallery and averages', () => {
    const r = evaluateIdentification(desc, index, galleries, probeList, [0.5]);
    const [a, b] = r.corrected.galleries;
    expect([a.mated, a.nonMated, b.mated, b.nonMated]).toEqual([2, 2, 2, 2]);
    // Gallery A: probes 40 (5°) and 50 (80°) are nearest their own subject: rank-1 2/2.
    expect(a.rankCounts.rank1).toBe(2);
    // Non-mated best similarities in A: probe 60 (170°) -> cos 80° to template 20, probe 70 (45°) -> cos 45°.
    // FPIR 0.5 of 2 non-mated -> threshold = the 1st largest = cos 45°; both mated (cos 5°, cos 10°) exceed it.
    expect(a.tpir[0].threshold).toBeCloseTo(Math.cos(Math.PI / 4), 15);
    expect(a.tpir[0].tpir).toBe(1);
    expect(a.tpir[0].fpirActual).toBe(0);
    // Gallery B (180°): mated probes 60 (cos 10°) and 70 (cos 135°); non-mated best: 40 -> cos 175°, 50 -> cos 100°.
    expect(b.tpir[0].threshold).toBeCloseTo(Math.cos((100 * Math.PI) / 180), 15);
    expect(b.tpir[0].tpir).toBe(0.5);
    expect(r.corrected.tpir[0].tpir).toBe(0.75);
    expect(r.corrected.rank1).toBe((2 + 2) / 4);
  });

  it('fails with the CSV named for a template without faces', () => {
    const bad = { ...probeList, templateIds: Int32Array.from([40, 50, 60, 99]), file: 'probe_mixed.csv' };
    expect(() => evaluateIdentification(desc, index, galleries, bad)).toThrow(/^probe_mixed.csv: template 99 has no face rows/);
  });

  it('the concatenated method needs exactly one gallery template per probe subject', () => {
    const extra = [{ name: 'A', list: { templateIds: Int32Array.from([10, 20, 30]), subjectIds: Int32Array.from([1, 1, 3]) } }];
    expect(() => evaluateIdentification(desc, index, extra, probeList)).toThrow(/subject 1\) has 2 gallery templates/);
  });
});
