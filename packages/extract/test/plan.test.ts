import { InputError, UsageError } from '@facecoreset/common';
import { chunkPartName, missingChunks, parseShard, partFirstRow, planChunks, shardChunks } from '../src/lib/plan';

describe('shards and chunks', () => {
  it('parses i/n and refuses malformed or out-of-range shards', () => {
    expect(parseShard('0/1')).toEqual({ index: 0, count: 1 });
    expect(parseShard(' 3/4 ')).toEqual({ index: 3, count: 4 });
    for (const bad of ['4/4', '1/0', '-1/2', 'a/b', '1', '1/2/3']) expect(() => parseShard(bad)).toThrow(UsageError);
  });

  it('cuts rows into fixed chunks, the last one shorter', () => {
    expect(planChunks(10, 4)).toEqual([
      { index: 0, start: 0, end: 4 },
      { index: 1, start: 4, end: 8 },
      { index: 2, start: 8, end: 10 },
    ]);
    expect(planChunks(0, 4)).toEqual([]);
    expect(() => planChunks(10, 0)).toThrow(UsageError);
  });

  it.each([
    [1, 1],
    [7, 3],
    [10, 4],
    [3, 5],
    [100, 7],
  ])('shards of %i chunks over %i shards are contiguous, disjoint, balanced and cover every chunk', (k, n) => {
    const chunks = planChunks(k * 10, 10);
    const parts = Array.from({ length: n }, (_, i) => shardChunks(chunks, { index: i, count: n }));
    expect(parts.flat().map((c) => c.index)).toEqual(chunks.map((c) => c.index));
    const sizes = parts.map((p) => p.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('names parts by their first row so that names sort in row order and parse back', () => {
    const chunks = planChunks(25_000, 1024);
    const names = chunks.map(chunkPartName);
    expect(names[1]).toBe('part-000000001024.parquet');
    expect([...names].reverse().sort()).toEqual(names);
    expect(names.map(partFirstRow)).toEqual(chunks.map((c) => c.start));
    expect(partFirstRow('part-00001.parquet')).toBeUndefined();
    // the data package lists parts as part-<digits>.parquet
    expect(names.every((n) => /^part-\d+\.parquet$/.test(n))).toBe(true);
  });

  it('finds missing chunks and refuses parts of another chunking', () => {
    const chunks = planChunks(10, 4);
    expect(missingChunks(chunks, ['part-000000000004.parquet'], 'out').map((c) => c.start)).toEqual([0, 8]);
    expect(() => missingChunks(chunks, ['part-000000000003.parquet'], 'out/features')).toThrow(InputError);
    expect(() => missingChunks(chunks, ['part-000000000003.parquet'], 'out/features')).toThrow(/out\/features: unexpected part file part-000000000003.parquet/);
  });
});
