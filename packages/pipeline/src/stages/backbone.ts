/**
 * backbone: import an AdaFace / Lightning IResNet checkpoint (or one of ours), or train one on the
 * ingested training images. Either way the output is `backbone.safetensors` in our format.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensors, metadataToStrings, writeFileAtomic } from '@facecoreset/common';
import { loadBackboneCheckpoint } from '@facecoreset/extract';
import { describeIResNetConfig, exportIResNetStateDict } from '@facecoreset/model';
import { runBackboneTraining } from '@facecoreset/train';
import { resolveWorkspacePath } from '../config';
import type { StageFn } from './context';
import { TRAIN_TABLE_DIR } from './ingest';
import { linkTree, workDir } from './workdir';

export const BACKBONE_CHECKPOINT = 'backbone.safetensors';

function qualityFileOf(synthOut: string): string | undefined {
  const f = path.join(synthOut, 'ground_truth', 'train_images.csv');
  return fs.existsSync(f) ? f : undefined;
}

export const backboneStage: StageFn = async (ctx) => {
  const b = ctx.config.backbone;
  const out = path.join(ctx.outDir, BACKBONE_CHECKPOINT);
  if (b.mode === 'import') {
    const file = resolveWorkspacePath(b.checkpoint);
    const weights = loadBackboneCheckpoint(file, { arch: b.arch });
    const tensors = new Map([...exportIResNetStateDict(weights)].map(([k, t]) => [k, { dtype: 'F32' as const, shape: [...t.shape], values: t.data }]));
    writeFileAtomic(out, encodeSafetensors(tensors, metadataToStrings({ format: 'facecoreset.backbone', backbone: weights.config, source: path.basename(file) })));
    ctx.log(`imported ${describeIResNetConfig(weights.config)} from ${b.checkpoint}`);
    ctx.track.params({ 'backbone.mode': 'import', 'backbone.arch': b.arch, 'backbone.checkpoint': b.checkpoint });
    return { summary: { mode: 'import', source: b.checkpoint, config: weights.config } };
  }
  // Training checkpoints live in a work folder so a killed run resumes.
  const work = workDir(ctx.experiment, ctx.stage, JSON.parse(fs.readFileSync(path.join(ctx.upstream('ingest-train'), 'manifest.json'), 'utf8')).finishedAt.replace(/[^0-9]/g, ''));
  const summary = await runBackboneTraining({
    images: path.join(ctx.upstream('ingest-train'), TRAIN_TABLE_DIR),
    config: b.options,
    out: work,
    resume: true,
    backend: process.env.FCN_BACKEND || undefined,
    // The demo data's known image quality: the run reports how well feature norms track it.
    qualityFile: ctx.config.data.synth ? qualityFileOf(resolveWorkspacePath(ctx.config.data.synth.out)) : undefined,
    log: ctx.log,
    onMetrics: (step: number, metrics: Record<string, number>) => ctx.track.metrics(metrics, step),
  });
  linkTree(summary.exportPath, out);
  linkTree(work, path.join(ctx.outDir, 'training'));
  fs.rmSync(work, { recursive: true, force: true });
  ctx.track.artifact('training/metrics.jsonl');
  return { summary: { mode: 'train', ...summary.summary } };
};
