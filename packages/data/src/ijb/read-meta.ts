/**
 * All meta files of one IJB dataset, read and checked against each other: every pair and 1:N
 * template must exist in the face list (the official code would silently score a missing template
 * against another one), and the landmark file must list the face-list images in the same order.
 */
import * as fs from 'node:fs';
import { InputError } from '@facecoreset/common';
import { ijbPaths, readFaceTidMid, readLandmarks, readPairs, readTemplateSubjects, type IjbDataset, type IjbFaceList, type IjbLandmarkList, type IjbPairList, type IjbPaths, type IjbTemplateSubjects } from './meta';

/** The rows of each template, grouped (CSR): rows of templateIds[i] are rows[offsets[i]..offsets[i+1]). */
export interface TemplateRows {
  /** [U] ascending */
  templateIds: Int32Array;
  /** [U + 1] */
  offsets: Int32Array;
  /** [N] face rows, ascending within each template */
  rows: Int32Array;
}

export interface IjbMeta {
  dataset: IjbDataset;
  root: string;
  paths: IjbPaths;
  faces: IjbFaceList;
  templates: TemplateRows;
  pairs?: IjbPairList;
  landmarks?: IjbLandmarkList;
  identification?: { galleries: IjbTemplateSubjects[]; probe: IjbTemplateSubjects };
}

/** 'auto': read when the file exists; 'require': fail when it does not; 'skip': don't read. */
export type MetaPart = 'auto' | 'require' | 'skip';

export interface ReadIjbMetaOptions {
  pairs?: MetaPart;
  landmarks?: MetaPart;
  identification?: MetaPart;
}

export function groupRowsByTemplate(templateIds: Int32Array): TemplateRows {
  const n = templateIds.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // Stable: rows keep their order within a template.
  order.sort((a, b) => templateIds[a] - templateIds[b] || a - b);
  const unique: number[] = [];
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = templateIds[order[i]];
    if (i === 0 || t !== templateIds[order[i - 1]]) {
      unique.push(t);
      offsets.push(i);
    }
  }
  offsets.push(n);
  return { templateIds: Int32Array.from(unique), offsets: Int32Array.from(offsets), rows: order };
}

/** Binary search in an ascending Int32Array; -1 when absent. */
export function indexOfSorted(sorted: Int32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid];
    if (v === value) return mid;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function wanted(part: MetaPart | undefined, file: string, what: string): boolean {
  const mode = part ?? 'auto';
  if (mode === 'skip') return false;
  if (fs.existsSync(file)) return true;
  if (mode === 'require') throw new InputError(`${what} not found`, file);
  return false;
}

/** Membership test for a sorted id list: a bitmap over [min, max] when that is small, else binary search. */
function memberTest(sorted: Int32Array): (id: number) => boolean {
  if (sorted.length === 0) return () => false;
  const min = sorted[0];
  const span = sorted[sorted.length - 1] - min + 1;
  if (span > 1 << 26) return (id) => indexOfSorted(sorted, id) >= 0;
  const bits = new Uint8Array(span);
  for (const t of sorted) bits[t - min] = 1;
  return (id) => id >= min && id - min < span && bits[id - min] === 1;
}

function checkPairTemplates(pairs: IjbPairList, known: Int32Array, facesFile: string): void {
  const has = memberTest(known);
  const { t1, t2 } = pairs;
  for (let i = 0; i < t1.length; i++) {
    const missing = !has(t1[i]) ? t1[i] : !has(t2[i]) ? t2[i] : undefined;
    if (missing !== undefined) throw new InputError(`pair names template ${missing}, which ${facesFile} does not list`, pairs.file, `line ${pairs.lines[i]}`);
  }
}

function checkLandmarkOrder(landmarks: IjbLandmarkList, faces: IjbFaceList): void {
  if (landmarks.images.length !== faces.images.length) {
    throw new InputError(`has ${landmarks.images.length} lines but ${faces.file} has ${faces.images.length}; expected one line per face row, in the same order`, landmarks.file);
  }
  for (let i = 0; i < faces.images.length; i++) {
    if (landmarks.images[i] !== faces.images[i]) {
      throw new InputError(`names image "${landmarks.images[i]}" but line ${i + 1} of ${faces.file} names "${faces.images[i]}"; expected the same order`, landmarks.file, `line ${i + 1}`);
    }
  }
}

function checkIdentificationTemplates(list: IjbTemplateSubjects, known: Int32Array, facesFile: string): void {
  for (const t of list.templateIds) {
    if (indexOfSorted(known, t) < 0) throw new InputError(`template ${t} is not in ${facesFile}`, list.file);
  }
}

/** Reads (and cross-checks) the meta files of `<root>/<dataset>/meta`. */
export function readIjbMeta(root: string, dataset: IjbDataset, opts: ReadIjbMetaOptions = {}): IjbMeta {
  const paths = ijbPaths(root, dataset);
  if (!fs.existsSync(paths.datasetDir)) throw new InputError(`expected a ${dataset}/ folder with meta/ (and loose_crop/) inside`, root);
  const faces = readFaceTidMid(paths.faceTidMid);
  if (faces.images.length === 0) throw new InputError('face list is empty', faces.file);
  const templates = groupRowsByTemplate(faces.templateIds);
  const meta: IjbMeta = { dataset, root, paths, faces, templates };
  if (wanted(opts.pairs, paths.pairs, 'pair list')) {
    meta.pairs = readPairs(paths.pairs);
    checkPairTemplates(meta.pairs, templates.templateIds, faces.file);
  }
  if (wanted(opts.landmarks, paths.landmarks, 'landmark list')) {
    meta.landmarks = readLandmarks(paths.landmarks);
    checkLandmarkOrder(meta.landmarks, faces);
  }
  const idFiles = [...paths.galleries.map((g) => g.file), paths.probe];
  const idMode = opts.identification ?? 'auto';
  const idPresent = idFiles.every((f) => fs.existsSync(f));
  if (idMode === 'require' || (idMode === 'auto' && idPresent)) {
    const galleries = paths.galleries.map((g) => readTemplateSubjects(g.file, g.name));
    const probe = readTemplateSubjects(paths.probe, 'probe_mixed');
    [...galleries, probe].forEach((l) => checkIdentificationTemplates(l, templates.templateIds, faces.file));
    meta.identification = { galleries, probe };
  }
  return meta;
}
