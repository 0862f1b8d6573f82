/**
 * The layout of the demo IJB benchmark, before any pixel is drawn: subjects, media (stills and
 * videos of near-duplicate frames), templates, verification pairs and the 1:N split.
 *
 * Template kinds, per subject: one `gallery` template of stills (the 1:N gallery), then a mix of
 * `stills` (a few pictures of any quality), `mixed` (some stills and short clips) and
 * `video-dominated` (one to three good stills and one long clip of degraded frames). The last kind
 * is FaceCoresetNet's premise: a plain mean of such a template is dominated by the many
 * near-duplicate poor frames, while a quality-aware, diversity-seeking coreset keeps the stills.
 * Subject 0 always has a one-image template and a template of `maxVideoFrames` + stills, so the
 * size range (1 to over 100) holds at any scale.
 */
import { Random } from './random';

export type TemplateKind = 'gallery' | 'stills' | 'mixed' | 'video-dominated';
/** How a medium's degradations are drawn. */
export type QualityProfile = 'good' | 'any' | 'moderate' | 'degraded';

export interface IjbPlanOptions {
  seed: number;
  subjects: number;
  templatesPerSubject: number;
  /** Frames of the longest video clip (video-dominated templates draw 16..max, most short). */
  maxVideoFrames: number;
  /** Upper limit on impostor pairs (all genuine pairs are always listed). */
  impostorPairs: number;
}

export interface PlannedMedia {
  mediaId: number;
  subjectIndex: number;
  kind: 'still' | 'video';
  frames: number;
  profile: QualityProfile;
}

export interface PlannedTemplate {
  templateId: number;
  subjectIndex: number;
  kind: TemplateKind;
  /** One row per item: a still (frame 0) or one frame of a video. */
  items: Array<{ media: PlannedMedia; frame: number }>;
}

export interface IjbPlan {
  /** IJB-style subject ids (non-contiguous), by subject index. */
  subjectIds: number[];
  /** Templates in file order (shuffled); rows of a template are contiguous. */
  templates: PlannedTemplate[];
  media: PlannedMedia[];
  /** t1, t2 template ids and label (1 same subject), in file order. */
  pairs: Array<[number, number, 0 | 1]>;
  /** Gallery template of each subject; subjects [0, half) form gallery 1, the rest gallery 2. */
  galleryTemplateIds: number[];
}

export const MIN_VIDEO_FRAMES = 16;

