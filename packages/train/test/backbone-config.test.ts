import { parseBackboneTrainConfig } from '../src/backbone-config';

describe('backbone training config', () => {
  it("defaults to AdaFace's recipe with an IR-18", () => {
    expect(parseBackboneTrainConfig({})).toMatchObject({
      arch: 'ir_18',
      optimizer: 'sgd',
      lr: 0.1,
      momentum: 0.9,
      weight_decay: 5e-4,
      epochs: 26,
      lr_milestones: [12, 20, 24],
      lr_gamma: 0.1,
      dropout: 0.4,
      flip_probability: 0.5,
      head: { m: 0.4, h: 0.333, s: 64 },
    });
  });
  it('accepts a custom IResNet shape and refuses inconsistent or unknown keys, naming them', () => {
    expect(parseBackboneTrainConfig({ arch: { widths: [8, 16], units: [1, 2] } }).arch).toEqual({ widths: [8, 16], units: [1, 2], embeddingSize: 512, inputSize: 112 });
    expect(parseBackboneTrainConfig({ arch: { widths: [8, 16], units: [1, 2], inputSize: 56 } }).arch).toMatchObject({ inputSize: 56 });
    expect(() => parseBackboneTrainConfig({ arch: { widths: [8, 16], units: [1, 2], inputSize: 50 } }, 'c.json')).toThrow(/c\.json:arch: invalid backbone training config/);
    expect(() => parseBackboneTrainConfig({ arch: { widths: [8, 16], units: [1] } }, 'c.json')).toThrow('c.json:arch.units: invalid backbone training config: needs one count per stage (2 widths)');
    expect(() => parseBackboneTrainConfig({ optimiser: 'sgd' }, 'c.json')).toThrow(/c\.json:\(top level\): .*'optimiser'/);
    expect(() => parseBackboneTrainConfig({ optimizer: 'adam' })).toThrow(/^optimizer: invalid backbone training config/);
  });
});
