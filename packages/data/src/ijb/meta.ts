/**
 * IJB-B / IJB-C meta files, in the layout of insightface's IJB release that the official code reads:
 *   <root>/<IJBB|IJBC>/meta/<ijbb|ijbc>_face_tid_mid.txt      image template_id media_id   (row i = feature row i)
 *   .../<name>_template_pair_label.txt                         t1 t2 label
 *   .../<name>_name_5pts_score.txt                             image x1 y1 ... x5 y5 faceness (same line order)
 *   .../<name>_1N_gallery_S1.csv, _S2.csv (IJB-C: _G1, _G2), <name>_1N_probe_mixed.csv
 *                                                              header, then TEMPLATE_ID,SUBJECT_ID,FILENAME,...
 *   <root>/<IJBB|IJBC>/loose_crop/<image>
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '@facecoreset/common';
import { Int32Builder, TokenLines } from './text-lines';

export type IjbDataset = 'IJBB' | 'IJBC';
export const IJB_DATASETS: readonly IjbDataset[] = ['IJBB', 'IJBC'];

export interface IjbPaths {
  datasetDir: string;
  faceTidMid: string;
  pairs: string;
  landmarks: string;
  galleries: { name: string; file: string }[];
  probe: string;
  looseCrop: string;
}

export function ijbPaths(root: string, dataset: IjbDataset): IjbPaths {
  const datasetDir = path.join(root, dataset);
  const meta = path.join(datasetDir, 'meta');
  const lower = dataset.toLowerCase();
  const galleryNames = dataset === 'IJBC' ? ['G1', 'G2'] : ['S1', 'S2'];
  return {
    datasetDir,
    faceTidMid: path.join(meta, `${lower}_face_tid_mid.txt`),
    pairs: path.join(meta, `${lower}_template_pair_label.txt`),
    landmarks: path.join(meta, `${lower}_name_5pts_score.txt`),
    galleries: galleryNames.map((g) => ({ name: `gallery_${g}`, file: path.join(meta, `${lower}_1N_gallery_${g}.csv`) })),
    probe: path.join(meta, `${lower}_1N_probe_mixed.csv`),
    looseCrop: path.join(datasetDir, 'loose_crop'),
  };
}

function readBytes(file: string, what: string): Uint8Array {
  if (!fs.existsSync(file)) throw new InputError(`${what} not found`, file);
  return fs.readFileSync(file);
}

/** Rejects image names that would resolve outside the image root (absolute, `..`, backslashes). */
export function checkRelativeImageName(name: string, file: string, where: string): void {
  const normal = path.posix.normalize(name);
  if (name.includes('\\') || name.includes('\0') || path.posix.isAbsolute(name) || normal === '..' || normal.startsWith('../')) {
    throw new InputError(`image name "${name}" escapes the image folder; expected a path relative to it`, file, where);
  }
}

/** `<name>_face_tid_mid.txt`: one line per face row. */
export interface IjbFaceList {
  file: string;
  images: string[];
  /** [N] */
  templateIds: Int32Array;
  /** [N] */
  mediaIds: Int32Array;
}

export function parseFaceTidMid(bytes: Uint8Array, file: string): IjbFaceList {
  const lines = new TokenLines(bytes, file, 'whitespace');
  const images: string[] = [];
  const templates = new Int32Builder(bytes.length / 16);
  const medias = new Int32Builder(bytes.length / 16);
  while (lines.next()) {
    lines.expectColumns(3, 3, '"<image> <template id> <media id>"');
    const image = lines.text(0);
    checkRelativeImageName(image, file, `line ${lines.lineNo}`);
    images.push(image);
    templates.push(lines.int(1, 'template id'));
    medias.push(lines.int(2, 'media id'));
  }
  return { file, images, templateIds: templates.finish(), mediaIds: medias.finish() };
}

export function readFaceTidMid(file: string): IjbFaceList {
  return parseFaceTidMid(readBytes(file, 'face list'), file);
}

/** `<name>_template_pair_label.txt`: one verification pair per line, in file order. */
export interface IjbPairList {
  file: string;
  /** [P] */
  t1: Int32Array;
  /** [P] */
  t2: Int32Array;
  /** [P] 1 = same subject, 0 = different */
  labels: Int8Array;
  /** [P] 1-based line number of each pair (for error messages downstream) */
  lines: Int32Array;
}

