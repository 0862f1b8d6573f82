/**
 * From a face description to pixels: the aligned 112×112 training crop, or a loose crop (the face
 * placed by a known similarity in a larger picture, as IJB's loose crops are).
 */
import { BLUR_SIGMA_AT_1, DOWNSCALE_AT_1, EXPOSURE_STOPS_AT_1, NOISE_STD_AT_1, fitOccluder, jpegQualityOf, planOccluder, type DegradationSpec } from './degrade';
import { FacePose, type FaceAppearance, type FaceIdentity } from './face';
import { encodeJpeg } from './jpeg-encoder';
import { MIN_DOWNSCALE, addNoise, applyExposure, gaussianBlur, toBytes, upsampleBilinear, type FloatImage } from './pixels';
import { Random } from './random';
import { Canvas } from './raster';
import { paintFace, type Occluder } from './scene';
import { ARCFACE_POINTS, applySimilarity, composeSimilarity, estimateSimilarity, similarityFromParts, type Point, type Similarity } from './similarity';

export const ALIGNED_SIZE = 112;

/** Gaussian sigma, in low-resolution pixels, that smooths a bilinear upscale. */
const UPSAMPLE_SMOOTHING = 0.4;

/**
 * Bilinear alignment of a loose crop averages pixel noise down to about 2/3 of its std; loose crops
 * get that much more noise so that aligned IJB faces match the training crops' noise level.
 */
const LOOSE_CROP_NOISE_BOOST = 1.5;

/** Everything needed to draw one picture, deterministically. */
export interface FaceImageSpec {
  identity: FaceIdentity;
  appearance: FaceAppearance;
  /** `severity.occlusion` is the share the fitted occluder really covers (the ground truth). */
  degradation: DegradationSpec;
  occluder?: Occluder;
  /** Seed of the pixel-noise stream. */
  noiseSeed: number;
}

/** Fits the occluder for the requested occlusion severity and records the severity it reaches. */
export function describeImage(rng: Random, identity: FaceIdentity, appearance: FaceAppearance, degradation: DegradationSpec, occluderPlan?: ReturnType<typeof planOccluder>): FaceImageSpec {
  let occluder: Occluder | undefined;
  let severity = degradation.severity;
  if (severity.occlusion > 0.02) {
    const fitted = fitOccluder(occluderPlan ?? planOccluder(rng, identity), identity, severity.occlusion);
    occluder = fitted.occluder;
    severity = { ...severity, occlusion: fitted.severity };
  } else if (severity.occlusion > 0) {
    severity = { ...severity, occlusion: 0 };
  }
  return { identity, appearance, degradation: { ...degradation, severity }, occluder, noiseSeed: rng.u32() };
}

/** Model → aligned-crop transform: the five landmarks onto the ArcFace template. */
export function alignmentOf(identity: FaceIdentity, appearance: FaceAppearance): Similarity {
  return estimateSimilarity(new FacePose(identity, appearance).landmarks(), ARCFACE_POINTS);
}

/** A small similarity about the crop centre: landmark-detector error in the training alignment. */
export function alignmentJitter(rng: Random): Similarity {
  const c = ALIGNED_SIZE / 2;
  const scale = 1 + rng.clippedNormal(0, 0.03, -0.08, 0.08);
  const rot = (rng.clippedNormal(0, 2, -6, 6) * Math.PI) / 180;
  const t = similarityFromParts(scale, rot, 0, 0);
  const [cx, cy] = applySimilarity(t, [c, c]);
  return { ...t, tx: c - cx + rng.clippedNormal(0, 1.2, -3, 3), ty: c - cy + rng.clippedNormal(0, 1.2, -3, 3) };
}

export interface RenderedImage {
  width: number;
  height: number;
  /** [height, width, 3] bytes before JPEG. */
  rgb: Uint8Array;
  jpeg: Uint8Array;
}

/**
 * Draws and degrades one picture. Down-scaling by f is drawn as the camera with f times fewer pixels
 * would see it: the scene is painted (anti-aliased, i.e. area-averaged) at the low resolution, then
 * scaled back up bilinearly; the other degradations follow the order of a camera: exposure, optical
 * blur, resolution, sensor noise, JPEG.
 * @param modelToPixel model units → pixels of this picture
 * @param pixelScale pixels of this picture per aligned-crop pixel (1 for aligned crops)
 */
