import * as fs from 'node:fs';
import * as path from 'node:path';
import { Sgd } from '../../src/lib/backbone/sgd';

/** torch.optim.SGD outputs (fixtures-gen/make_sgd.py, torch 1.13 float32). */
const ref = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/sgd_torch.json'), 'utf8'));

describe('Sgd (torch.optim.SGD semantics)', () => {
  it('matches PyTorch over three steps: momentum buffers, per-group weight decay, a step without gradient, changing rates', () => {
    const params = new Map([
      ['a', Float32Array.from(ref.init.a)],
      ['b', Float32Array.from(ref.init.b)],
    ]);
    const sgd = new Sgd(
      [
        { params: ['a'], lr: 0.1, weightDecay: ref.weight_decay[0] },
        { params: ['b'], lr: 0.1, weightDecay: ref.weight_decay[1] },
      ],
      ref.momentum,
    );
    ref.grads.forEach((g: { a: number[]; b: number[] | null }, step: number) => {
      sgd.setLearningRates([ref.lrs[step], ref.lrs[step]]);
      const grads = new Map([['a', Float32Array.from(g.a)]]);
      if (g.b) grads.set('b', Float32Array.from(g.b));
      sgd.step(params, grads);
      for (const name of ['a', 'b'] as const) {
        const want: number[] = ref.after[step][name];
        const got = params.get(name)!;
        // torch rounds every intermediate to float32, we round once: ≤ a few float32 ulps.
        want.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(w))));
      }
    });
    expect([...sgd.buffers.keys()].sort()).toEqual(['a', 'b']);
  });

  it('refuses a parameter in two groups and a gradient outside every group', () => {
    expect(() => new Sgd([{ params: ['x'], lr: 1, weightDecay: 0 }, { params: ['x'], lr: 1, weightDecay: 0 }], 0.9)).toThrow(/'x' is in more than one group/);
    const s = new Sgd([{ params: ['x'], lr: 1, weightDecay: 0 }], 0.9);
    expect(() => s.step(new Map([['x', new Float32Array(1)]]), new Map([['y', new Float32Array(1)]]))).toThrow(/gradient for 'y', which is in no parameter group/);
  });
});
