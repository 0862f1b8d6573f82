/**
 * End-to-end parity on ijb_mini from the official inputs (meta files + features pickle): template
 * descriptors, pair scores, ROC and TAR tables of the mean baselines; media-protocol templates
 * and identification numbers of the official 1:N helper.
 */
import * as path from 'node:path';
import { readNpy } from '@facecoreset/common';
import { computeTemplateDescriptors, evaluateIdentification, evaluateVerification, meanAggregator, normWeightedAggregator, resolvePairs, scorePairs, type Aggregator } from '../src';
import { loadOfficialInputs, type EvalInputs } from '../src/io/inputs';
import { EXPECTED, IJB_MINI, expectedFloat64, expectedSummary, officialCsvRow } from './fixtures';

const summary = expectedSummary();
let inputs: EvalInputs;
beforeAll(async () => {
  inputs = await loadOfficialInputs(path.join(IJB_MINI, 'ijb_root'), 'IJBB', path.join(IJB_MINI, 'IJBB_ir101_webface4m.pickle'));
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('official inputs of ijb_mini', () => {
  it('reads 885 face rows, 101 templates in ascending id, 1500 pairs', () => {
    expect(inputs.faces.count).toBe(885);
    expect(inputs.faces.dim).toBe(512);
    expect(Array.from(inputs.index.templateIds)).toEqual(Array.from(expectedFloat64('unique_templates.npy')));
    expect(Array.from(inputs.pairs.labels)).toEqual(Array.from(expectedFloat64('pair_labels.npy')));
    expect(Array.from(inputs.faces.norms)).toEqual(Array.from(readNpy(path.join(IJB_MINI, 'norms.npy')).data));
  });
});

const baselines: [string, Aggregator][] = [
  ['plain_mean', meanAggregator],
  ['norm_weighted_mean', normWeightedAggregator],
];

describe.each(baselines)('set protocol, %s', (variant, aggregator) => {
  it('template features within 1e-6, pair scores within 1e-6, ROC and TAR table equal to the official ones', async () => {
    const desc = await computeTemplateDescriptors(inputs.faces, inputs.index, aggregator, { protocol: 'set' });
    expect(maxAbsDiff(desc.features, expectedFloat64(`${variant}_template_feats.npy`))).toBeLessThan(1e-6);
    const scores = scorePairs(desc.features, desc.dim, resolvePairs(inputs.pairs, inputs.index));
    expect(maxAbsDiff(scores, expectedFloat64(`${variant}_pair_scores.npy`))).toBeLessThan(1e-6);
    const v = evaluateVerification(scores, inputs.pairs.labels);
    expect(Array.from(v.roc.fpr)).toEqual(Array.from(expectedFloat64(`${variant}_roc_fpr.npy`)));
    expect(Array.from(v.roc.tpr)).toEqual(Array.from(expectedFloat64(`${variant}_roc_tpr.npy`)));
    expect(maxAbsDiff(v.roc.thresholds.subarray(1), expectedFloat64(`${variant}_roc_thresholds.npy`).subarray(1))).toBeLessThan(1e-6);
    expect(v.officialPercent).toEqual(officialCsvRow(variant as 'plain_mean').tars);
    expect(desc.coresets.rows.length).toBe(0);
  });
});

describe('media protocol (official 1:N helper: per-media float32 mean, summed, normalised)', () => {
  const cases: [string, Aggregator][] = [
    ['helper_plain_unit_features', meanAggregator],
    ['helper_norm_scaled_features', normWeightedAggregator],
  ];
  it.each(cases)('%s: gallery and probe template features within 1e-6 and the identification numbers', async (tag, aggregator) => {
    const desc = await computeTemplateDescriptors(inputs.faces, inputs.index, aggregator, { protocol: 'media', medias: inputs.medias });
    const ident = inputs.identification;
    if (!ident) throw new Error('ijb_mini has 1:N files');
    const ref = summary.identification[tag];
    const position = (id: number): number => inputs.index.templateIds.indexOf(id);
    for (const [part, ids] of [['gallery', ref.gallery_unique_templates], ['probe', ref.probe_unique_templates]] as const) {
      const expected = readNpy(path.join(EXPECTED, 'identification', `${tag}_${part}_feats.npy`)).data as Float64Array;
      const ours = new Float64Array(ids.length * 512);
      (ids as number[]).forEach((id, i) => ours.set(desc.features.subarray(position(id) * 512, (position(id) + 1) * 512), i * 512));
      expect(maxAbsDiff(ours, expected)).toBeLessThan(1e-6);
    }
    const r = evaluateIdentification(desc, inputs.index, ident.galleries, ident.probe);
    expect({ top1: r.concatenated.rank1, top5: r.concatenated.rank5, top10: r.concatenated.rank10 }).toEqual(ref.result);
    r.concatenated.tpir.forEach((t, f) => {
      expect(t.tpir.toFixed(10)).toBe(ref.far_lines[f].pr.toFixed(10));
      expect(Math.abs(t.threshold - ref.far_lines[f].th)).toBeLessThan(5.1e-11);
    });
    // Corrected method: S1 and S2 hold disjoint subjects, so every probe is mated in exactly one.
    const [s1, s2] = r.corrected.galleries;
    expect(s1.mated + s2.mated).toBe(71);
    expect(s1.nonMated).toBe(s2.mated);
    expect(r.corrected.rank1).toBe((s1.rankCounts.rank1 + s2.rankCounts.rank1) / 71);
  });
});
