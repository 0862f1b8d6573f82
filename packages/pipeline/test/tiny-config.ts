/** A tiny experiment (seconds per stage) for end-to-end pipeline tests. */
import * as path from 'node:path';

export const TINY_EXPERIMENT = 'ci-incremental';

export function tinyConfig(dataDir: string, mlruns: string): Record<string, any> {
  return {
    experiment: TINY_EXPERIMENT,
    description: 'A tiny experiment for the incremental-rerun test.',
    data: {
      synth: { out: dataDir, seed: 3, options: { identities: 12, imagesPerIdentity: 6, ijbSubjects: 6, templatesPerSubject: 3, maxVideoFrames: 16, impostorPairs: 300 } },
      train: { format: 'recordio', path: path.join(dataDir, 'train') },
      ijb: { root: path.join(dataDir, 'ijb'), datasets: ['IJBB'], align: true },
    },
    backbone: {
      mode: 'train',
      options: { arch: { widths: [8, 8, 16, 16], units: [1, 1, 1, 1], embeddingSize: 32 }, epochs: 1, batch_size: 16, optimizer: 'adamw', lr: 0.001, lr_milestones: [], validation: { identity_fraction: 0.2, max_identities: 3 } },
    },
    extract: { trainViews: 'original,flip', ijbViews: 'original', shards: 2, batchSize: 32, seed: 0 },
    train: { batch_size: 4, max_template_size: 6, epochs: 2, batches_per_epoch_fraction: 1, attention_heads: 4, validation: { identity_fraction: 0.2, max_identities: 3 }, checkpoint: { every_steps: 0, keep_last: 1 } },
    eval: { methods: ['facecoresetnet', 'mean'], protocol: 'set', identification: true },
    report: { title: 'incremental test' },
    tracking: { experimentName: 'fcn-incremental-test', mlrunsDir: mlruns },
  };
}

