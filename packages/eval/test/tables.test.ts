import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PartedTableWriter, featuresArrowTable, featuresTable, readFeaturesPickle, writeTable } from '@facecoreset/data';
import { computeTemplateDescriptors, evaluateMethod, meanAggregator, normWeightedAggregator } from '../src';
import { loadOfficialInputs } from '../src/io/inputs';
import { loadTableInputs } from '../src/io/tables';
import { IJB_MINI } from './fixtures';

const root = path.join(IJB_MINI, 'ijb_root');
const pickle = path.join(IJB_MINI, 'IJBB_ir101_webface4m.pickle');

describe('inputs from our features table', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-eval-tables-'));
    const arrays = readFeaturesPickle(pickle);
    writeTable(dir, featuresTable(arrays.dim), featuresArrowTable(arrays));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives the same face rows and template descriptors as the official pickle', async () => {
    const fromTable = await loadTableInputs(root, 'IJBB', dir);
    const official = await loadOfficialInputs(root, 'IJBB', pickle);
    expect(fromTable.faces.count).toBe(885);
    expect(Buffer.from(fromTable.faces.features.buffer).equals(Buffer.from(official.faces.features.buffer))).toBe(true);
    expect(Array.from(fromTable.faces.norms)).toEqual(Array.from(official.faces.norms));
    const a = await computeTemplateDescriptors(fromTable.faces, fromTable.index, normWeightedAggregator, { protocol: 'set' });
    const b = await computeTemplateDescriptors(official.faces, official.index, normWeightedAggregator, { protocol: 'set' });
    expect(Array.from(a.features)).toEqual(Array.from(b.features));
    // The features folder itself is accepted too.
    expect((await loadTableInputs(root, 'IJBB', path.join(dir, 'features'))).faces.count).toBe(885);
  });

  it('media protocol with flip fusion: a flipped view equal to the original leaves the descriptors unchanged', async () => {
    const flipDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-eval-tables-'));
    try {
      const arrays = readFeaturesPickle(pickle);
      const w = new PartedTableWriter(flipDir, featuresTable(arrays.dim), { targetPartBytes: 1 << 20 });
      w.addTable(featuresArrowTable(arrays, 1)); // flipped view first: rows are placed by (row, view)
      w.addTable(featuresArrowTable(arrays, 0));
      w.finish();
      const inputs = await loadTableInputs(root, 'IJBB', flipDir);
      expect(inputs.flip).toBeDefined();
      for (const aggregator of [meanAggregator, normWeightedAggregator]) {
        const fused = await evaluateMethod(inputs, aggregator, { protocol: 'media', flip: true, progress: false, identification: false });
        const plain = await evaluateMethod(inputs, aggregator, { protocol: 'media', progress: false, identification: false });
        let m = 0;
        for (let i = 0; i < plain.descriptors.features.length; i++) m = Math.max(m, Math.abs(fused.descriptors.features[i] - plain.descriptors.features[i]));
        expect(m).toBeLessThan(1e-6);
      }
    } finally {
      fs.rmSync(flipDir, { recursive: true, force: true });
    }
  });

  it('fails naming the table when face rows are missing', async () => {
    const partial = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-eval-tables-'));
    try {
      const arrays = readFeaturesPickle(pickle);
      const rows = 800;
      writeTable(partial, featuresTable(arrays.dim), featuresArrowTable({ ...arrays, rows, embeddings: arrays.embeddings.subarray(0, rows * arrays.dim), norms: arrays.norms.subarray(0, rows), faceness: undefined }));
      await expect(loadTableInputs(root, 'IJBB', partial)).rejects.toThrow(/features: has 800 original-view \(view 0\) feature rows but .*ijbb_face_tid_mid.txt lists 885 faces/);
    } finally {
      fs.rmSync(partial, { recursive: true, force: true });
    }
  });
});
