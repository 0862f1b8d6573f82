import * as fs from 'node:fs';
import * as path from 'node:path';
import { readNpy } from '@facecoreset/common';
import { groupRowsByTemplate, parseFaceTidMid, parseLandmarks, parsePairs, parseTemplateSubjects, readIjbMeta } from '../src/ijb';
import { expectInputError, tempDirs } from './helpers';

const MINI = path.resolve(__dirname, '../../../../shared/fixtures/reference/ijb_mini');
const ROOT = path.join(MINI, 'ijb_root');
const stats = JSON.parse(fs.readFileSync(path.join(MINI, 'dataset_stats.json'), 'utf8'));
const truth = JSON.parse(fs.readFileSync(path.join(MINI, 'synthetic_ground_truth.json'), 'utf8'));
const tmp = tempDirs('ijb');

describe('readIjbMeta on the ijb_mini fixture (official file formats)', () => {
  const meta = readIjbMeta(ROOT, 'IJBB');

  test('face list: rows, templates, media as the generator recorded them', () => {
    expect(meta.faces.images.length).toBe(stats.n_images_rows);
    expect(meta.faces.images[0]).toBe('1.jpg');
    expect(new Set(meta.faces.mediaIds).size).toBe(stats.n_media);
    const unique = readNpy(path.join(MINI, 'expected/unique_templates.npy'));
    expect(Array.from(meta.templates.templateIds)).toEqual(Array.from(unique.data as Float64Array));
    const sizes = Array.from(meta.templates.offsets.subarray(1)).map((o, i) => o - meta.templates.offsets[i]);
    expect(Math.min(...sizes)).toBe(stats.template_size_min);
    expect(Math.max(...sizes)).toBe(stats.template_size_max);
    expect(sizes.filter((s) => s === 1).length).toBe(stats.templates_size1);
    // Every row of template i carries template id i.
    meta.templates.templateIds.forEach((t, i) => {
      for (let k = meta.templates.offsets[i]; k < meta.templates.offsets[i + 1]; k++) expect(meta.faces.templateIds[meta.templates.rows[k]]).toBe(t);
    });
  });

  test('pairs in file order with the labels the official code read', () => {
    const labels = readNpy(path.join(MINI, 'expected/pair_labels.npy'));
    expect(meta.pairs!.t1.length).toBe(stats.n_pairs);
    expect(Array.from(meta.pairs!.labels)).toEqual(Array.from(labels.data as Float64Array));
    expect(meta.pairs!.labels.reduce((s, v) => s + v, 0)).toBe(stats.n_genuine);
  });

  test('1:N galleries and probe: distinct templates ascending with their subject', () => {
    const id = meta.identification!;
    expect(id.galleries.map((g) => g.name)).toEqual(['gallery_S1', 'gallery_S2']);
    expect(id.galleries.map((g) => g.lineTemplateIds.length)).toEqual([stats.csv_rows.S1, stats.csv_rows.S2]);
    expect(id.probe.lineTemplateIds.length).toBe(stats.csv_rows.probe_mixed);
    const check = (list: typeof id.probe, expected: number[]): void => {
      expect(Array.from(list.templateIds)).toEqual([...expected].sort((a, b) => a - b));
      list.templateIds.forEach((t, i) => expect(list.subjectIds[i]).toBe(truth.subject_id_of_subject[truth.subject_of_template[String(t)]]));
    };
    check(id.galleries[0], truth.gallery_S1_templates);
    check(id.galleries[1], truth.gallery_S2_templates);
    check(id.probe, truth.probe_mixed_templates);
  });

  test('no landmark file in the fixture: skipped in auto mode, an error when required', () => {
    expect(meta.landmarks).toBeUndefined();
    expectInputError(() => readIjbMeta(ROOT, 'IJBB', { landmarks: 'require' }), /ijbb_name_5pts_score\.txt: landmark list not found/);
    expectInputError(() => readIjbMeta(ROOT, 'IJBC'), /expected a IJBC\/ folder/);
  });
});

