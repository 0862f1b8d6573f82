"""Writes the small pickle fixtures the common package's tests read (run: python3 make_pickles.py).

Needs numpy for the array pickles. The "evil" pickles are produced with pickle.dumps only; they are
never loaded here.
"""
import argparse
import collections
import os
import pathlib
import pickle
import sys

OUT = pathlib.Path(__file__).resolve().parent.parent / 'fixtures'


def write(name, data):
    (OUT / name).write_bytes(data)
    print(f'{name}: {len(data)} bytes')


class RunsShellOnLoad:
    """Pickles as os.system('echo pwned'): what a malicious checkpoint looks like."""

    def __reduce__(self):
        return (os.system, ('echo pwned',))


class EvalOnLoad:
    def __reduce__(self):
        return (eval, ("print('pwned')",))


def numpy_fixtures():
    import numpy as np

    arrays = {
        'f32': np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
        'f16': (np.arange(6, dtype=np.float16) - 2.5).reshape(2, 3),
        'f64': np.array([np.pi, -1e300, 5e-324, np.inf], dtype=np.float64),
        'i64': np.array([[-(2**40), 7, 0]], dtype=np.int64),
        'i32': np.array([1, -2, 3], dtype=np.int32),
        'u8': np.array([0, 255], dtype=np.uint8),
        'b': np.array([True, False, True]),
        'scalar0d': np.array(2.5, dtype=np.float32),
        'empty': np.zeros((0, 3), dtype=np.float32),
        'fortran': np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
        'big_endian': np.array([1.5, -2.0], dtype='>f4'),
        'np_scalar': np.float32(1.25),
        'np_int_scalar': np.int64(-3),
        'nested': [np.ones(2, dtype=np.float32), ('t', 1, None, True, 2**70, -1.5, b'\x00\xff')],
    }
    for proto in (2, 3, 4, 5):
        write(f'numpy_p{proto}.pickle', pickle.dumps(arrays, protocol=proto))
    # A readable expectation next to the bytes: element lists in C order, as Python sees them.
    import json
    expect = {}
    for k, v in arrays.items():
        if isinstance(v, np.ndarray):
            expect[k] = {'dtype': v.dtype.name, 'shape': list(v.shape), 'values': [repr(float(x)) if v.dtype.kind == 'f' else int(x) for x in np.ascontiguousarray(v).ravel()]}
    (OUT / 'numpy_expected.json').write_text(json.dumps(expect, indent=1) + '\n')
    # Out-of-band buffers (protocol 5): refused by our reader.
    write('numpy_p5_out_of_band.pickle', pickle.dumps({'a': np.ones(3, dtype=np.float32)}, protocol=5, buffer_callback=lambda b: False))
    # An object array: its data is a list of Python objects, not raw bytes; refused.
    write('numpy_object_array.pickle', pickle.dumps(np.array([1, 'a'], dtype=object), protocol=4))


def tagged(v):
    """The value in a JSON form that keeps Python's types apart (what the tests compare against)."""
    if isinstance(v, dict):
        return {'dict': [[tagged(k), tagged(x)] for k, x in v.items()]}
    if isinstance(v, list):
        return {'list': [tagged(x) for x in v]}
    if isinstance(v, tuple):
        return {'tuple': [tagged(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {'set': sorted(tagged(x) for x in v)}
    if isinstance(v, (bytes, bytearray)):
        return {'bytes': v.hex()}
    if isinstance(v, bool) or v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2**53 - 1 else {'int': str(v)}
    raise TypeError(type(v))


def stdlib_fixtures():
    write('evil_os_system.pickle', pickle.dumps({'state_dict': {}, 'x': RunsShellOnLoad()}, protocol=2))
    write('evil_eval_p4.pickle', pickle.dumps([1, EvalOnLoad()], protocol=4))
    plain = {
        'str': 'héllo', 'int': 7, 'neg': -70000, 'big': 2**64 + 1, 'small_neg_big': -(2**63), 'float': 0.1, 'bool': [True, False],
        'none': None, 'tuple': (1, (2, 3)), 'bytes': b'ab\x00', 'empty_bytes': b'', 'set': {1}, 'frozen': frozenset(), 'bytearray': bytearray(b'xy'),
        'nested_list': [[1, 2], []], 'shared': None, 'ordered': collections.OrderedDict([('b', 1), ('a', 2)]), 3: 'int key',
    }
    shared = [1, 2]
    plain['shared'] = [shared, shared]
    for proto in (0, 1, 2, 3, 4, 5):
        write(f'plain_p{proto}.pickle', pickle.dumps(plain, protocol=proto))
    import json
    (OUT / 'plain_expected.json').write_text(json.dumps(tagged(plain), indent=1) + '\n')
    # Lightning-like hyper_parameters holding classes outside any allow-list.
    ns = argparse.Namespace(lr=1e-4, arch='ir_101', milestones=[20], data_root=pathlib.PurePosixPath('/data/webface4m'))
    ckpt_like = {
        'epoch': 3,
        'hyper_parameters': {'args': ns, 'output_dir': pathlib.PurePosixPath('/runs/x'), 'lr': 1e-4},
        'hparams_name': 'kwargs',
    }
    write('hparams_unknown_classes.pickle', pickle.dumps(ckpt_like, protocol=2))
    # The same, and the os.system pickle, as the data.pkl of a torch-style zip (stored entries).
    write('hparams_unknown_classes.ckpt', torch_style_zip(pickle.dumps(ckpt_like, protocol=2)))
    # Lightning >= 1.x keeps hyper_parameters in an AttributeDict (a dict subclass): NEWOBJ + SETITEMS.
    write('hparams_attribute_dict.ckpt', torch_style_zip(pickle.dumps({'hyper_parameters': attribute_dict(lr=0.1, arch='ir_18')}, protocol=2)))
    write('evil_os_system.ckpt', torch_style_zip(pickle.dumps({'state_dict': {}, 'x': RunsShellOnLoad()}, protocol=2)))


def attribute_dict(**kw):
    """An instance of a dict subclass named like Lightning's, without Lightning installed."""
    import types
    for name in ('lightning_fabric', 'lightning_fabric.utilities', 'lightning_fabric.utilities.data'):
        sys.modules.setdefault(name, types.ModuleType(name))
    mod = sys.modules['lightning_fabric.utilities.data']
    cls = getattr(mod, 'AttributeDict', None)
    if cls is None:
        cls = type('AttributeDict', (dict,), {'__module__': mod.__name__})
        mod.AttributeDict = cls
    return cls(**kw)


def torch_style_zip(data_pkl):
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', compression=zipfile.ZIP_STORED) as z:
        # A fixed timestamp keeps the generated bytes identical from run to run.
        z.writestr(zipfile.ZipInfo('model/data.pkl', date_time=(2024, 1, 1, 0, 0, 0)), data_pkl)
        z.writestr(zipfile.ZipInfo('model/version', date_time=(2024, 1, 1, 0, 0, 0)), '3\n')
    return buf.getvalue()


if __name__ == '__main__':
    OUT.mkdir(exist_ok=True)
    stdlib_fixtures()
    if '--no-numpy' not in sys.argv:
        numpy_fixtures()
