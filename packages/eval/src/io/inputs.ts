/**
 * Evaluation inputs as users have them: the official IJB layout (`<root>/<IJBB|IJBC>/meta/...`)
 * with the official features pickle, read through the data package's meta and pickle readers
 * (restricted unpickling); every array checked against the face list.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { InputError } from '@facecoreset/common';
import { ijbPaths, readFeaturesPickle, readIjbMeta, type FeatureArrays, type IjbDataset } from '@facecoreset/data';
import type { FaceFeatures, TemplateIndex } from '../lib/templates';
import type { TemplatePairs } from '../lib/pairs';
import type { SubjectTemplates } from '../lib/identification';

export interface FileFingerprint {
  path: string;
  bytes: number;
  sha256: string;
}

export interface EvalInputs {
  dataset: IjbDataset;
  faceListFile: string;
  /** Face rows grouped by template (ascending template id). */
  index: TemplateIndex;
  /** Media id per face row. [N] */
  medias: Int32Array;
  /** Image name per face row (for coreset reports). [N] */
  images?: string[];
  faces: FaceFeatures;
  /** Flip-view features (unit rows and norms), when the input has them. */
  flip?: { features: Float32Array; norms: Float32Array };
  pairs: TemplatePairs;
  identification?: { galleries: { name: string; list: SubjectTemplates }[]; probe: SubjectTemplates };
  /** sha256 and size of every input file read. */
  fingerprints: FileFingerprint[];
}

/** sha256 and size of a file, streamed in 8 MB chunks. */
export function fingerprintFile(path: string): FileFingerprint {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(path, 'r');
  const chunk = Buffer.allocUnsafe(8 << 20);
  let total = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
      total += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { path, bytes: total, sha256: hash.digest('hex') };
}

// Plain JavaScript run in a worker thread (no TypeScript loader needed there).
const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const fs = require('node:fs');
try {
  const out = [];
  for (const path of workerData) {
    const hash = crypto.createHash('sha256');
    const fd = fs.openSync(path, 'r');
    const chunk = Buffer.allocUnsafe(8 << 20);
    let total = 0;
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
      total += n;
    }
    fs.closeSync(fd);
    out.push({ path, bytes: total, sha256: hash.digest('hex') });
  }
  parentPort.postMessage({ out });
} catch (e) {
  parentPort.postMessage({ error: String(e && e.message ? e.message : e) });
}
`;

/**
 * Fingerprints files on another thread, so hashing a 1 GB features pickle overlaps with parsing
 * it (the two cores of a small machine both work). `cancel` stops the thread (after a failed load).
 */
export function fingerprintFilesInBackground(paths: string[]): { result: Promise<FileFingerprint[]>; cancel: () => void } {
  const worker = new Worker(HASH_WORKER, { eval: true, workerData: paths });
  const result = new Promise<FileFingerprint[]>((resolve, reject) => {
    worker.once('message', (m: { out?: FileFingerprint[]; error?: string }) => (m.out ? resolve(m.out) : reject(new Error(`fingerprinting inputs: ${m.error}`))));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`fingerprint worker stopped (exit code ${code})`)));
  });
  result.catch(() => undefined); // awaited by the caller; never an unhandled rejection
  return { result, cancel: () => void worker.terminate() };
}

/** Face rows in evaluation form from the data package's feature arrays (validated there: finite, unit rows, positive norms). */
export function faceFeatures(f: FeatureArrays): FaceFeatures {
  return { features: f.embeddings, norms: f.norms, faceness: f.faceness, count: f.rows, dim: f.dim };
}

/** The official layout: meta files under `<root>/<dataset>/meta` and the features pickle. */
export async function loadOfficialInputs(root: string, dataset: IjbDataset, featuresPickle: string, opts: { identification?: boolean } = {}): Promise<EvalInputs> {
  if (!fs.existsSync(featuresPickle)) throw new InputError('features pickle not found', featuresPickle);
  const paths = ijbPaths(root, dataset);
  const hashing = fingerprintFilesInBackground([featuresPickle, paths.faceTidMid, paths.pairs].filter((f) => fs.existsSync(f)));
  let meta: ReturnType<typeof readIjbMeta>;
  let arrays: FeatureArrays;
  try {
    meta = readIjbMeta(root, dataset, { pairs: 'require', landmarks: 'skip', identification: opts.identification === false ? 'skip' : 'auto' });
    arrays = readFeaturesPickle(featuresPickle);
    if (arrays.rows !== meta.faces.templateIds.length) {
      throw new InputError(`has ${arrays.rows} feature rows but ${meta.faces.file} lists ${meta.faces.templateIds.length} faces; expected one feature row per face-list line`, featuresPickle);
    }
  } catch (e) {
    hashing.cancel();
    throw e;
  }
  const pairs = meta.pairs;
  if (!pairs) throw new InputError('pair list not found', meta.paths.pairs);
  let identification: EvalInputs['identification'];
  const listFiles: string[] = [];
  if (meta.identification) {
    const { galleries, probe } = meta.identification;
    listFiles.push(...[...galleries, probe].map((l) => l.file));
    const asList = (l: typeof probe): SubjectTemplates => ({ templateIds: l.templateIds, subjectIds: l.subjectIds, file: l.file });
    identification = { galleries: galleries.map((g) => ({ name: g.name, list: asList(g) })), probe: asList(probe) };
  }
  const fingerprints = [...(await hashing.result), ...listFiles.map(fingerprintFile)];
  return {
    dataset,
    faceListFile: meta.faces.file,
    index: meta.templates,
    medias: meta.faces.mediaIds,
    images: meta.faces.images,
    faces: faceFeatures(arrays),
    pairs: { file: pairs.file, t1: pairs.t1, t2: pairs.t2, labels: pairs.labels, lines: pairs.lines },
    identification,
    fingerprints,
  };
}
