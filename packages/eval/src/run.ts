/**
 * One IJB evaluation of one aggregator over loaded inputs: template descriptors, pair scores,
 * verification and (when the 1:N lists exist) identification, with progress and phase timings.
 */
import { InputError, Progress } from '@facecoreset/common';
import type { Aggregator } from './lib/aggregator';
import { evaluateIdentification, type IdentificationResult } from './lib/identification';
import { resolvePairs } from './lib/pairs';
import { scorePairsParallel } from './lib/pairs-parallel';
import { OFFICIAL_FARS } from './lib/roc';
import { computeTemplateDescriptors, type FaceFeatures, type ProtocolOptions, type TemplateDescriptors } from './lib/templates';
import { evaluateVerification, type VerificationResult } from './lib/verification';
import type { EvalInputs } from './io/inputs';

export type Protocol = 'set' | 'media';

export interface MethodOptions {
  protocol: Protocol;
  fars?: readonly number[];
  /** Media protocol: fuse original and flipped features (pre-norm vector add) before aggregation. */
  flip?: boolean;
  /** Media protocol: weight rows by their faceness score (weighted means only). */
  facenessWeighting?: boolean;
  /** Run 1:N identification when the inputs have the gallery/probe lists (default true). */
  identification?: boolean;
  /** Print progress lines to stderr (default true). */
  progress?: boolean;
}

export interface MethodRun {
  method: string;
  protocol: Protocol;
  descriptors: TemplateDescriptors;
  scores: Float64Array;
  verification: VerificationResult;
  identification?: IdentificationResult;
  /** Wall time per phase, seconds. */
  timings: { aggregate: number; score: number; roc: number; identification?: number };
  /** CPU time (user + system, all threads) per phase, seconds: comparable across busy and idle machines. */
  cpu: { aggregate: number; score: number; roc: number; identification?: number };
}

/**
 * Flip fusion of AdaFace's `pre_norm_vector_add`: v = e·n + e_f·n_f per row; unit = v/‖v‖, norm = ‖v‖.
 * @param flip features [N, D] and norms [N] of the flipped images
 */
export function fuseFlip(faces: FaceFeatures, flip: { features: Float32Array; norms: Float32Array }): FaceFeatures {
  const { count: n, dim: d } = faces;
  if (flip.features.length !== n * d || flip.norms.length !== n) throw new InputError(`flip features hold ${flip.norms.length} rows; expected ${n}, one per face row`);
  const features = new Float32Array(n * d);
  const norms = new Float32Array(n);
  const v = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    let sq = 0;
    for (let k = 0; k < d; k++) {
      v[k] = Math.fround(Math.fround(faces.features[r * d + k] * faces.norms[r]) + Math.fround(flip.features[r * d + k] * flip.norms[r]));
      sq += v[k] * v[k];
    }
    const nrm = Math.sqrt(sq);
    norms[r] = nrm;
    for (let k = 0; k < d; k++) features[r * d + k] = nrm > 0 ? v[k] / nrm : 0;
  }
  return { features, norms, faceness: faces.faceness, count: n, dim: d };
}

const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;
const cpuSeconds = (start: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
};

export async function evaluateMethod(inputs: EvalInputs, aggregator: Aggregator, opts: MethodOptions): Promise<MethodRun> {
  const showProgress = opts.progress ?? true;
  if (opts.protocol === 'set' && (opts.flip || opts.facenessWeighting)) {
    throw new InputError('flip fusion and faceness weighting belong to the media protocol; the set protocol (official FaceCoresetNet path) uses neither');
  }
  let faces = inputs.faces;
  if (opts.flip) {
    if (!inputs.flip) throw new InputError('flip fusion asked for, but the features have no flipped view (view 1)');
    faces = fuseFlip(faces, inputs.flip);
  }
  const protocol: ProtocolOptions = opts.protocol === 'set' ? { protocol: 'set' } : { protocol: 'media', medias: inputs.medias, facenessWeighting: opts.facenessWeighting };
  const nt = inputs.index.templateIds.length;
  let t0 = process.hrtime.bigint();
  let c0 = process.cpuUsage();
  const templateProgress = new Progress({ label: `${aggregator.name}: templates`, total: nt, unit: 'templates', silent: !showProgress });
  const descriptors = await computeTemplateDescriptors(faces, inputs.index, aggregator, protocol, { onProgress: (n) => templateProgress.tick(n) });
  templateProgress.finish();
  const aggregateTime = seconds(t0);
  const aggregateCpu = cpuSeconds(c0);
  t0 = process.hrtime.bigint();
  c0 = process.cpuUsage();
  const resolved = resolvePairs(inputs.pairs, inputs.index, inputs.faceListFile);
  const pairProgress = new Progress({ label: `${aggregator.name}: pairs`, total: resolved.a.length, unit: 'pairs', silent: !showProgress });
  const scores = await scorePairsParallel(descriptors.features, descriptors.dim, resolved, { onProgress: (n) => pairProgress.tick(n) });
  pairProgress.finish();
  const scoreTime = seconds(t0);
  const scoreCpu = cpuSeconds(c0);
  t0 = process.hrtime.bigint();
  c0 = process.cpuUsage();
  const verification = evaluateVerification(scores, inputs.pairs.labels, opts.fars ?? OFFICIAL_FARS, inputs.pairs.file);
  const rocTime = seconds(t0);
  const run: MethodRun = {
    method: aggregator.name,
    protocol: opts.protocol,
    descriptors,
    scores,
    verification,
    timings: { aggregate: aggregateTime, score: scoreTime, roc: rocTime },
    cpu: { aggregate: aggregateCpu, score: scoreCpu, roc: cpuSeconds(c0) },
  };
  if ((opts.identification ?? true) && inputs.identification) {
    t0 = process.hrtime.bigint();
    c0 = process.cpuUsage();
    run.identification = evaluateIdentification(descriptors, inputs.index, inputs.identification.galleries, inputs.identification.probe);
    run.timings.identification = seconds(t0);
    run.cpu.identification = cpuSeconds(c0);
  }
  return run;
}
