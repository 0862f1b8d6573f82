/**
 * Ground truth of the demo data as CSV files (one header line, comma separated, no quoting needed:
 * no field contains a comma), and their readers:
 *   ground_truth/train_images.csv   one line per training image (RecordIO key = image_id)
 *   ground_truth/ijb_images.csv     one line per IJB face row (row = line of face_tid_mid, 0-based)
 *   ground_truth/ijb_templates.csv  one line per IJB template
 */
import * as fs from 'node:fs';
import { InputError } from '@facecoreset/common';
import { DEGRADATIONS, type DegradationName, type Severity } from './degrade';
import type { IjbImageTruth, IjbTemplateTruth } from './ijb-write';
import type { TrainImageTruth } from './train-set';

const SEVERITY_COLUMNS = [...DEGRADATIONS, 'exposure_sign'] as const;
export const TRAIN_TRUTH_COLUMNS = ['image_id', 'label', 'identity', 'quality', ...SEVERITY_COLUMNS, 'yaw_deg', 'pitch_deg', 'glasses'] as const;
export const IJB_IMAGE_TRUTH_COLUMNS = [
  'row',
  'image',
  'template_id',
  'media_id',
  'subject_id',
  'media_kind',
  'frame',
  'quality',
  ...SEVERITY_COLUMNS,
  'yaw_deg',
  'pitch_deg',
  'faceness',
  'crop_scale',
  'crop_rotation_deg',
  'crop_tx',
  'crop_ty',
  ...[1, 2, 3, 4, 5].flatMap((i) => [`lm_x${i}`, `lm_y${i}`]),
] as const;
export const IJB_TEMPLATE_TRUTH_COLUMNS = ['template_id', 'subject_id', 'subject', 'kind', 'size', 'stills', 'frames', 'media', 'split'] as const;

const f6 = (v: number): string => v.toFixed(6);
const f3 = (v: number): string => v.toFixed(3);

function severityFields(s: Severity, sign: number): string[] {
  return [...DEGRADATIONS.map((k) => f6(s[k])), String(sign)];
}

export function formatTrainTruth(rows: readonly TrainImageTruth[]): string {
  const lines = rows.map((r) =>
    [r.imageId, r.label, r.identity, f6(r.quality), ...severityFields(r.degradation.severity, r.degradation.exposureSign), f3(r.yawDeg), f3(r.pitchDeg), r.glasses ? 1 : 0].join(','),
  );
  return [TRAIN_TRUTH_COLUMNS.join(','), ...lines].join('\n') + '\n';
}

export function formatIjbImageTruth(rows: readonly IjbImageTruth[]): string {
  const lines = rows.map((r) =>
    [
      r.row,
      r.image,
      r.templateId,
      r.mediaId,
      r.subjectId,
      r.mediaKind,
      r.frame,
      f6(r.quality),
      ...severityFields(r.degradation.severity, r.degradation.exposureSign),
      f3(r.yawDeg),
      f3(r.pitchDeg),
      f6(r.faceness),
      f6(r.placement.scale),
      f3(r.placement.rotationDeg),
      f3(r.placement.tx),
      f3(r.placement.ty),
      ...r.trueLandmarks.flatMap(([x, y]) => [f3(x), f3(y)]),
    ].join(','),
  );
  return [IJB_IMAGE_TRUTH_COLUMNS.join(','), ...lines].join('\n') + '\n';
}

export function formatIjbTemplateTruth(rows: readonly IjbTemplateTruth[]): string {
  const lines = rows.map((r) => [r.templateId, r.subjectId, r.subject, r.kind, r.size, r.stills, r.frames, r.media, r.split].join(','));
  return [IJB_TEMPLATE_TRUTH_COLUMNS.join(','), ...lines].join('\n') + '\n';
}

/* ------------------------------------------------------------------ readers */

/** One parsed CSV line: typed accessors that fail with the file, line and column. */
class CsvRow {
  constructor(
    private readonly fields: string[],
    private readonly index: Map<string, number>,
    private readonly file: string,
    private readonly line: number,
  ) {}

