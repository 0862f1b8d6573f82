import { buildTemplateIndex, computeTemplateDescriptors, meanAggregator, normWeightedAggregator, setModelAggregator, type FaceFeatures } from '../src';

/** 6 rows of D = 4: templates 7 (rows 0, 2, 5) and 3 (rows 1, 3, 4); media ids per row. */
const dim = 4;
const raw = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0.6, 0.8, 0, 0],
  [0, 0, 1, 0],
  [0, 0.6, 0.8, 0],
  [0, 0, 0, 1],
];
const faces: FaceFeatures = { features: Float32Array.from(raw.flat()), norms: Float32Array.from([10, 20, 30, 40, 50, 60]), count: 6, dim };
const index = buildTemplateIndex([7, 3, 7, 3, 3, 7]);
const medias = [100, 200, 100, 201, 201, 101];

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

describe('template descriptors', () => {
  it('set protocol, norm-weighted: the normalised mean of norm · feature, templates in ascending id', async () => {
    const d = await computeTemplateDescriptors(faces, index, normWeightedAggregator, { protocol: 'set' });
    expect(Array.from(index.templateIds)).toEqual([3, 7]);
    const t3 = unit([0, 20 + 50 * 0.6, 40 + 50 * 0.8, 0]);
    const t7 = unit([10 + 30 * 0.6, 30 * 0.8, 0, 60]);
    Array.from(d.features).forEach((x, i) => expect(x).toBeCloseTo([...t3, ...t7][i], 6));
  });

  it('media protocol, mean: rows of a media averaged, media summed', async () => {
    const d = await computeTemplateDescriptors(faces, index, meanAggregator, { protocol: 'media', medias });
    // template 3: media 200 = row 1; media 201 = mean(rows 3, 4)
    const t3 = unit([0, 1 + 0.3, 0.5 + 0.4, 0]);
    // template 7: media 100 = mean(rows 0, 2); media 101 = row 5
    const t7 = unit([0.8, 0.4, 0, 1]);
    Array.from(d.features).forEach((x, i) => expect(x).toBeCloseTo([...t3, ...t7][i], 6));
  });

  it('faceness weighting: a constant score changes nothing; a set model cannot use it', async () => {
    const withFaceness = { ...faces, faceness: new Float32Array(6).fill(0.5) };
    const a = await computeTemplateDescriptors(withFaceness, index, normWeightedAggregator, { protocol: 'media', medias, facenessWeighting: true });
    const b = await computeTemplateDescriptors(faces, index, normWeightedAggregator, { protocol: 'media', medias });
    Array.from(a.features).forEach((x, i) => expect(x).toBeCloseTo(b.features[i], 7));
    const model = setModelAggregator('stub', { aggregateBatch: () => ({ aggregate: new Float32Array(0), norm: new Float32Array(0), indices: new Int32Array(0), coresetSize: 0 }) });
    await expect(computeTemplateDescriptors(withFaceness, index, model, { protocol: 'media', medias, facenessWeighting: true })).rejects.toThrow(/weighted-mean aggregators/);
    await expect(computeTemplateDescriptors(faces, index, normWeightedAggregator, { protocol: 'media', medias, facenessWeighting: true })).rejects.toThrow(/no faceness scores/);
  });

  it('maps a set model’s coreset indices to face-list rows, per template in selection order', async () => {
    // Stub model: picks the last then the first row of each set; aggregate = first row.
    const model = setModelAggregator('stub', {
      aggregateBatch: (features, _norms, batch, size) => {
        const aggregate = new Float32Array(batch * dim);
        const indices = new Int32Array(batch * 2).fill(-1);
        for (let b = 0; b < batch; b++) {
          aggregate.set(features.subarray(b * size * dim, b * size * dim + dim), b * dim);
          indices[b * 2] = size - 1;
          if (size > 1) indices[b * 2 + 1] = 0;
        }
        return { aggregate, norm: new Float32Array(batch).fill(2), indices, coresetSize: 2 };
      },
    });
    const d = await computeTemplateDescriptors(faces, index, model, { protocol: 'set' });
    const rows = (t: number): number[] => Array.from(d.coresets.rows.subarray(d.coresets.offsets[t], d.coresets.offsets[t + 1]));
    expect([rows(0), rows(1)]).toEqual([[4, 1], [5, 0]]);
    expect(Array.from(d.features.subarray(0, 4))).toEqual([0, 1, 0, 0]);
    expect(Array.from(d.norms)).toEqual([2, 2]);
  });
});