describe('IJB meta bad input', () => {
  const enc = (s: string): Uint8Array => Buffer.from(s);

  test('missing column / non-integer id name file and line', () => {
    expectInputError(() => parseFaceTidMid(enc('1.jpg 5 6\n2.jpg 5\n'), 'f.txt'), /^f\.txt:line 2: expected "<image> <template id> <media id>" \(3 columns\), got 2/);
    expectInputError(() => parseFaceTidMid(enc('1.jpg 5 6\n2.jpg 5x 6\n'), 'f.txt'), /^f\.txt:line 2: column 2 \(template id\): expected an integer, got "5x"/);
    expectInputError(() => parsePairs(enc('1 2 0\n\n1 2 2\n'), 'p.txt'), /^p\.txt:line 3: column 3 \(label\): expected 0 or 1, got 2/);
    expectInputError(() => parseLandmarks(enc('a.jpg 1 2 3 4 5 6 7 8 9 10 nan\n'), 'l.txt'), /^l\.txt:line 1: column 12 \(faceness\): expected a finite number, got "nan"/);
    expectInputError(() => parseTemplateSubjects(enc('TEMPLATE_ID,SUBJECT_ID\n1,2\n1,3\n'), 'g.csv', 'g'), /^g\.csv:line 3: template 1 has subject 3 here but subject 2 on line 2/);
    expectInputError(() => parseTemplateSubjects(enc('1,2\n'), 'g.csv', 'g'), /^g\.csv:line 1: expected a header line/);
  });

  test('an image name that escapes the root', () => {
    expectInputError(() => parseFaceTidMid(enc('a.jpg 1 1\n../../etc/passwd 1 1\n'), 'f.txt'), /^f\.txt:line 2: image name "\.\.\/\.\.\/etc\/passwd" escapes the image folder/);
    expectInputError(() => parseLandmarks(enc('/abs.jpg 1 2 3 4 5 6 7 8 9 10 0.5\n'), 'l.txt'), /escapes the image folder/);
  });

  function rootWith(files: Record<string, string>): string {
    const root = tmp();
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, 'IJBB/meta', name)), { recursive: true });
      fs.writeFileSync(path.join(root, 'IJBB/meta', name), text);
    }
    return root;
  }

  test('a pair naming a template that the face list lacks', () => {
    const root = rootWith({ 'ijbb_face_tid_mid.txt': 'a.jpg 7 1\nb.jpg 9 2\n', 'ijbb_template_pair_label.txt': '7 9 0\n7 8 1\n' });
    expectInputError(() => readIjbMeta(root, 'IJBB'), /ijbb_template_pair_label\.txt:line 2: pair names template 8, which .*ijbb_face_tid_mid\.txt does not list/);
  });

  test('landmark file out of order with the face list', () => {
    const root = rootWith({ 'ijbb_face_tid_mid.txt': 'a.jpg 7 1\nb.jpg 9 2\n', 'ijbb_name_5pts_score.txt': 'b.jpg 1 2 3 4 5 6 7 8 9 10 0.5\na.jpg 1 2 3 4 5 6 7 8 9 10 0.5\n' });
    expectInputError(() => readIjbMeta(root, 'IJBB'), /ijbb_name_5pts_score\.txt:line 1: names image "b\.jpg" but line 1 of .* names "a\.jpg"/);
  });

  test('groupRowsByTemplate keeps rows of non-contiguous templates in order', () => {
    const g = groupRowsByTemplate(Int32Array.from([5, 3, 5, 3, 9]));
    expect({ t: Array.from(g.templateIds), o: Array.from(g.offsets), r: Array.from(g.rows) }).toEqual({ t: [3, 5, 9], o: [0, 2, 4, 5], r: [1, 3, 0, 2, 4] });
  });
});
