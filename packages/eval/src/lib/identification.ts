/**
 * IJB 1:N identification from template descriptors, two named methods:
 *
 * - `concatenated` (the official helper `eval_helper_identification.evaluation`, as the official
 *   wrapper would call it): both galleries joined; every probe is mated (exactly one gallery
 *   template of its subject). rank-k = share of probes whose mated template is among the k most
 *   similar; "TPIR at FPIR f": threshold = the ⌈P·f⌉-th largest of all non-mated similarities
 *   (P = probe count), TPIR = share of probes whose mated similarity is above it. This is the
 *   helper's own definition, not the NIST one.
 * - `corrected` (insightface's later fix, `evaluation_1N` per gallery): each gallery alone, probes
 *   of the other gallery's subjects are non-mated. Threshold = the max(⌊n·f⌋, 1)-th largest of the
 *   non-mated probes' best similarity (n = non-mated probe count); TPIR = share of mated probes
 *   whose mated similarity beats every other gallery template and the threshold. Ranks are summed
 *   over the two galleries and divided by the probe count; TPIRs are averaged.
 */
import { InputError } from '@facecoreset/common';
import { createRowDotKernel } from './dot-kernel';
import { templatePositionLookup } from './pairs';
import type { TemplateDescriptors, TemplateIndex } from './templates';

/** Template ids with their subject ids, as listed by a 1:N CSV (one entry per CSV row). */
export interface SubjectTemplates {
  templateIds: Int32Array;
  subjectIds: Int32Array;
  /** The CSV it came from, for error messages. */
  file?: string;
}

/** Unique templates in ascending id, each with the subject of its first row (np.unique(return_index)). */
export function uniqueSubjectTemplates(list: SubjectTemplates): SubjectTemplates {
  const first = new Map<number, number>();
  for (let i = 0; i < list.templateIds.length; i++) if (!first.has(list.templateIds[i])) first.set(list.templateIds[i], list.subjectIds[i]);
  const ids = Int32Array.from(first.keys()).sort();
  return { templateIds: ids, subjectIds: Int32Array.from(ids, (t) => first.get(t) as number), file: list.file };
}

export const IDENTIFICATION_FPIRS: readonly number[] = [0.01, 0.1];
const RANKS = [1, 5, 10] as const;

export interface TpirReading {
  fpir: number;
  tpir: number;
  threshold: number;
}

export interface RankReadings {
  rank1: number;
  rank5: number;
  rank10: number;
}

export interface GalleryResult extends RankReadings {
  name: string;
  gallery: number;
  mated: number;
  nonMated: number;
  /** Counts behind rank-k (mated probes found within the first k). */
  rankCounts: { rank1: number; rank5: number; rank10: number };
  /** Corrected-method readings; `fpirActual` = share of non-mated probes whose best similarity beats the threshold. */
  tpir: (TpirReading & { fpirActual: number })[];
}

export interface IdentificationResult {
  concatenated: RankReadings & { probes: number; gallery: number; tpir: TpirReading[] };
  corrected: RankReadings & { probes: number; tpir: { fpir: number; tpir: number }[]; galleries: GalleryResult[] };
}

interface Similarity {
  /** probe × gallery similarities, row-major. [P, G] */
  values: Float64Array;
  probes: number;
  gallery: number;
}

/** Descriptor rows of the given template ids; a template without faces is an InputError naming the CSV. */
function descriptorPositions(ids: Int32Array, index: TemplateIndex, file: string | undefined): Int32Array {
  const lookup = templatePositionLookup(index);
  return Int32Array.from(ids, (id) => {
    const p = lookup(id);
    if (p < 0) throw new InputError(`template ${id} has no face rows in the face list; expected every 1:N template to have faces`, file);
    return p;
  });
}

/** probes · galleryᵀ in float64 (blocked, through the SIMD dot kernel). */
function similarity(desc: TemplateDescriptors, probeRows: Int32Array, galleryRows: Int32Array): Similarity {
  const kernel = createRowDotKernel(desc.features, desc.dim);
  const p = probeRows.length;
  const g = galleryRows.length;
  const values = new Float64Array(p * g);
  const a = new Int32Array(g);
  for (let i = 0; i < p; i++) {
    a.fill(probeRows[i]);
    kernel.score(a, galleryRows, values.subarray(i * g, (i + 1) * g));
  }
  return { values, probes: p, gallery: g };
}

