/**
 * Draws the planned IJB benchmark and writes it in the official layout:
 *   <root>/<IJBB|IJBC>/meta/<name>_face_tid_mid.txt, _template_pair_label.txt, _name_5pts_score.txt,
 *   _1N_gallery_S1/S2.csv (IJB-C: G1/G2), _1N_probe_mixed.csv, and <root>/<dataset>/loose_crop/<n>.jpg
 * Loose crops hold the face under a known similarity; their five landmarks (with a detector's error
 * that grows as quality drops) align them back to the training framing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { jitterSeverity, planOccluder, qualityOf, sampleCleanSeverity, sampleSeverity, type DegradationSpec } from './degrade';
import { jitterAppearance, sampleAppearance, sampleIdentity, type FaceAppearance, type FaceIdentity } from './face';
import type { IjbPlan, PlannedMedia, QualityProfile, TemplateKind } from './ijb-plan';
import { Random } from './random';
import type { DrawPool } from './draw-pool';
import type { DrawTask } from './draw-task';
import { describeImage, renderLooseCrop, sampleLooseCropPlacement, type FaceImageSpec, type LooseCropPlacement } from './render';
import { composeSimilarity, similarityFromParts, similarityScale, type Point } from './similarity';

export type SynthIjbDataset = 'IJBB' | 'IJBC';

/** IJB subject `index` of a seed: drawn from its own stream, so never one of the training identities. */
export function ijbIdentity(seed: number, index: number): FaceIdentity {
  return sampleIdentity(Random.stream(seed, 'ijb-identity', index));
}

export function ijbSubjectName(index: number): string {
  return `synth-ijb-${String(index).padStart(5, '0')}`;
}

/** Ground truth of one face row. */
export interface IjbImageTruth {
  row: number;
  image: string;
  templateId: number;
  mediaId: number;
  subjectId: number;
  mediaKind: 'still' | 'frame';
  frame: number;
  quality: number;
  degradation: DegradationSpec;
  yawDeg: number;
  pitchDeg: number;
  faceness: number;
  /** True landmarks in crop pixels (the written ones add the detector's error). */
  trueLandmarks: Point[];
  /** Aligned 112×112 frame → loose crop: scale, rotation (degrees), translation. */
  placement: { scale: number; rotationDeg: number; tx: number; ty: number };
}

export interface IjbTemplateTruth {
  templateId: number;
  subjectId: number;
  subject: string;
  kind: TemplateKind;
  size: number;
  stills: number;
  frames: number;
  media: number;
  /** '1' / '2' for the two 1:N galleries, 'probe' otherwise. */
  split: '1' | '2' | 'probe';
}

function severityFor(rng: Random, profile: QualityProfile): DegradationSpec {
  switch (profile) {
    case 'good':
      return sampleCleanSeverity(rng);
    case 'any':
      return sampleSeverity(rng);
    case 'moderate':
      return sampleSeverity(rng, { cleanShare: 0.15, activeWeights: [0.7, 0.3, 0] });
    case 'degraded':
      return sampleSeverity(rng, { cleanShare: 0, minSeverity: 0.45, activeWeights: [0, 0.6, 0.4], weights: { occlusion: 0.04, compression: 0.08 } });
  }
}

/** What stays fixed across the frames of one medium. */
interface MediaBase {
  appearance: FaceAppearance;
  degradation: DegradationSpec;
  placement: LooseCropPlacement;
  occluderPlan: ReturnType<typeof planOccluder>;
}

function mediaBase(seed: number, identity: FaceIdentity, media: PlannedMedia): MediaBase {
  const rng = Random.stream(seed, 'ijb-media', media.mediaId);
  return {
    appearance: sampleAppearance(rng, identity),
    degradation: severityFor(rng, media.profile),
    placement: sampleLooseCropPlacement(rng),
    occluderPlan: planOccluder(rng, identity),
  };
}

