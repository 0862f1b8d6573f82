/**
 * FaceCoresetNet (the model package's aggregator, zero-noise eval) through evaluation, against the
 * official `facecoresetnet_random_zero_noise` outputs on ijb_mini.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { computeTemplateDescriptors, evaluateIdentification, evaluateVerification, resolvePairs, scorePairs, type TemplateDescriptors } from '../src';
import { loadFaceCoresetNetAggregator } from '../src/io/checkpoint';
import { loadOfficialInputs, type EvalInputs } from '../src/io/inputs';
import { EXPECTED, IJB_MINI, REFERENCE, expectedFloat64, expectedSummary, officialCsvRow } from './fixtures';

const VARIANT = 'facecoresetnet_random_zero_noise';
const CHECKPOINT = path.join(REFERENCE, 'aggregator', 'facecoresetnet_random.ckpt');

let inputs: EvalInputs;
let desc: TemplateDescriptors;
beforeAll(async () => {
  inputs = await loadOfficialInputs(path.join(IJB_MINI, 'ijb_root'), 'IJBB', path.join(IJB_MINI, 'IJBB_ir101_webface4m.pickle'));
  // One worker thread besides the main thread, small batches: both take part.
  const aggregator = await loadFaceCoresetNetAggregator(CHECKPOINT, 1);
  try {
    desc = await computeTemplateDescriptors(inputs.faces, inputs.index, aggregator, { protocol: 'set' }, { maxBatchRows: 64 });
  } finally {
    await aggregator.close();
  }
}, 120_000);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('FaceCoresetNet on ijb_mini (set protocol, zero-noise selection)', () => {
  it('selects the same coreset rows as the official code in every template', () => {
    const fps = JSON.parse(fs.readFileSync(path.join(EXPECTED, `${VARIANT}_fps_per_template.json`), 'utf8'));
    inputs.index.templateIds.forEach((id, t) => {
      const rows = Array.from(inputs.index.rows.subarray(inputs.index.offsets[t], inputs.index.offsets[t + 1]));
      const chosen = Array.from(desc.coresets.rows.subarray(desc.coresets.offsets[t], desc.coresets.offsets[t + 1]), (r) => rows.indexOf(r));
      expect({ id, chosen }).toEqual({ id, chosen: fps[String(id)].fps_indices_within_template });
    });
  });

  it('template features and pair scores within 1e-5; ROC and the TAR table equal to the official ones', () => {
    expect(maxAbsDiff(desc.features, expectedFloat64(`${VARIANT}_template_feats.npy`))).toBeLessThan(1e-5);
    const scores = scorePairs(desc.features, desc.dim, resolvePairs(inputs.pairs, inputs.index));
    expect(maxAbsDiff(scores, expectedFloat64(`${VARIANT}_pair_scores.npy`))).toBeLessThan(1e-5);
    const v = evaluateVerification(scores, inputs.pairs.labels);
    expect(Array.from(v.roc.fpr)).toEqual(Array.from(expectedFloat64(`${VARIANT}_roc_fpr.npy`)));
    expect(Array.from(v.roc.tpr)).toEqual(Array.from(expectedFloat64(`${VARIANT}_roc_tpr.npy`)));
    expect(maxAbsDiff(v.roc.thresholds.subarray(1), expectedFloat64(`${VARIANT}_roc_thresholds.npy`).subarray(1))).toBeLessThan(1e-5);
    expect(v.officialPercent).toEqual(officialCsvRow(VARIANT).tars);
  });

  it('identification on these template features equals the official helper run on them', () => {
    const ref = expectedSummary().identification[`verif_${VARIANT}`];
    const ident = inputs.identification;
    if (!ident) throw new Error('ijb_mini has 1:N lists');
    const r = evaluateIdentification(desc, inputs.index, ident.galleries, ident.probe);
    expect({ top1: r.concatenated.rank1, top5: r.concatenated.rank5, top10: r.concatenated.rank10 }).toEqual(ref.result);
    r.concatenated.tpir.forEach((t, f) => {
      expect(t.tpir.toFixed(10)).toBe(ref.far_lines[f].pr.toFixed(10));
      expect(Math.abs(t.threshold - ref.far_lines[f].th)).toBeLessThan(1e-6);
    });
  });
});
