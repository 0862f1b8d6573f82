import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkRawInputs, loadExperimentConfig, parseExperimentConfig } from '../src/config';
import { validateStageSections } from '../src/config/sections';

const CONFIGS = path.resolve(__dirname, '../../../configs');

function paperLike(root: string) {
  return {
    experiment: 'paper-test',
    data: {
      train: { format: 'recordio', path: `${root}/webface` },
      ijb: { root: `${root}/ijb`, datasets: ['IJBB'], featuresPickle: { IJBB: `${root}/ijb/IJBB_ir101_webface4m.pickle` } },
    },
    backbone: { mode: 'import', checkpoint: `${root}/adaface_ir101.ckpt`, arch: 'ir_101' },
    tracking: { experimentName: 'x' },
  };
}

describe('experiment configs', () => {
  it('the shipped configs validate, including the sections stage packages own', () => {
    const prev = process.env.FCN_DATA_ROOT;
    process.env.FCN_DATA_ROOT = '/data';
    try {
      for (const name of ['demo', 'paper']) {
        const { config, file } = loadExperimentConfig(name);
        expect(config.experiment).toBe(name);
        expect(() => validateStageSections(config, file)).not.toThrow();
      }
    } finally {
      if (prev === undefined) delete process.env.FCN_DATA_ROOT;
      else process.env.FCN_DATA_ROOT = prev;
    }
    expect(fs.readdirSync(CONFIGS)).toEqual(expect.arrayContaining(['demo.json', 'paper.json']));
  });

  it('fills defaults (paper TAR@FAR list, set protocol, one extraction shard)', () => {
    const c = parseExperimentConfig(paperLike('/d'), 'x.json');
    expect(c.eval.farList).toEqual([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]);
    expect(c.eval.protocol).toBe('set');
    expect(c.extract.shards).toBe(1);
  });

  it('substitutes ${VAR} from the environment and reports unset ones', () => {
    process.env.FCN_TEST_ROOT = '/mnt/faces';
    try {
      const raw = paperLike('${FCN_TEST_ROOT}');
      expect(parseExperimentConfig(raw, 'x.json').data.train.path).toBe('/mnt/faces/webface');
      delete process.env.FCN_TEST_ROOT;
      expect(() => parseExperimentConfig(raw, 'x.json')).toThrow(/x\.json: invalid experiment config: environment variable\(s\) not set: \$\{FCN_TEST_ROOT\}/);
    } finally {
      delete process.env.FCN_TEST_ROOT;
    }
  });

  it('lists every problem in one message: unknown keys, bad enums, wrong types', () => {
    const raw = paperLike('/d') as Record<string, any>;
    raw.evall = {};
    raw.eval = { methods: ['median'] };
    raw.extract = { shards: 'two' };
    let message = '';
    try {
      parseExperimentConfig(raw, 'bad.json');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^bad\.json: invalid experiment config: /);
    expect(message).toMatch(/unknown key\(s\) 'evall'/);
    expect(message).toMatch(/eval\.methods\.0/);
    expect(message).toMatch(/extract\.shards/);
    expect(message.split('\n')).toHaveLength(1);
  });

  it('checks the sections owned by the stage packages (train, backbone options, synth options)', () => {
    const raw = { ...paperLike('/d'), train: { lrr: 1 } } as Record<string, any>;
    const c = parseExperimentConfig(raw, 'cfg.json');
    expect(() => validateStageSections(c, 'cfg.json')).toThrow(/cfg\.json: invalid experiment config: train: .*lrr/);
  });

  it('names every missing raw input, with the config key and what it must be', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-cfg-'));
    try {
      fs.mkdirSync(path.join(root, 'webface'));
      const c = parseExperimentConfig(paperLike(root), 'p.json');
      let message = '';
      try {
        checkRawInputs(c, 'p.json');
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^p\.json: missing input\(s\): /);
      expect(message).toContain(`data.ijb.root = ${root}/ijb (expected a folder)`);
      expect(message).toContain(`backbone.checkpoint = ${root}/adaface_ir101.ckpt (expected a file)`);
      expect(message).toContain('data.ijb.featuresPickle.IJBB');
      expect(message).not.toContain('data.train.path');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
