import { flattenParams, MLFLOW_LIMITS, prepareParams, prepareTags, splitBatch, validateKey, SERVER_BATCH_LIMITS, TRUNCATED_PARAMS_TAG, TRUNCATED_TAGS_TAG, type LogBatch, type MetricPoint } from '../src';

describe('keys', () => {
  test.each(['loss', 'train/loss', 'tar_at_far_1e-4', 'a b.c-d:e_f', 'x'.repeat(250)])('accepts %s', (key) => {
    expect(() => validateKey('metric', key)).not.toThrow();
  });
  test.each([
    ['', /must not be empty/],
    ['x'.repeat(251), /251 characters, at most 250/],
    ['a..b', /'\.\.' is not allowed/],
    ['../a', /'\.\.' is not allowed/],
    ['/a', /would resolve to/],
    ['a/', /would resolve to "a"/],
    ['a/./b', /would resolve to "a\/b"/],
    ['é', /character "é" not allowed/],
    ['a\nb', /character "\\n" not allowed/],
  ])('rejects %j', (key, message) => {
    expect(() => validateKey('param', key)).toThrow(message);
  });

  test('flattens nested config to dotted params; arrays stay whole', () => {
    expect(flattenParams({ a: { b: { c: 1 }, d: [1, 2], e: null, f: {} }, g: 'text', h: true, u: undefined })).toEqual({ 'a.b.c': '1', 'a.d': '[1,2]', 'a.e': 'null', 'a.f': '{}', g: 'text', h: 'true' });
  });

  test('cuts values at the server limits and names the cut keys in a tag', () => {
    const { params, tags } = prepareParams({ short: 'a', long: 'b'.repeat(MLFLOW_LIMITS.maxParamValueLength + 1) });
    expect(params.long).toHaveLength(MLFLOW_LIMITS.maxParamValueLength);
    expect(tags).toEqual({ [TRUNCATED_PARAMS_TAG]: 'long' });
    const t = prepareTags({ big: 'c'.repeat(MLFLOW_LIMITS.maxTagValueLength + 5) });
    expect(t.big).toHaveLength(MLFLOW_LIMITS.maxTagValueLength);
    expect(t[TRUNCATED_TAGS_TAG]).toBe('big');
  });
});

describe('splitBatch', () => {
  function randomBatch(seed: number): LogBatch {
    let s = seed;
    const rnd = (n: number): number => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s % n;
    };
    const metrics: MetricPoint[] = Array.from({ length: rnd(3000) }, (_, i) => ({ key: `m${rnd(20)}`, value: rnd(1000) / 7, step: i, timestamp: 1_700_000_000_000 + i }));
    const params = Array.from({ length: rnd(300) }, (_, i) => ({ key: `p${i}`, value: 'v'.repeat(rnd(6000)) }));
    const tags = Array.from({ length: rnd(300) }, (_, i) => ({ key: `t${i}`, value: 'w'.repeat(rnd(8000)) }));
    return { metrics, params, tags };
  }

  test.each([1, 2, 3, 4, 5, 6])('every request within the limits, nothing lost or reordered (seed %i)', (seed) => {
    const input = randomBatch(seed);
    const batches = splitBatch(input);
    for (const b of batches) {
      expect(b.metrics.length).toBeLessThanOrEqual(SERVER_BATCH_LIMITS.maxMetrics);
      expect(b.params.length).toBeLessThanOrEqual(SERVER_BATCH_LIMITS.maxParams);
      expect(b.tags.length).toBeLessThanOrEqual(SERVER_BATCH_LIMITS.maxTags);
      expect(b.metrics.length + b.params.length + b.tags.length).toBeLessThanOrEqual(SERVER_BATCH_LIMITS.maxItems);
      const body = JSON.stringify({ run_id: 'x'.repeat(32), metrics: b.metrics, params: b.params, tags: b.tags });
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(SERVER_BATCH_LIMITS.maxBytes);
    }
    expect(batches.flatMap((b) => b.metrics)).toEqual(input.metrics);
    expect(batches.flatMap((b) => b.params)).toEqual(input.params);
    expect(batches.flatMap((b) => b.tags)).toEqual(input.tags);
  });

  test('exact limits: 1000 metrics fit one request, 1001 need two; 100 params + 900 metrics fit one', () => {
    const m = (n: number): MetricPoint[] => Array.from({ length: n }, (_, i) => ({ key: 'm', value: i, step: i, timestamp: i }));
    const p = (n: number): { key: string; value: string }[] => Array.from({ length: n }, (_, i) => ({ key: `p${i}`, value: '1' }));
    expect(splitBatch({ metrics: m(1000), params: [], tags: [] })).toHaveLength(1);
    expect(splitBatch({ metrics: m(1001), params: [], tags: [] }).map((b) => b.metrics.length)).toEqual([1000, 1]);
    expect(splitBatch({ metrics: m(900), params: p(100), tags: [] })).toHaveLength(1);
    expect(splitBatch({ metrics: m(901), params: p(100), tags: [] })).toHaveLength(2);
    expect(splitBatch({ metrics: [], params: p(101), tags: [] }).map((b) => b.params.length)).toEqual([100, 1]);
  });

  test('an item larger than a whole request is an error naming it', () => {
    expect(() => splitBatch({ metrics: [], params: [], tags: [{ key: 'huge', value: 'x'.repeat(1_000_001) }] })).toThrow(/'huge'.*over the 1000000-byte request limit/);
  });
});
