import * as fs from 'node:fs';
import * as path from 'node:path';
import { PyDict, PyObjectRecord, isPyTuple, pyDictToObject, toPlainData, unpickle, type PyAllowList } from '../src/py/pickle';
import { InputError } from '../src/errors';

const FIX = path.resolve(__dirname, 'fixtures');
const read = (name: string) => fs.readFileSync(path.join(FIX, name));

/** The tagged JSON form make_pickles.py writes for Python values (keeps tuple/list/bytes/big int apart). */
function tagged(v: unknown): unknown {
  if (v instanceof Map) return { dict: [...v].map(([k, x]) => [tagged(k), tagged(x)]) };
  if (v instanceof Set) return { set: [...v].map(tagged).sort() };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if (isPyTuple(v)) return { tuple: v.map(tagged) };
  if (Array.isArray(v)) return { list: v.map(tagged) };
  if (typeof v === 'bigint') return { int: v.toString() };
  return v;
}

const ORDERED_DICT: PyAllowList = { 'collections.OrderedDict': () => new PyDict() };

describe('unpickle', () => {
  const expected = JSON.parse(read('plain_expected.json').toString('utf8'));

  for (const proto of [0, 1, 2, 3, 4, 5]) {
    it(`reads plain Python data pickled with protocol ${proto} exactly as Python wrote it`, () => {
      const v = unpickle(read(`plain_p${proto}.pickle`), { allow: ORDERED_DICT, file: `plain_p${proto}.pickle` });
      expect(tagged(v)).toEqual(expected);
      // Memoised objects stay shared, as in Python.
      const shared = (v as PyDict).get('shared') as unknown[][];
      expect(shared[0]).toBe(shared[1]);
    });
  }

  it('refuses every global outside the allow-list, naming file, byte offset and the allowed names', () => {
    expect(() => unpickle(read('evil_os_system.pickle'), { file: 'x.pkl' })).toThrow(InputError);
    expect(() => unpickle(read('evil_os_system.pickle'), { file: 'x.pkl', allow: ORDERED_DICT })).toThrow(
      "x.pkl:byte 34: pickle refers to global 'posix.system', which is not allowed (allowed: collections.OrderedDict)",
    );
    // Protocol 4 names the global with STACK_GLOBAL; builtins.eval is not a data builtin.
    expect(() => unpickle(read('evil_eval_p4.pickle'), { file: 'e.pkl' })).toThrow(/^e\.pkl:byte \d+: pickle refers to global 'builtins\.eval', which is not allowed \(allowed: none\)$/);
    // The plain pickles name collections.OrderedDict: refused unless allowed.
    expect(() => unpickle(read('plain_p2.pickle'), { file: 'p.pkl' })).toThrow(/global 'collections\.OrderedDict', which is not allowed/);
  });

  it('tolerates unknown classes as inert records only when asked, and still lets a predicate refuse', () => {
    const bytes = read('hparams_unknown_classes.pickle');
    expect(() => unpickle(bytes)).toThrow(/global 'argparse\.Namespace'|global 'pathlib\.PurePosixPath'/);
    const v = unpickle(bytes, { tolerateUnknown: true }) as PyDict;
    const hp = v.get('hyper_parameters') as PyDict;
    const ns = hp.get('args') as PyObjectRecord;
    expect(ns).toBeInstanceOf(PyObjectRecord);
    expect(ns.__class__).toBe('argparse.Namespace');
    expect(pyDictToObject(hp)).toEqual({
      args: { __class__: 'argparse.Namespace', args: [], state: { lr: 1e-4, arch: 'ir_101', milestones: [20], data_root: { __class__: 'pathlib.PurePosixPath', args: ['/', 'data', 'webface4m'], state: null } } },
      output_dir: { __class__: 'pathlib.PurePosixPath', args: ['/', 'runs', 'x'], state: null },
      lr: 1e-4,
    });
    expect(() => unpickle(bytes, { tolerateUnknown: (n) => n !== 'pathlib.PurePosixPath' })).toThrow(/global 'pathlib\.PurePosixPath', which is not allowed/);
    // The os.system pickle becomes inert data too: nothing is called.
    const evil = unpickle(read('evil_os_system.pickle'), { tolerateUnknown: true }) as PyDict;
    expect(toPlainData(evil.get('x'))).toEqual({ __class__: 'posix.system', args: ['echo pwned'], state: null });
  });

  it('calls allow-listed handlers for REDUCE and BUILD', () => {
    const seen: unknown[] = [];
    const allow: PyAllowList = {
      'argparse.Namespace': { construct: (args) => ({ made: args.length }), setState: (obj, state) => seen.push(obj, state) },
      'pathlib.PurePosixPath': (args) => args.join('/'),
    };
    const v = unpickle(read('hparams_unknown_classes.pickle'), { allow }) as PyDict;
    const hp = v.get('hyper_parameters') as PyDict;
    expect(hp.get('output_dir')).toBe('//runs/x');
    expect(seen[0]).toBe(hp.get('args'));
    expect(toPlainData(seen[1])).toEqual({ lr: 1e-4, arch: 'ir_101', milestones: [20], data_root: '//data/webface4m' });
  });

  it('reports corrupt input with the byte offset: truncation, unknown opcode, missing memo, no STOP, bad protocol', () => {
    const p4 = read('plain_p4.pickle');
    expect(() => unpickle(p4.subarray(0, 40), { allow: ORDERED_DICT, file: 't.pkl' })).toThrow(/^t\.pkl:byte \d+: truncated pickle/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0xff]), { file: 'o.pkl' })).toThrow('o.pkl:byte 2: unknown pickle opcode 0xff');
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x68, 5, 0x2e]), { file: 'm.pkl' })).toThrow('m.pkl:byte 2: memo key 5 was never stored');
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x4e]), { file: 's.pkl' })).toThrow('s.pkl:byte 3: truncated pickle: no STOP opcode');
    expect(() => unpickle(Uint8Array.from([0x80, 9, 0x4e, 0x2e]), { file: 'v.pkl' })).toThrow('v.pkl:byte 0: unsupported pickle protocol 9 (this reader knows 0-5)');
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x2e]), { file: 'u.pkl' })).toThrow('u.pkl:byte 2: pickle stack underflow');
    // A persistent id without a persistentLoad is refused, not ignored.
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x4e, 0x51, 0x2e]), { file: 'q.pkl' })).toThrow(/q\.pkl:byte 3: pickle uses a persistent id/);
  });
});
