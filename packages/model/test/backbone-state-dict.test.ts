/**
 * IResNet import/export: prefixes (AdaFace `model.`, FaceCoresetNet `model.` + `template_model.module.`,
 * bare), unused keys carried over unchanged, and one-line errors for missing, mis-shaped or foreign keys.
 */
import {
  StateDictEntry,
  exportIResNetStateDict,
  findBackbonePrefix,
  importIResNetStateDict,
  initIResNetWeights,
  iresnetConfig,
} from '../src/backbone';
import { ir18StateDict } from './backbone-fixtures';

const tiny = iresnetConfig({ widths: [4, 8], units: [1, 2], embeddingSize: 6, inputSize: 8 });

/** Element-wise equality (jest's deep equality is far too slow for 12.8M-element arrays). */
function sameValues(a: StateDictEntry['data'], b: StateDictEntry['data']): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function withPrefix(sd: Map<string, StateDictEntry>, from: string, to: string): Map<string, StateDictEntry> {
  return new Map([...sd].map(([k, v]) => [k.startsWith(from) ? to + k.slice(from.length) : k, v]));
}

describe('IResNet state dicts', () => {
  it('writes the fixture checkpoint back with the same keys, order and values', () => {
    const sd = ir18StateDict();
    const w = importIResNetStateDict(sd);
    const out = exportIResNetStateDict(w, { base: sd });
    expect([...out.keys()]).toEqual([...sd.keys()]);
    for (const [k, v] of sd) {
      const o = out.get(k)!;
      expect(o.shape).toEqual(v.shape);
      if (k.endsWith('num_batches_tracked')) expect(o).toBe(v); // untouched entry
      else expect([k, sameValues(o.data, v.data)]).toEqual([k, true]);
    }
  });

  it('round-trips fresh weights of a custom network without a prefix, inferring the architecture', () => {
    const w = initIResNetWeights(tiny, 5);
    const sd = exportIResNetStateDict(w, { prefix: '' });
    expect(findBackbonePrefix(sd)).toBe('');
    const back = importIResNetStateDict(sd);
    expect(back.config).toEqual(tiny);
    expect([...back.tensors.keys()]).toEqual([...w.tensors.keys()]);
    for (const [k, v] of w.tensors) expect(back.tensors.get(k)).toEqual(v);
  });

  it('reads a FaceCoresetNet layout from model. and writes both copies, keeping other keys', () => {
    const bare = exportIResNetStateDict(initIResNetWeights(tiny, 1), { prefix: '' });
    const sd = new Map<string, StateDictEntry>([
      ['aggregate_model.gamma', { dtype: 'float32', shape: [1], data: new Float32Array([0.21]) }],
      ...withPrefix(bare, '', 'model.'),
      ...withPrefix(bare, '', 'template_model.module.'),
      ['head.kernel', { dtype: 'float32', shape: [6, 3], data: new Float32Array(18) }],
    ]);
    expect(findBackbonePrefix(sd)).toBe('model.');
    const w = importIResNetStateDict(sd);
    w.tensors.get('input_layer.2.weight')!.fill(0.5);
    const out = exportIResNetStateDict(w, { base: sd, prefix: ['model.', 'template_model.module.'] });
    expect([...out.keys()]).toEqual([...sd.keys()]);
    expect(out.get('aggregate_model.gamma')).toBe(sd.get('aggregate_model.gamma'));
    expect(out.get('head.kernel')).toBe(sd.get('head.kernel'));
    expect(Array.from(out.get('template_model.module.input_layer.2.weight')!.data as Float32Array)).toEqual([0.5, 0.5, 0.5, 0.5]);
    // An explicit prefix reads the other copy.
    const other = importIResNetStateDict(sd, { prefix: 'template_model.module.' });
    expect(other.tensors.get('input_layer.2.weight')).toEqual(new Float32Array([0.25, 0.25, 0.25, 0.25]));
  });

  it('takes the stage layout from an explicit config when consecutive stages share a width', () => {
    const sameWidths = iresnetConfig({ widths: [4, 4], units: [1, 2], embeddingSize: 3, inputSize: 8 });
    const sd = exportIResNetStateDict(initIResNetWeights(sameWidths, 2));
    expect(importIResNetStateDict(sd, { config: sameWidths }).config).toEqual(sameWidths);
    // Shapes alone cannot place the stage boundary: inference sees one stage of three units.
    expect(importIResNetStateDict(sd).config.units).toEqual([3]);
    expect(() => importIResNetStateDict(sd, { config: { ...sameWidths, units: [1, 1] } })).toThrow(/checkpoint holds .* expected/);
  });

  it('names a missing key with its expected shape', () => {
    const sd = exportIResNetStateDict(initIResNetWeights(tiny), { prefix: 'model.' });
    sd.delete('model.body.2.res_layer.4.weight');
    expect(() => importIResNetStateDict(sd, { config: tiny, file: 'adaface.ckpt' })).toThrow(
      "adaface.ckpt: missing key 'model.body.2.res_layer.4.weight' (expected shape [8, 8, 3, 3])",
    );
  });

  it('names a mis-shaped key with expected and found shapes', () => {
    const sd = exportIResNetStateDict(initIResNetWeights(tiny), { prefix: 'model.' });
    sd.set('model.body.1.res_layer.3.weight', { shape: [4], data: new Float32Array(4) });
    expect(() => importIResNetStateDict(sd, { file: 'x.ckpt' })).toThrow("x.ckpt: key 'model.body.1.res_layer.3.weight' has shape [4], expected [8]");
  });

  it('refuses a key the architecture does not have and a checkpoint of another architecture', () => {
    const sd = exportIResNetStateDict(initIResNetWeights(tiny), { prefix: 'model.' });
    sd.set('model.body.0.res_layer.6.fc1.weight', { shape: [1], data: new Float32Array(1) });
    expect(() => importIResNetStateDict(sd)).toThrow(/unexpected key 'model.body.0.res_layer.6.fc1.weight'/);
    expect(() => importIResNetStateDict(ir18StateDict(), { config: 'ir_34', file: 'f.ckpt' })).toThrow(
      "f.ckpt: checkpoint holds ir_18 under 'model.', expected ir_34",
    );
  });

  it('says so when there is no backbone at all', () => {
    const sd = new Map<string, StateDictEntry>([['head.kernel', { shape: [2, 2], data: new Float32Array(4) }]]);
    expect(() => importIResNetStateDict(sd, { file: 'head.ckpt' })).toThrow(/^head.ckpt: no IResNet backbone found: no key ends in 'input_layer.0.weight'/);
  });
});