  text(column: string): string {
    return this.fields[this.index.get(column)!];
  }

  number(column: string): number {
    const raw = this.text(column);
    const v = Number(raw);
    if (raw === '' || !Number.isFinite(v)) throw new InputError(`column ${column}: expected a number, got '${raw}'`, this.file, `line ${this.line}`);
    return v;
  }

  int(column: string): number {
    const v = this.number(column);
    if (!Number.isInteger(v)) throw new InputError(`column ${column}: expected an integer, got '${this.text(column)}'`, this.file, `line ${this.line}`);
    return v;
  }
}

function readCsv(file: string, columns: readonly string[]): CsvRow[] {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new InputError('empty file; expected a header line', file, 'line 1');
  const header = lines[0].split(',');
  const index = new Map(header.map((h, i) => [h, i]));
  const missing = columns.filter((c) => !index.has(c));
  if (missing.length > 0) throw new InputError(`header lacks column(s) ${missing.join(', ')}`, file, 'line 1');
  return lines.slice(1).map((line, i) => {
    const fields = line.split(',');
    if (fields.length !== header.length) throw new InputError(`expected ${header.length} comma-separated fields, got ${fields.length}`, file, `line ${i + 2}`);
    return new CsvRow(fields, index, file, i + 2);
  });
}

function readSeverity(r: CsvRow): { severity: Severity; exposureSign: 1 | -1 } {
  const severity = Object.fromEntries(DEGRADATIONS.map((k) => [k, r.number(k)])) as Record<DegradationName, number>;
  return { severity, exposureSign: r.int('exposure_sign') < 0 ? -1 : 1 };
}

export function readTrainTruth(file: string): TrainImageTruth[] {
  return readCsv(file, TRAIN_TRUTH_COLUMNS).map((r) => ({
    imageId: r.int('image_id'),
    label: r.int('label'),
    identity: r.text('identity'),
    quality: r.number('quality'),
    degradation: readSeverity(r),
    yawDeg: r.number('yaw_deg'),
    pitchDeg: r.number('pitch_deg'),
    glasses: r.int('glasses') === 1,
  }));
}

export function readIjbImageTruth(file: string): IjbImageTruth[] {
  return readCsv(file, IJB_IMAGE_TRUTH_COLUMNS).map((r) => ({
    row: r.int('row'),
    image: r.text('image'),
    templateId: r.int('template_id'),
    mediaId: r.int('media_id'),
    subjectId: r.int('subject_id'),
    mediaKind: r.text('media_kind') === 'frame' ? 'frame' : 'still',
    frame: r.int('frame'),
    quality: r.number('quality'),
    degradation: readSeverity(r),
    yawDeg: r.number('yaw_deg'),
    pitchDeg: r.number('pitch_deg'),
    faceness: r.number('faceness'),
    trueLandmarks: [1, 2, 3, 4, 5].map((i) => [r.number(`lm_x${i}`), r.number(`lm_y${i}`)] as const),
    placement: { scale: r.number('crop_scale'), rotationDeg: r.number('crop_rotation_deg'), tx: r.number('crop_tx'), ty: r.number('crop_ty') },
  }));
}

export function readIjbTemplateTruth(file: string): IjbTemplateTruth[] {
  return readCsv(file, IJB_TEMPLATE_TRUTH_COLUMNS).map((r) => {
    const kind = r.text('kind');
    const split = r.text('split');
    if (!['gallery', 'stills', 'mixed', 'video-dominated'].includes(kind)) throw new InputError(`column kind: unknown template kind '${kind}'`, file);
    if (!['1', '2', 'probe'].includes(split)) throw new InputError(`column split: expected 1, 2 or probe, got '${split}'`, file);
    return {
      templateId: r.int('template_id'),
      subjectId: r.int('subject_id'),
      subject: r.text('subject'),
      kind: kind as IjbTemplateTruth['kind'],
      size: r.int('size'),
      stills: r.int('stills'),
      frames: r.int('frames'),
      media: r.int('media'),
      split: split as IjbTemplateTruth['split'],
    };
  });
}
