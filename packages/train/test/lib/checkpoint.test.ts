import { encodeSafetensors, metadataToStrings } from '@facecoreset/common';
import { paperAggregatorTrainConfig } from '../../src/config';
import { decodeTrainCheckpoint, encodeTrainCheckpoint, TRAINING_STATE_FORMAT, type TrainingState } from '../../src/lib/checkpoint';

function training(): TrainingState {
  return {
    format: TRAINING_STATE_FORMAT,
    version: 1,
    kind: 'aggregator',
    model: { aggregator: { embeddingSize: 8 }, head: { classes: 3 } },
    train_config: paperAggregatorTrainConfig(),
    position: { step: 12, epoch: 1, batch: 2 },
    scheduler: { name: 'MultiStepLR', epoch: 1, lr: { gamma: 1e-4, other: 1e-4 } },
    optimizer: { name: 'AdamW', steps: 12 },
    rng: { algorithm: 'xoshiro128**', seed: 42, streams: { sets: '(seed, "sets", epoch, batch)' } },
    best: { metric: 'val_tar@far=0.001', value: 0.5, step: 10, epoch: 0 },
    validation: null,
    data: { features: 100 },
    git_sha: 'abc',
    created_at: '2026-01-01T00:00:00.000Z',
  };
}

describe('training checkpoint codec', () => {
  it('round-trips tensors bit for bit (incl. NaN payloads, -0, subnormals), the training state and the model metadata', () => {
    const odd = new Float32Array([-0, 1e-45, NaN, Infinity, 3.4028234663852886e38, 0.1]);
    const tensors = new Map([
      ['aggregate_model.gamma', { shape: [], data: Float32Array.of(0.01) }],
      ['optimizer.exp_avg.x', { shape: [2, 3], data: odd }],
    ]);
    const back = decodeTrainCheckpoint(encodeTrainCheckpoint(tensors, training(), { format: 'facecoreset.aggregator', version: 1 }), 'c.safetensors');
    expect(back.training).toEqual(training());
    expect(back.modelMetadata).toEqual({ format: 'facecoreset.aggregator', version: 1 });
    expect(Array.from(back.tensors.keys()).sort()).toEqual(Array.from(tensors.keys()).sort());
    for (const [k, t] of tensors) {
      expect(back.tensors.get(k)!.shape).toEqual(t.shape);
      expect(new Uint32Array(back.tensors.get(k)!.data.buffer)).toEqual(new Uint32Array(t.data.buffer.slice(0)));
    }
  });

  it('refuses a safetensors file that is not a training checkpoint, naming the file', () => {
    const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [1], values: [1] } }, { format: '"pt"' });
    expect(() => decodeTrainCheckpoint(bytes, 'x.safetensors')).toThrow("x.safetensors: not a training checkpoint (no 'training' metadata)");
  });

  it('refuses training metadata that breaks the schema, naming the key', () => {
    const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [1], values: [1] } }, metadataToStrings({ training: { ...training(), position: { step: -1, epoch: 0, batch: 0 } } }));
    expect(() => decodeTrainCheckpoint(bytes, 'x.safetensors')).toThrow(/^x\.safetensors:training\.position\.step: checkpoint training metadata/);
  });

  it('refuses non-float32 tensors', () => {
    const bytes = encodeSafetensors({ w: { dtype: 'F16', shape: [1], values: [1] } }, metadataToStrings({ training: training() }));
    expect(() => decodeTrainCheckpoint(bytes, 'x.safetensors')).toThrow("x.safetensors: tensor 'w' is F16; training checkpoints hold F32 only");
  });

  it('keeps the training entry apart from the model metadata', () => {
    expect(() => encodeTrainCheckpoint(new Map(), training(), { training: 1 })).toThrow(/may not use the key 'training'/);
  });
});