export function parsePairs(bytes: Uint8Array, file: string): IjbPairList {
  const lines = new TokenLines(bytes, file, 'whitespace');
  const cap = Math.max(16, Math.ceil(bytes.length / 12));
  const t1 = new Int32Builder(cap);
  const t2 = new Int32Builder(cap);
  const labels = new Int32Builder(cap);
  const lineNos = new Int32Builder(cap);
  while (lines.next()) {
    lines.expectColumns(3, 3, '"<template id 1> <template id 2> <label 0|1>"');
    t1.push(lines.int(0, 'template id 1'));
    t2.push(lines.int(1, 'template id 2'));
    const label = lines.int(2, 'label');
    if (label !== 0 && label !== 1) lines.fail(`column 3 (label): expected 0 or 1, got ${label}`);
    labels.push(label);
    lineNos.push(lines.lineNo);
  }
  return { file, t1: t1.finish(), t2: t2.finish(), labels: Int8Array.from(labels.finish()), lines: lineNos.finish() };
}

export function readPairs(file: string): IjbPairList {
  return parsePairs(readBytes(file, 'pair list'), file);
}

/** `<name>_name_5pts_score.txt`: landmarks and faceness per image, in face-list order. */
export interface IjbLandmarkList {
  file: string;
  images: string[];
  /** [N, 10] x1 y1 ... x5 y5, row-major */
  landmarks: Float32Array;
  /** [N] */
  faceness: Float32Array;
}

export function parseLandmarks(bytes: Uint8Array, file: string): IjbLandmarkList {
  const lines = new TokenLines(bytes, file, 'whitespace');
  const images: string[] = [];
  const lm: number[] = [];
  const scores: number[] = [];
  while (lines.next()) {
    lines.expectColumns(12, 12, '"<image> x1 y1 x2 y2 x3 y3 x4 y4 x5 y5 <faceness>"');
    const image = lines.text(0);
    checkRelativeImageName(image, file, `line ${lines.lineNo}`);
    images.push(image);
    for (let i = 1; i <= 10; i++) lm.push(lines.float(i, i % 2 ? `x${(i + 1) / 2}` : `y${i / 2}`));
    scores.push(lines.float(11, 'faceness'));
  }
  return { file, images, landmarks: Float32Array.from(lm), faceness: Float32Array.from(scores) };
}

export function readLandmarks(file: string): IjbLandmarkList {
  return parseLandmarks(readBytes(file, 'landmark list'), file);
}

/** A 1:N gallery or probe file: one line per image, and its distinct templates. */
export interface IjbTemplateSubjects {
  name: string;
  file: string;
  /** [L] per line, as the official reader returns them */
  lineTemplateIds: Int32Array;
  /** [L] */
  lineSubjectIds: Int32Array;
  /** [U] distinct templates, ascending (np.unique order) */
  templateIds: Int32Array;
  /** [U] the subject of each distinct template */
  subjectIds: Int32Array;
}

export function parseTemplateSubjects(bytes: Uint8Array, file: string, name: string): IjbTemplateSubjects {
  const lines = new TokenLines(bytes, file, 'comma');
  if (!lines.next()) throw new InputError('empty file; expected a header line then "TEMPLATE_ID,SUBJECT_ID,..." lines', file);
  // The header is skipped as the official reader does (np.loadtxt skiprows=1), but it must not be data.
  if (lines.count >= 1 && /^\s*-?\d+\s*$/.test(lines.text(0))) lines.fail('expected a header line (TEMPLATE_ID,SUBJECT_ID,...), found data');
  const templates = new Int32Builder();
  const subjects = new Int32Builder();
  const subjectOf = new Map<number, { subject: number; line: number }>();
  while (lines.next()) {
    lines.expectColumns(2, Infinity, '"<template id>,<subject id>[,<filename>...]"');
    const t = lines.int(0, 'template id');
    const s = lines.int(1, 'subject id');
    const seen = subjectOf.get(t);
    if (seen && seen.subject !== s) lines.fail(`template ${t} has subject ${s} here but subject ${seen.subject} on line ${seen.line}`);
    if (!seen) subjectOf.set(t, { subject: s, line: lines.lineNo });
    templates.push(t);
    subjects.push(s);
  }
  const templateIds = Int32Array.from(subjectOf.keys()).sort();
  const subjectIds = templateIds.map((t) => subjectOf.get(t)!.subject);
  return { name, file, lineTemplateIds: templates.finish(), lineSubjectIds: subjects.finish(), templateIds, subjectIds };
}

export function readTemplateSubjects(file: string, name: string): IjbTemplateSubjects {
  return parseTemplateSubjects(readBytes(file, '1:N list'), file, name);
}
