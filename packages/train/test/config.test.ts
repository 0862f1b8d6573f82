import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { paperAggregatorTrainConfig, parseAggregatorTrainConfig, readAggregatorTrainConfig } from '../src/config';

describe('aggregator training config', () => {
  it('defaults to the settings of the official train.sh', () => {
    const c = paperAggregatorTrainConfig();
    expect(c).toMatchObject({
      batch_size: 20,
      lr: 1e-4,
      gamma_lr: 1e-4,
      weight_decay: 1e-3,
      coreset_size: 3,
      max_template_size: 20,
      max_clip_size: 3,
      epochs: 150,
      batches_per_epoch_fraction: 0.1,
      lr_milestones: [20],
      lr_gamma: 0.1,
      gradient_clip_norm: 1,
      gamma: 'learned',
      dropout: 0.1,
      head: { m: 0.8, h: 0.333, s: 48, t_alpha: 0.01 },
    });
  });

  it('refuses unknown keys, also nested, naming the key', () => {
    expect(() => parseAggregatorTrainConfig({ batchsize: 3 }, 'c.json')).toThrow("c.json:(top level): invalid training config: Unrecognized key(s) in object: 'batchsize'");
    expect(() => parseAggregatorTrainConfig({ head: { margin: 1 } }, 'c.json')).toThrow(/c\.json:head: .*'margin'/);
  });

  it('refuses bad values with the path of the key', () => {
    expect(() => parseAggregatorTrainConfig({ batch_size: 0 })).toThrow(/^batch_size: invalid training config/);
    expect(() => parseAggregatorTrainConfig({ lr_milestones: [30, 20] })).toThrow(/lr_milestones: invalid training config: must be increasing/);
    expect(() => parseAggregatorTrainConfig({ gamma: 'fixed' })).toThrow(/^gamma:/);
  });

  it('reads a bare file or the train section of an experiment config', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-cfg-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify({ seed: 3, gamma: 0.2 }));
      fs.writeFileSync(path.join(dir, 'b.json'), JSON.stringify({ experiment: 'x', train: { seed: 4 } }));
      fs.writeFileSync(path.join(dir, 'c.json'), '{ nope');
      expect(readAggregatorTrainConfig(path.join(dir, 'a.json'))).toMatchObject({ seed: 3, gamma: 0.2, lr: 1e-4 });
      expect(readAggregatorTrainConfig(path.join(dir, 'b.json')).seed).toBe(4);
      expect(() => readAggregatorTrainConfig(path.join(dir, 'c.json'))).toThrow(/c\.json: not valid JSON/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