/** 1-based rank of column `j` in row `i` (ties: lower column first). */
function rankOf(sim: Similarity, i: number, j: number, columns?: Int32Array): number {
  const row = sim.values.subarray(i * sim.gallery, (i + 1) * sim.gallery);
  const v = row[j];
  let rank = 1;
  const cols = columns ?? null;
  const n = cols ? cols.length : sim.gallery;
  for (let c = 0; c < n; c++) {
    const k = cols ? cols[c] : c;
    if (row[k] > v || (row[k] === v && k < j)) rank++;
  }
  return rank;
}

/** Runs both identification methods. `galleries` are the two gallery lists (S1/S2 or G1/G2). */
export function evaluateIdentification(
  desc: TemplateDescriptors,
  index: TemplateIndex,
  galleries: { name: string; list: SubjectTemplates }[],
  probeList: SubjectTemplates,
  fpirs: readonly number[] = IDENTIFICATION_FPIRS,
): IdentificationResult {
  // Concatenated galleries in ascending template id (np.unique over both lists).
  const joined = uniqueSubjectTemplates({
    templateIds: Int32Array.from(galleries.flatMap((g) => [...g.list.templateIds])),
    subjectIds: Int32Array.from(galleries.flatMap((g) => [...g.list.subjectIds])),
    file: galleries.map((g) => g.list.file).join(' + '),
  });
  const probes = uniqueSubjectTemplates(probeList);
  const galleryRows = descriptorPositions(joined.templateIds, index, joined.file);
  const probeRows = descriptorPositions(probes.templateIds, index, probes.file);
  const sim = similarity(desc, probeRows, galleryRows);
  const concatenated = concatenatedMethod(sim, probes, joined, fpirs);
  // Gallery membership of each joined column.
  const perGallery = galleries.map(({ name, list }) => {
    const unique = uniqueSubjectTemplates(list);
    const member = new Set(unique.templateIds);
    const columns = Int32Array.from(joined.templateIds.keys()).filter((c) => member.has(joined.templateIds[c]));
    return galleryMethod(name, sim, probes, joined, columns, fpirs);
  });
  const total = probes.templateIds.length;
  const sumCount = (k: keyof GalleryResult['rankCounts']): number => perGallery.reduce((s, g) => s + g.rankCounts[k], 0) / total;
  return {
    concatenated,
    corrected: {
      rank1: sumCount('rank1'),
      rank5: sumCount('rank5'),
      rank10: sumCount('rank10'),
      probes: total,
      tpir: fpirs.map((fpir, f) => ({ fpir, tpir: perGallery.reduce((s, g) => s + g.tpir[f].tpir, 0) / perGallery.length })),
      galleries: perGallery,
    },
  };
}

function concatenatedMethod(sim: Similarity, probes: SubjectTemplates, gallery: SubjectTemplates, fpirs: readonly number[]): IdentificationResult['concatenated'] {
  const p = sim.probes;
  const g = sim.gallery;
  const columnOf = new Map<number, number[]>();
  gallery.subjectIds.forEach((s, c) => columnOf.set(s, [...(columnOf.get(s) ?? []), c]));
  const mask = Int32Array.from(probes.subjectIds, (s, i) => {
    const cols = columnOf.get(s) ?? [];
    if (cols.length !== 1) {
      throw new InputError(`probe template ${probes.templateIds[i]} (subject ${s}) has ${cols.length} gallery templates of its subject; the concatenated method expects exactly one`, probes.file);
    }
    return cols[0];
  });
  const hits = [0, 0, 0];
  const pos = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    const r = rankOf(sim, i, mask[i]);
    RANKS.forEach((k, n) => (hits[n] += r <= k ? 1 : 0));
    pos[i] = sim.values[i * g + mask[i]];
  }
  const needed = fpirs.map((f) => Math.ceil(p * f));
  const top = largestNonMated(sim, mask, Math.max(...needed));
  const tpir = fpirs.map((fpir, f) => {
    const threshold = top[needed[f] - 1];
    let above = 0;
    for (let i = 0; i < p; i++) if (pos[i] > threshold) above++;
    return { fpir, tpir: above / p, threshold };
  });
  return { rank1: hits[0] / p, rank5: hits[1] / p, rank10: hits[2] / p, probes: p, gallery: g, tpir };
}

