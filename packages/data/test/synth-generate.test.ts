/**
 * `generateSynthDataset` at a tiny size: deterministic bytes, files that the data package's own
 * readers accept, and the properties the demo relies on (disjoint identities, template sizes from
 * 1 to over 100, video-dominated templates, consistent pairs and 1:N splits, ground truth).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError, UsageError } from '@facecoreset/common';
import { checkImageBytes } from '../src/image-check';
import { readIjbMeta } from '../src/ijb';
import { detectLayout, isImageKey, primaryLabel, RecordIOReader } from '../src/recordio';
import { generateSynthDataset, readIjbImageTruth, readIjbTemplateTruth, readTrainTruth, resolveSynthOptions, synthMain, type SynthManifest } from '../src/synth';
import { ijbIdentity } from '../src/synth/ijb-write';
import { trainIdentity } from '../src/synth/train-set';

const TINY = { identities: 6, imagesPerIdentity: 4, ijbSubjects: 2, templatesPerSubject: 3, maxVideoFrames: 101 };
const SMALLER = { identities: 2, imagesPerIdentity: 2, ijbSubjects: 2, templatesPerSubject: 3, maxVideoFrames: 16 };

let work: string;
let out: string;
let manifest: SynthManifest;

/** sha256 of every file under `dir`, by relative path. */
function hashTree(dir: string): Map<string, string> {
  const hashes = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else hashes.set(path.relative(dir, p), createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return hashes;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-synth-'));
  out = path.join(work, 'demo');
  manifest = await generateSynthDataset(out, { seed: 11, ...TINY }, { progress: false, workers: 0 });
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('determinism', () => {
  it('writes byte-identical files for the same seed (in-process API, CLI on 2 worker threads) and different ones for another seed', async () => {
    const viaApi = path.join(work, 'small-api');
    const viaCli = path.join(work, 'small-cli');
    await generateSynthDataset(viaApi, { seed: 11, ...SMALLER }, { progress: false, workers: 0 });
    const lines: string[] = [];
    const flags = ['--identities', '2', '--images-per-identity', '2', '--ijb-subjects', '2', '--templates-per-subject', '3', '--max-video-frames', '16'];
    expect(await synthMain(['--out', viaCli, '--seed', '11', ...flags, '--workers', '2', '--quiet'], (l) => lines.push(l))).toBe(0);
    expect(lines.join('\n')).toMatch(/^synth: wrote .* train: 4 images of 2 identities; IJBB: \d+ images/);
    const a = hashTree(viaApi);
    const b = hashTree(viaCli);
    expect([...b.keys()]).toEqual([...a.keys()]);
    expect([...b.entries()].filter(([k, v]) => a.get(k) !== v)).toEqual([]);

    const other = path.join(work, 'other-seed');
    await generateSynthDataset(other, { seed: 12, ...SMALLER, dataset: 'IJBC' }, { progress: false, workers: 0 });
    const o = hashTree(other);
    expect(o.get('train/train.rec')).not.toEqual(a.get('train/train.rec'));
    expect(o.get('ijb/IJBC/loose_crop/1.jpg')).not.toEqual(a.get('ijb/IJBB/loose_crop/1.jpg'));
    const meta = readIjbMeta(path.join(other, 'ijb'), 'IJBC', { identification: 'require' });
    expect(meta.identification!.galleries.map((g) => g.name)).toEqual(['gallery_G1', 'gallery_G2']);
  });
});

describe('training set', () => {
  it('is an insightface-style RecordIO set that the RecordIO reader reads, one JPEG of 112x112 per ground-truth line', () => {
    const truth = readTrainTruth(path.join(out, 'ground_truth/train_images.csv'));
    const reader = RecordIOReader.open(path.join(out, 'train/train.rec'));
    try {
      const layout = detectLayout(reader);
      expect(layout.kind).toBe('insightface');
      if (layout.kind !== 'insightface') return;
      expect(layout.imageEnd - 1).toBe(truth.length);
      expect(layout.identities.length).toBe(TINY.identities);
      for (const t of truth) {
        expect(isImageKey(layout, t.imageId)).toBe(true);
        const rec = reader.read(t.imageId);
        expect(primaryLabel(rec.header)).toBe(t.label);
        expect(rec.header.id).toBe(t.imageId);
        expect(checkImageBytes(rec.image)).toEqual({ ok: true, format: 'jpeg', width: 112, height: 112 });
      }
      // Identity ranges cover each label's images.
      layout.identities.forEach((range, label) => {
        const keys = truth.filter((t) => t.label === label).map((t) => t.imageId);
        expect([range.start, range.end]).toEqual([Math.min(...keys), Math.max(...keys) + 1]);
      });
    } finally {
      reader.close();
    }
    expect(fs.readFileSync(path.join(out, 'train/property'), 'utf8')).toBe(`${TINY.identities},112,112\n`);
  });

  it('has ground truth for every image: severities in [0,1], quality = the product formula', () => {
    const truth = readTrainTruth(path.join(out, 'ground_truth/train_images.csv'));
    expect(truth.length).toBe(manifest.train.images);
    for (const t of truth) {
      const s = t.degradation.severity;
      for (const v of Object.values(s)) expect(v >= 0 && v <= 1).toBe(true);
      const q = (1 - 0.8 * s.blur) * (1 - 0.7 * s.noise) * (1 - 0.8 * s.downscale) * (1 - 0.1 * s.occlusion) * (1 - 0.7 * s.exposure) * (1 - 0.1 * s.compression);
      expect(t.quality).toBeCloseTo(q, 4);
    }
  });
});

describe('IJB benchmark', () => {
  const root = () => path.join(out, 'ijb');

  it('parses with the IJB meta readers (faces, pairs, landmarks, 1:N), and every loose crop is a JPEG', () => {
    const meta = readIjbMeta(root(), 'IJBB', { pairs: 'require', landmarks: 'require', identification: 'require' });
    const truth = readIjbImageTruth(path.join(out, 'ground_truth/ijb_images.csv'));
    expect(meta.faces.images.length).toBe(truth.length);
    expect(meta.faces.images).toEqual(truth.map((t) => t.image));
    expect(Array.from(meta.faces.templateIds)).toEqual(truth.map((t) => t.templateId));
    expect(Array.from(meta.faces.mediaIds)).toEqual(truth.map((t) => t.mediaId));
    expect(meta.landmarks!.faceness.length).toBe(truth.length);
    for (const t of truth) {
      const check = checkImageBytes(fs.readFileSync(path.join(root(), 'IJBB/loose_crop', t.image)));
      expect(check.ok).toBe(true);
    }
    expect(new Set(meta.faces.images).size).toBe(meta.faces.images.length);
  });

  it('has templates of size 1 and of over 100 rows, video-dominated templates whose frames are the poor majority', () => {
    const templates = readIjbTemplateTruth(path.join(out, 'ground_truth/ijb_templates.csv'));
    const images = readIjbImageTruth(path.join(out, 'ground_truth/ijb_images.csv'));
    const sizes = templates.map((t) => t.size);
    expect(Math.min(...sizes)).toBe(1);
    expect(Math.max(...sizes)).toBeGreaterThan(100);
    const videoDominated = templates.filter((t) => t.kind === 'video-dominated');
    expect(videoDominated.length).toBeGreaterThan(0);
    for (const t of videoDominated) {
      const rows = images.filter((i) => i.templateId === t.templateId);
      const stills = rows.filter((r) => r.mediaKind === 'still');
      const frames = rows.filter((r) => r.mediaKind === 'frame');
      expect(frames.length).toBeGreaterThan(stills.length);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(frames.map((r) => r.quality))).toBeLessThan(mean(stills.map((r) => r.quality)) - 0.3);
      // Frames of one clip share a media id; the clip is one medium.
      expect(new Set(frames.map((r) => r.mediaId)).size).toBe(1);
    }
    // Rows of a template in the face list match the template's size.
    for (const t of templates) expect(images.filter((i) => i.templateId === t.templateId).length).toBe(t.size);
  });

  it('labels pairs by subject, lists every genuine pair, and splits 1:N galleries by subject', () => {
    const meta = readIjbMeta(root(), 'IJBB', { pairs: 'require', identification: 'require' });
    const templates = readIjbTemplateTruth(path.join(out, 'ground_truth/ijb_templates.csv'));
    const subjectOf = new Map(templates.map((t) => [t.templateId, t.subjectId]));
    const pairs = meta.pairs!;
    let genuine = 0;
    for (let i = 0; i < pairs.t1.length; i++) {
      expect(pairs.labels[i]).toBe(subjectOf.get(pairs.t1[i]) === subjectOf.get(pairs.t2[i]) ? 1 : 0);
      genuine += pairs.labels[i];
    }
    const perSubject = new Map<number, number>();
    for (const t of templates) perSubject.set(t.subjectId, (perSubject.get(t.subjectId) ?? 0) + 1);
    expect(genuine).toBe([...perSubject.values()].reduce((s, k) => s + (k * (k - 1)) / 2, 0));
    expect(pairs.t1.length - genuine).toBe(manifest.ijb.pairs.impostor);

    const [g1, g2] = meta.identification!.galleries;
    const probe = meta.identification!.probe;
    const s1 = new Set(g1.subjectIds);
    const s2 = new Set(g2.subjectIds);
    expect([...s1].filter((s) => s2.has(s))).toEqual([]);
    expect(s1.size + s2.size).toBe(TINY.ijbSubjects);
    expect(g1.templateIds.length + g2.templateIds.length).toBe(TINY.ijbSubjects); // one gallery template per subject
    const gallery = new Set([...g1.templateIds, ...g2.templateIds]);
    expect(new Set(probe.templateIds)).toEqual(new Set(templates.map((t) => t.templateId).filter((t) => !gallery.has(t))));
    for (const t of templates) expect(t.split === 'probe').toBe(!gallery.has(t.templateId));
  });

  it('draws its subjects from streams disjoint from the training identities', () => {
    const train = readTrainTruth(path.join(out, 'ground_truth/train_images.csv'));
    const templates = readIjbTemplateTruth(path.join(out, 'ground_truth/ijb_templates.csv'));
    const trainNames = new Set(train.map((t) => t.identity));
    expect(templates.filter((t) => trainNames.has(t.subject))).toEqual([]);
    const trainFaces = Array.from({ length: TINY.identities }, (_, i) => JSON.stringify(trainIdentity(11, i)));
    for (let s = 0; s < TINY.ijbSubjects; s++) expect(trainFaces).not.toContain(JSON.stringify(ijbIdentity(11, s)));
  });

  it('writes landmarks near the true ones, with faceness rising with quality on average', () => {
    const meta = readIjbMeta(root(), 'IJBB', { landmarks: 'require' });
    const truth = readIjbImageTruth(path.join(out, 'ground_truth/ijb_images.csv'));
    const lm = meta.landmarks!.landmarks;
    truth.forEach((t, row) => {
      t.trueLandmarks.forEach(([x, y], k) => {
        expect(Math.abs(lm[row * 10 + 2 * k] - x)).toBeLessThan(10);
        expect(Math.abs(lm[row * 10 + 2 * k + 1] - y)).toBeLessThan(10);
      });
    });
    const good = truth.filter((t) => t.quality > 0.7).map((t) => t.faceness);
    const poor = truth.filter((t) => t.quality < 0.3).map((t) => t.faceness);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(good)).toBeGreaterThan(mean(poor) + 0.3);
  });
});

