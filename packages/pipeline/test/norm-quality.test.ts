import type { IjbImageTruth } from '@facecoreset/data';
import { bootstrapResamplesFor, clusterBootstrapSpearman, spearman } from '@facecoreset/train';
import { benchmarkNormQuality, describeBenchmarkNormQuality } from '../src/stages/norm-quality';

/** Ground truth rows carrying only what the figure reads. */
function truthOf(quality: number[], subjects: number[], kinds: ('still' | 'frame')[]): IjbImageTruth[] {
  return quality.map((q, row) => ({ row, quality: q, subjectId: subjects[row], mediaKind: kinds[row] }) as IjbImageTruth);
}

describe('benchmarkNormQuality', () => {
  const quality = [0.9, 0.2, 0.5, 0.95, 0.1, 0.6, 0.8, 0.3, 0.4];
  const norms = [20, 6, 12, 18, 9, 11, 22, 5, 14];
  const subjects = [1, 1, 1, 2, 2, 2, 3, 3, 3];
  const kinds: ('still' | 'frame')[] = ['still', 'frame', 'frame', 'still', 'frame', 'frame', 'still', 'frame', 'frame'];

  it('correlates the norm of each face row with that row’s quality, overall and per media kind', () => {
    const r = benchmarkNormQuality(norms, truthOf(quality, subjects, kinds), 'truth.csv', 4);
    expect(r.images).toBe(9);
    expect(r.subjects).toBe(3);
    expect(r.spearman).toBe(spearman(norms, quality));
    const still = [0, 3, 6];
    const frame = [1, 2, 4, 5, 7, 8];
    expect(r.stills).toEqual({ images: 3, spearman: spearman(still.map((i) => norms[i]), still.map((i) => quality[i])) });
    expect(r.frames).toEqual({ images: 6, spearman: spearman(frame.map((i) => norms[i]), frame.map((i) => quality[i])) });
    // The interval resamples subjects, with the given seed.
    const ci = clusterBootstrapSpearman(norms, quality, subjects, { seed: 4, resamples: 1000, level: 0.95 });
    expect(r.ci95).toEqual([ci.low, ci.high]);
    expect(r.resamples).toBe(1000);
    expect(describeBenchmarkNormQuality(r)).toMatch(/on the benchmark's 9 images \(3 unseen subjects\): Spearman 0\.\d{3} \(95% CI /);
  });

  it('resamples 1000 times up to 5000 images, fewer (at least 100) on larger benchmarks', () => {
    expect([4273, 5000, 20_000, 50_000, 469_375].map(bootstrapResamplesFor)).toEqual([1000, 1000, 250, 100, 100]);
  });

  it('refuses a ground truth of another set: other row count, or rows out of face-list order', () => {
    expect(() => benchmarkNormQuality(norms.slice(1), truthOf(quality, subjects, kinds), 'truth.csv')).toThrow(/truth\.csv.*lists 9 images, the benchmark's features have 8 faces/);
    const shuffled = truthOf(quality, subjects, kinds);
    [shuffled[2], shuffled[3]] = [shuffled[3], shuffled[2]];
    expect(() => benchmarkNormQuality(norms, shuffled, 'truth.csv')).toThrow(/truth\.csv.*line 4.*expected row 2, found row 3/);
  });
});