/** A video frame moves a little: camera shake and a slightly different framing. */
function jitterPlacement(rng: Random, base: LooseCropPlacement): LooseCropPlacement {
  const c = 56;
  const scale = 1 + rng.clippedNormal(0, 0.015, -0.04, 0.04);
  const rot = (rng.clippedNormal(0, 1, -3, 3) * Math.PI) / 180;
  const about = similarityFromParts(scale, rot, 0, 0);
  const shift = { ...about, tx: c - (about.a * c - about.b * c) + rng.normal(0, 1.2), ty: c - (about.b * c + about.a * c) + rng.normal(0, 1.2) };
  const alignedToCrop = composeSimilarity(base.alignedToCrop, shift);
  return { ...base, alignedToCrop, scale: similarityScale(alignedToCrop) };
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export interface DrawnIjbRow {
  jpeg: Uint8Array;
  /** Landmarks as a detector would report them (crop pixels). */
  landmarks: Point[];
  faceness: number;
  truth: Omit<IjbImageTruth, 'row' | 'image' | 'templateId' | 'subjectId'>;
}

/** The picture of frame `frame` of `media` and where it sits in its loose crop. */
export function ijbRowSpec(seed: number, identity: FaceIdentity, media: PlannedMedia, frame: number): { spec: FaceImageSpec; placement: LooseCropPlacement; rng: Random } {
  const base = mediaBase(seed, identity, media);
  const rng = Random.stream(seed, 'ijb-frame', media.mediaId, frame);
  const isFrame = media.kind === 'video';
  const appearance = isFrame ? jitterAppearance(rng, base.appearance, 1) : base.appearance;
  const degradation = isFrame ? jitterSeverity(rng, base.degradation, 0.03) : base.degradation;
  const placement = isFrame ? jitterPlacement(rng, base.placement) : base.placement;
  return { spec: describeImage(rng, identity, appearance, degradation, base.occluderPlan), placement, rng };
}

/** Draws frame `frame` of `media` (pure: the same arguments give the same bytes). */
export function drawIjbRow(seed: number, identity: FaceIdentity, media: PlannedMedia, frame: number): DrawnIjbRow {
  const { spec, placement, rng } = ijbRowSpec(seed, identity, media, frame);
  const isFrame = media.kind === 'video';
  const appearance = spec.appearance;
  const crop = renderLooseCrop(spec, placement);
  const quality = qualityOf(spec.degradation.severity);
  const detectorError = (0.3 + 1.2 * (1 - quality)) * placement.scale;
  const landmarks = crop.landmarks.map(([x, y]) => [x + rng.normal(0, detectorError), y + rng.normal(0, detectorError)] as const);
  const faceness = sigmoid(6 * (quality - 0.3) + rng.normal(0, 0.5));
  const deg = 180 / Math.PI;
  const t = placement.alignedToCrop;
  return {
    jpeg: crop.jpeg,
    landmarks,
    faceness,
    truth: {
      mediaId: media.mediaId,
      mediaKind: isFrame ? 'frame' : 'still',
      frame,
      quality,
      degradation: spec.degradation,
      yawDeg: appearance.yaw * deg,
      pitchDeg: appearance.pitch * deg,
      faceness,
      trueLandmarks: crop.landmarks,
      placement: { scale: similarityScale(t), rotationDeg: Math.atan2(t.b, t.a) * deg, tx: t.tx, ty: t.ty },
    },
  };
}

export interface IjbWriteResult {
  images: IjbImageTruth[];
  templates: IjbTemplateTruth[];
}

/**
 * Writes many small files with a bounded number in flight, so that file-system latency overlaps
 * with drawing instead of adding to it.
 */
class FileWriteQueue {
  private readonly inFlight: Promise<void>[] = [];

  constructor(private readonly limit = 32) {}

  async write(file: string, bytes: Uint8Array): Promise<void> {
    if (this.inFlight.length >= this.limit) await this.inFlight.shift();
    const done = fs.promises.writeFile(file, bytes);
    done.catch(() => undefined); // observed in drain(); never an unhandled rejection meanwhile
    this.inFlight.push(done);
  }

  /** Waits for every write; throws the first failure. */
  async drain(): Promise<void> {
    const results = await Promise.allSettled(this.inFlight.splice(0));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** Writes the benchmark under `root`/`dataset`, drawing on `pool`. `onImage` is called per crop (progress). */
export async function writeIjb(root: string, dataset: SynthIjbDataset, seed: number, plan: IjbPlan, pool: DrawPool, onImage: (bytes: number) => void = () => undefined): Promise<IjbWriteResult> {
  const prefix = dataset.toLowerCase();
  const metaDir = path.join(root, dataset, 'meta');
  const cropDir = path.join(root, dataset, 'loose_crop');
  fs.mkdirSync(metaDir, { recursive: true });
  fs.mkdirSync(cropDir, { recursive: true });
  const half = Math.ceil(plan.subjectIds.length / 2);
  const galleryOf = new Map(plan.galleryTemplateIds.map((t, s) => [t, s < half ? ('1' as const) : ('2' as const)]));

  const faceLines: string[] = [];
  const landmarkLines: string[] = [];
  const images: IjbImageTruth[] = [];
  const templates: IjbTemplateTruth[] = [];
  const oneToN: Record<'1' | '2' | 'probe', string[]> = { '1': [], '2': [], probe: [] };
  const files = new FileWriteQueue();
  const tasks: DrawTask[] = plan.templates.flatMap((t) => t.items.map((item) => ({ kind: 'ijb' as const, seed, subjectIndex: t.subjectIndex, media: item.media, frame: item.frame })));
  const drawn = pool.draw(tasks);
  try {
    for (const template of plan.templates) {
      const subjectId = plan.subjectIds[template.subjectIndex];
      const split = galleryOf.get(template.templateId) ?? 'probe';
      for (const item of template.items) {
        const next = await drawn.next();
        if (next.done || next.value.kind !== 'ijb') throw new Error('draw pool returned fewer IJB pictures than rows');
        const row = images.length;
        const image = `${row + 1}.jpg`;
        const picture = next.value;
        await files.write(path.join(cropDir, image), picture.jpeg);
        faceLines.push(`${image} ${template.templateId} ${item.media.mediaId}\n`);
        landmarkLines.push(`${image} ${picture.landmarks.map(([x, y]) => `${x.toFixed(3)} ${y.toFixed(3)}`).join(' ')} ${picture.faceness.toFixed(4)}\n`);
        oneToN[split].push(`${template.templateId},${subjectId},${image}\n`);
        images.push({ row, image, templateId: template.templateId, subjectId, ...picture.truth });
        onImage(picture.jpeg.length);
      }
      const mediaIds = new Set(template.items.map((i) => i.media.mediaId));
      const frames = template.items.filter((i) => i.media.kind === 'video').length;
      templates.push({
        templateId: template.templateId,
        subjectId,
        subject: ijbSubjectName(template.subjectIndex),
        kind: template.kind,
        size: template.items.length,
        stills: template.items.length - frames,
        frames,
        media: mediaIds.size,
        split,
      });
    }
  } finally {
    await drawn.return(undefined);
    await files.drain();
  }
  const header = 'TEMPLATE_ID,SUBJECT_ID,FILENAME\n';
  const [g1, g2] = dataset === 'IJBC' ? ['G1', 'G2'] : ['S1', 'S2'];
  fs.writeFileSync(path.join(metaDir, `${prefix}_face_tid_mid.txt`), faceLines.join(''));
  fs.writeFileSync(path.join(metaDir, `${prefix}_name_5pts_score.txt`), landmarkLines.join(''));
  fs.writeFileSync(path.join(metaDir, `${prefix}_template_pair_label.txt`), plan.pairs.map(([a, b, l]) => `${a} ${b} ${l}\n`).join(''));
  fs.writeFileSync(path.join(metaDir, `${prefix}_1N_gallery_${g1}.csv`), header + oneToN['1'].join(''));
  fs.writeFileSync(path.join(metaDir, `${prefix}_1N_gallery_${g2}.csv`), header + oneToN['2'].join(''));
  fs.writeFileSync(path.join(metaDir, `${prefix}_1N_probe_mixed.csv`), header + oneToN.probe.join(''));
  templates.sort((a, b) => a.templateId - b.templateId);
  return { images, templates };
}