describe('manifest and options', () => {
  it('summarises what was written', () => {
    const m = JSON.parse(fs.readFileSync(path.join(out, 'synth.json'), 'utf8'));
    expect(m).toEqual(manifest);
    expect(manifest.options).toEqual(resolveSynthOptions({ seed: 11, ...TINY }));
    expect(manifest.ijb.templateSize.min).toBe(1);
    expect(manifest.ijb.templates).toBe(TINY.ijbSubjects * TINY.templatesPerSubject);
  });

  it('refuses unknown option names and out-of-range values', () => {
    expect(() => resolveSynthOptions({ identitiez: 3 })).toThrow(UsageError);
    expect(() => resolveSynthOptions({ templatesPerSubject: 2 })).toThrow(/templatesPerSubject: expected 3\.\./);
    expect(() => resolveSynthOptions({ dataset: 'IJBA' })).toThrow(/IJBB or IJBC/);
    expect(() => resolveSynthOptions({ identities: 1.5 })).toThrow(/expected an integer/);
  });

  it('does not replace a non-empty folder that is not a synth output', async () => {
    const foreign = path.join(work, 'foreign');
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, 'keep.txt'), 'mine');
    await expect(generateSynthDataset(foreign, SMALLER, { progress: false, workers: 0 })).rejects.toThrow(/refusing to replace/);
    expect(fs.readFileSync(path.join(foreign, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('CLI: rejects a missing --out, a non-integer and an unknown flag', async () => {
    await expect(synthMain(['--identities', '3'])).rejects.toThrow(/--out <dir> is required/);
    await expect(synthMain(['--out', path.join(work, 'x'), '--identities', 'many'])).rejects.toThrow(/--identities: expected a non-negative integer, got 'many'/);
    await expect(synthMain(['--out', path.join(work, 'x'), '--bogus'])).rejects.toThrow(UsageError);
    expect(fs.existsSync(path.join(work, 'x'))).toBe(false);
  });

  it('ground-truth readers report the file and line of a bad value', () => {
    const bad = path.join(work, 'bad.csv');
    const good = fs.readFileSync(path.join(out, 'ground_truth/train_images.csv'), 'utf8').split('\n');
    good[2] = good[2].replace(/^(\d+),(\d+),/, '$1,x,');
    fs.writeFileSync(bad, good.join('\n'));
    expect(() => readTrainTruth(bad)).toThrow(InputError);
    expect(() => readTrainTruth(bad)).toThrow(/bad\.csv:line 3: column label: expected a number, got 'x'/);
  });
});