export function planIjb(opts: IjbPlanOptions): IjbPlan {
  if (opts.subjects < 2) throw new RangeError(`the IJB benchmark needs at least 2 subjects, got ${opts.subjects}`);
  if (opts.templatesPerSubject < 3) throw new RangeError(`templatesPerSubject must be at least 3 (gallery, one-image, video), got ${opts.templatesPerSubject}`);
  if (opts.maxVideoFrames < MIN_VIDEO_FRAMES) throw new RangeError(`maxVideoFrames must be at least ${MIN_VIDEO_FRAMES}, got ${opts.maxVideoFrames}`);
  const ids = Random.stream(opts.seed, 'ijb-ids');
  const subjectIds = ids.shuffle(ids.distinctInts(opts.subjects, 1, opts.subjects * 40 + 100));
  const media: PlannedMedia[] = [];
  const templates: Omit<PlannedTemplate, 'templateId'>[] = [];
  const galleryIndex: number[] = [];

  const addMedia = (subjectIndex: number, kind: 'still' | 'video', frames: number, profile: QualityProfile): PlannedMedia => {
    const m: PlannedMedia = { mediaId: 0, subjectIndex, kind, frames, profile };
    media.push(m);
    return m;
  };
  const stills = (s: number, n: number, profile: (i: number) => QualityProfile) => Array.from({ length: n }, (_, i) => ({ media: addMedia(s, 'still', 1, profile(i)), frame: 0 }));
  const clip = (s: number, frames: number, profile: QualityProfile) => {
    const m = addMedia(s, 'video', frames, profile);
    return Array.from({ length: frames }, (_, f) => ({ media: m, frame: f }));
  };

  for (let s = 0; s < opts.subjects; s++) {
    const rng = Random.stream(opts.seed, 'ijb-subject-plan', s);
    const longClip = () => MIN_VIDEO_FRAMES + Math.floor((opts.maxVideoFrames - MIN_VIDEO_FRAMES) * Math.pow(rng.float(), 3));
    const gallery = stills(s, rng.int(2, 6), () => (rng.chance(0.6) ? 'good' : 'any'));
    galleryIndex.push(templates.length);
    templates.push({ subjectIndex: s, kind: 'gallery', items: gallery });
    for (let t = 1; t < opts.templatesPerSubject; t++) {
      let kind: TemplateKind = (['stills', 'mixed', 'video-dominated'] as const)[rng.weighted([0.3, 0.3, 0.4])];
      if (s === 0 && t <= 2) kind = t === 1 ? 'stills' : 'video-dominated';
      const items: PlannedTemplate['items'] = [];
      if (kind === 'stills') {
        items.push(...stills(s, s === 0 && t === 1 ? 1 : rng.int(1, 5), () => 'any'));
      } else if (kind === 'mixed') {
        items.push(...stills(s, rng.int(0, 3), () => 'any'));
        const clips = rng.int(1, 3);
        for (let c = 0; c < clips; c++) items.push(...clip(s, rng.int(4, 12), 'moderate'));
      } else {
        items.push(...stills(s, rng.int(1, 3), () => 'good'));
        items.push(...clip(s, s === 0 && t === 2 ? opts.maxVideoFrames : longClip(), 'degraded'));
      }
      // IJB templates share media: now and then a still of the gallery shows up again.
      if (!(s === 0 && t === 1) && rng.chance(0.15)) items.push(gallery[rng.int(0, gallery.length - 1)]);
      templates.push({ subjectIndex: s, kind, items });
    }
  }

  const mediaIds = ids.shuffle(ids.distinctInts(media.length, 1, media.length * 30 + 100));
  media.forEach((m, i) => (m.mediaId = mediaIds[i]));
  const templateIds = ids.distinctInts(templates.length, 1, templates.length * 60 + 100);
  const planned: PlannedTemplate[] = templates.map((t, i) => ({ ...t, templateId: templateIds[i] }));
  const galleryTemplateIds = galleryIndex.map((i) => planned[i].templateId);
  const pairs = planPairs(planned, opts);
  const fileOrder = Random.stream(opts.seed, 'ijb-template-order').shuffle([...planned]);
  return { subjectIds, templates: fileOrder, media, pairs, galleryTemplateIds };
}

/** Every genuine pair, and all impostor pairs or a uniform sample of `impostorPairs` of them, shuffled. */
function planPairs(templates: PlannedTemplate[], opts: IjbPlanOptions): Array<[number, number, 0 | 1]> {
  const n = templates.length;
  const pairs: Array<[number, number, 0 | 1]> = [];
  // Genuine pairs subject by subject (templates of a subject in plan order), so large benchmarks
  // never walk all n² template pairs.
  const bySubject = new Map<number, number[]>();
  templates.forEach((t, i) => bySubject.set(t.subjectIndex, [...(bySubject.get(t.subjectIndex) ?? []), i]));
  for (const members of bySubject.values()) {
    for (let a = 0; a < members.length; a++) for (let b = a + 1; b < members.length; b++) pairs.push([templates[members[a]].templateId, templates[members[b]].templateId, 1]);
  }
  const impostorTotal = (n * (n - 1)) / 2 - pairs.length;
  const rng = Random.stream(opts.seed, 'ijb-pairs');
  if (impostorTotal <= opts.impostorPairs) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (templates[i].subjectIndex !== templates[j].subjectIndex) pairs.push([templates[i].templateId, templates[j].templateId, 0]);
  } else {
    const seen = new Set<number>();
    while (seen.size < opts.impostorPairs) {
      const i = rng.int(0, n - 1);
      const j = rng.int(0, n - 1);
      if (i === j || templates[i].subjectIndex === templates[j].subjectIndex) continue;
      const key = Math.min(i, j) * n + Math.max(i, j);
      if (seen.has(key)) continue;
      seen.add(key);
      pairs.push([templates[Math.min(i, j)].templateId, templates[Math.max(i, j)].templateId, 0]);
    }
  }
  return rng.shuffle(pairs);
}
