/**
 * Evaluation inputs as users have them: the official IJB layout (`<root>/<IJBB|IJBC>/meta/...`)
 * with the official features pickle, read through the data package's meta readers and common's
 * restricted numpy unpickler; every array checked against the face list.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { InputError, PyDict, isNpyArray, readNumpyPickle, type NpyArray } from '@facecoreset/common';
import { readIjbMeta, type IjbDataset } from '@facecoreset/data';
import { validateFaceFeatures, type FaceFeatures, type TemplateIndex } from '../lib/templates';
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
  faces: FaceFeatures;
  /** Flip-view features (unit rows and norms), when the input has them. */
  flip?: { features: Float32Array; norms: Float32Array };
  pairs: TemplatePairs;
  identification?: { galleries: { name: string; list: SubjectTemplates }[]; probe: SubjectTemplates };
  /** sha256 and size of every input file read. */
  fingerprints: FileFingerprint[];
}

export function fingerprintBytes(path: string, bytes: Uint8Array): FileFingerprint {
  return { path, bytes: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
}

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

/** An array entry of the features pickle, checked for dtype and shape. */
function pickleArray(dict: PyDict, key: string, file: string, shapes: number[][], what: string): NpyArray {
  const v = dict.get(key);
  if (!isNpyArray(v)) throw new InputError(`has no numpy array '${key}'; expected a dict with img_feats, norms and faceness_scores`, file);
  if (v.dtype !== 'float32' && v.dtype !== 'float64') throw new InputError(`'${key}' has dtype ${v.dtype}; expected float32 ${what}`, file);
  const ok = shapes.some((s) => s.length === v.shape.length && s.every((d, i) => d < 0 || d === v.shape[i]));
  if (!ok) throw new InputError(`'${key}' has shape [${v.shape.join(', ')}]; expected ${shapes.map((s) => `[${s.map((d) => (d < 0 ? 'N' : d)).join(', ')}]`).join(' or ')} (${what})`, file);
  return v;
}

const toFloat32 = (a: NpyArray): Float32Array => (a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as Float64Array));

/**
 * Reads the official features pickle: dict {img_feats [N, D] unit, norms [N, 1] or [N], faceness_scores [N]}.
 * @param rows the face list's row count N, which every array must match
 */
export function readFeaturesPickle(file: string, rows: number, faceListFile: string): { faces: FaceFeatures; fingerprint: FileFingerprint } {
  if (!fs.existsSync(file)) throw new InputError('features pickle not found', file);
  let bytes: Uint8Array | undefined = fs.readFileSync(file);
  const fingerprint = fingerprintBytes(file, bytes);
  const top = readNumpyPickle(bytes, file);
  bytes = undefined; // the arrays own copies; let the file buffer go before aggregation
  if (!(top instanceof PyDict)) throw new InputError('is not a pickled dict; expected {img_feats, norms, faceness_scores}', file);
  const feats = pickleArray(top, 'img_feats', file, [[-1, -1]], 'unit features [N, D]');
  const [n, dim] = feats.shape;
  if (n !== rows) throw new InputError(`has ${n} feature rows but ${faceListFile} lists ${rows} faces; expected one feature row per face-list line`, file);
  const norms = pickleArray(top, 'norms', file, [[n, 1], [n]], 'one norm per row');
  const faceness = top.has('faceness_scores') ? pickleArray(top, 'faceness_scores', file, [[n], [n, 1]], 'one faceness score per row') : undefined;
  const faces: FaceFeatures = { features: toFloat32(feats), norms: toFloat32(norms), faceness: faceness ? toFloat32(faceness) : undefined, count: n, dim };
  validateFaceFeatures(faces, file);
  return { faces, fingerprint };
}

/** The official layout: meta files under `<root>/<dataset>/meta` and the features pickle. */
export function loadOfficialInputs(root: string, dataset: IjbDataset, featuresPickle: string, opts: { identification?: boolean } = {}): EvalInputs {
  const meta = readIjbMeta(root, dataset, { pairs: 'require', landmarks: 'skip', identification: opts.identification === false ? 'skip' : 'auto' });
  const pairs = meta.pairs;
  if (!pairs) throw new InputError('pair list not found', meta.paths.pairs);
  const { faces, fingerprint } = readFeaturesPickle(featuresPickle, meta.faces.templateIds.length, meta.faces.file);
  const fingerprints = [fingerprintFile(meta.faces.file), fingerprintFile(pairs.file), fingerprint];
  let identification: EvalInputs['identification'];
  if (meta.identification) {
    const { galleries, probe } = meta.identification;
    for (const l of [...galleries, probe]) fingerprints.push(fingerprintFile(l.file));
    const asList = (l: typeof probe): SubjectTemplates => ({ templateIds: l.templateIds, subjectIds: l.subjectIds, file: l.file });
    identification = { galleries: galleries.map((g) => ({ name: g.name, list: asList(g) })), probe: asList(probe) };
  }
  return {
    dataset,
    faceListFile: meta.faces.file,
    index: meta.templates,
    medias: meta.faces.mediaIds,
    faces,
    pairs: { file: pairs.file, t1: pairs.t1, t2: pairs.t2, labels: pairs.labels, lines: pairs.lines },
    identification,
    fingerprints,
  };
}