/** The k largest similarities of non-mated (probe, gallery) cells, descending. */
function largestNonMated(sim: Similarity, mask: Int32Array, k: number): Float64Array {
  const buffer = new Float64Array(Math.max(4 * k, 1024));
  let n = 0;
  // Values at or below the k-th largest seen so far can never enter the top k (IJB-C: 69 M cells).
  let floor = -Infinity;
  const compact = (): void => {
    const kept = buffer.subarray(0, n).sort().reverse().slice(0, k);
    buffer.set(kept);
    n = kept.length;
    if (n === k) floor = kept[k - 1];
  };
  for (let i = 0; i < sim.probes; i++) {
    const row = i * sim.gallery;
    for (let c = 0; c < sim.gallery; c++) {
      const v = sim.values[row + c];
      if (c === mask[i] || v <= floor) continue;
      if (n === buffer.length) compact();
      buffer[n++] = v;
    }
  }
  compact();
  return buffer.slice(0, n);
}

function galleryMethod(name: string, sim: Similarity, probes: SubjectTemplates, joined: SubjectTemplates, columns: Int32Array, fpirs: readonly number[]): GalleryResult {
  const g = sim.gallery;
  const firstColumnOf = new Map<number, number>();
  for (const c of columns) if (!firstColumnOf.has(joined.subjectIds[c])) firstColumnOf.set(joined.subjectIds[c], c);
  const counts = { rank1: 0, rank5: 0, rank10: 0 };
  const matedPos: number[] = [];
  const matedCorrect: boolean[] = [];
  const nonMatedBest: number[] = [];
  for (let i = 0; i < sim.probes; i++) {
    const subject = probes.subjectIds[i];
    const mated = firstColumnOf.get(subject);
    const row = i * g;
    if (mated !== undefined) {
      const r = rankOf(sim, i, mated, columns);
      if (r <= 1) counts.rank1++;
      if (r <= 5) counts.rank5++;
      if (r <= 10) counts.rank10++;
      const v = sim.values[row + mated];
      let maxOther = -Infinity;
      for (const c of columns) if (joined.subjectIds[c] !== subject && sim.values[row + c] > maxOther) maxOther = sim.values[row + c];
      matedPos.push(v);
      matedCorrect.push(v > maxOther);
    } else {
      let best = -Infinity;
      for (const c of columns) if (sim.values[row + c] > best) best = sim.values[row + c];
      nonMatedBest.push(best);
    }
  }
  const sortedBest = Float64Array.from(nonMatedBest).sort().reverse();
  const tpir = fpirs.map((fpir) => {
    const threshold = sortedBest.length > 0 ? sortedBest[Math.max(Math.floor(sortedBest.length * fpir) - 1, 0)] : -Infinity;
    let hit = 0;
    for (let m = 0; m < matedPos.length; m++) if (matedCorrect[m] && matedPos[m] > threshold) hit++;
    let falseAlarms = 0;
    for (const b of nonMatedBest) if (b > threshold) falseAlarms++;
    return { fpir, tpir: matedPos.length > 0 ? hit / matedPos.length : NaN, threshold, fpirActual: nonMatedBest.length > 0 ? falseAlarms / nonMatedBest.length : NaN };
  });
  const m = matedPos.length;
  return {
    name,
    gallery: columns.length,
    mated: m,
    nonMated: nonMatedBest.length,
    rankCounts: counts,
    rank1: counts.rank1 / m,
    rank5: counts.rank5 / m,
    rank10: counts.rank10 / m,
    tpir,
  };
}