export function renderImage(spec: FaceImageSpec, modelToPixel: Similarity, width: number, height: number, pixelScale: number): RenderedImage {
  const s = spec.degradation.severity;
  const factor = s.downscale > 0 ? (1 + DOWNSCALE_AT_1 * s.downscale) * pixelScale : 1;
  const lowRes = factor > MIN_DOWNSCALE;
  // Low-resolution pixel j covers full-resolution pixels [j·f, (j+1)·f): centre (j + 0.5)·f − 0.5.
  const toLow = lowRes ? { a: 1 / factor, b: 0, tx: -(factor - 1) / 2 / factor, ty: -(factor - 1) / 2 / factor } : undefined;
  const w = lowRes ? Math.ceil(width / factor) : width;
  const h = lowRes ? Math.ceil(height / factor) : height;
  const pose = new FacePose(spec.identity, spec.appearance);
  const canvas = new Canvas(w, h, toLow ? composeSimilarity(toLow, modelToPixel) : modelToPixel, pose.lighting());
  paintFace(canvas, pose, spec.occluder);
  let img: FloatImage = { data: canvas.data, width: w, height: h };
  applyExposure(img, spec.degradation.exposureSign * EXPOSURE_STOPS_AT_1 * s.exposure);
  gaussianBlur(img, (BLUR_SIGMA_AT_1 * s.blur * pixelScale) / (lowRes ? factor : 1));
  if (lowRes) {
    img = upsampleBilinear(img, width, height, factor);
    // A smooth scaler: bilinear alone leaves a grid of creases (slope breaks every `factor` pixels)
    // that a network takes for edges, so a low-resolution face would not look like less detail.
    gaussianBlur(img, UPSAMPLE_SMOOTHING * factor);
  }
  addNoise(img, NOISE_STD_AT_1 * s.noise * (pixelScale === 1 ? 1 : LOOSE_CROP_NOISE_BOOST), Random.stream(spec.noiseSeed, 'noise'));
  const rgb = toBytes(img);
  return { width, height, rgb, jpeg: encodeJpeg(rgb, width, height, { quality: jpegQualityOf(s.compression) }) };
}

/** The 112×112 training crop: landmarks on the template, then the detector-error jitter. */
export function renderAligned(spec: FaceImageSpec, jitter: Similarity): RenderedImage {
  const transform = composeSimilarity(jitter, alignmentOf(spec.identity, spec.appearance));
  return renderImage(spec, transform, ALIGNED_SIZE, ALIGNED_SIZE, 1);
}

/** Where a face sits in its loose crop: aligned-crop pixels → loose-crop pixels, and the crop size. */
export interface LooseCropPlacement {
  alignedToCrop: Similarity;
  width: number;
  height: number;
  /** Pixels per aligned pixel. */
  scale: number;
}

export function sampleLooseCropPlacement(rng: Random): LooseCropPlacement {
  const scale = rng.uniform(0.9, 1.15);
  const width = Math.round(ALIGNED_SIZE * scale * rng.uniform(1.1, 1.3));
  const height = Math.round(ALIGNED_SIZE * scale * rng.uniform(1.15, 1.35));
  const rot = (rng.uniform(-18, 18) * Math.PI) / 180;
  const t = similarityFromParts(scale, rot, 0, 0);
  const [cx, cy] = applySimilarity(t, [ALIGNED_SIZE / 2, ALIGNED_SIZE / 2]);
  const slackX = Math.max(0, (width - ALIGNED_SIZE * scale) / 2);
  const slackY = Math.max(0, (height - ALIGNED_SIZE * scale) / 2);
  const targetX = width / 2 + rng.uniform(-0.7, 0.7) * slackX;
  const targetY = height / 2 + rng.uniform(-0.7, 0.7) * slackY;
  return { alignedToCrop: { ...t, tx: targetX - cx, ty: targetY - cy }, width, height, scale };
}

/** A loose crop and its true five landmarks (crop pixels). */
export interface LooseCrop extends RenderedImage {
  landmarks: Point[];
  modelToCrop: Similarity;
}

export function renderLooseCrop(spec: FaceImageSpec, placement: LooseCropPlacement): LooseCrop {
  const modelToCrop = composeSimilarity(placement.alignedToCrop, alignmentOf(spec.identity, spec.appearance));
  const image = renderImage(spec, modelToCrop, placement.width, placement.height, placement.scale);
  const landmarks = new FacePose(spec.identity, spec.appearance).landmarks().map((p) => applySimilarity(modelToCrop, p));
  return { ...image, landmarks, modelToCrop };
}
