"""Writes a small checkpoint laid out as torch.save writes it, with the standard library only
(no torch): stand-in `torch` / `torch._utils` modules give the pickler the same global names,
and persistent ids carry the storages, as torch's own pickler does. Covers what the reference
fixtures do not: non-contiguous strides (transposes, step slices), nn.Parameter, more storage
dtypes, a dtype constant, the 7-argument _rebuild_tensor_v2 of torch 2, a byteorder entry.
Run: python3 make_torch_like.py
"""
import collections
import io
import json
import math
import pathlib
import pickle
import struct
import sys
import types
import zipfile

OUT = pathlib.Path(__file__).resolve().parent.parent / 'fixtures'
WHEN = (2024, 1, 1, 0, 0, 0)

torch = types.ModuleType('torch')
torch_utils = types.ModuleType('torch._utils')
sys.modules['torch'] = torch
sys.modules['torch._utils'] = torch_utils


def _in(module, fn):
    fn.__module__ = module.__name__
    setattr(module, fn.__name__, fn)
    return fn


def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
    raise AssertionError


def _rebuild_parameter(*args):
    raise AssertionError


_in(torch_utils, _rebuild_tensor_v2)
_in(torch_utils, _rebuild_parameter)

STORAGE_FORMATS = {'FloatStorage': 'f', 'DoubleStorage': 'd', 'LongStorage': 'q', 'IntStorage': 'i', 'HalfStorage': 'e', 'BFloat16Storage': 'H'}
for cls_name in STORAGE_FORMATS:
    setattr(torch, cls_name, type(cls_name, (), {'__module__': 'torch'}))


class DType:
    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return self.name  # pickled as the global torch.<name>, as torch dtypes are


DType.__module__ = 'torch'
torch.float32 = DType('float32')


def bf16_bits(x):
    (u,) = struct.unpack('<I', struct.pack('<f', x))
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF


def bf16_value(bits):
    return struct.unpack('<f', struct.pack('<I', bits << 16))[0]


class Storage:
    def __init__(self, key, cls_name, values):
        self.key, self.cls_name, self.values = key, cls_name, values

    def raw(self):
        fmt = STORAGE_FORMATS[self.cls_name]
        vals = [bf16_bits(v) for v in self.values] if self.cls_name == 'BFloat16Storage' else self.values
        return b''.join(struct.pack('<' + fmt, v) for v in vals)

    def element(self, i):
        v = self.values[i]
        if self.cls_name == 'BFloat16Storage':
            return bf16_value(bf16_bits(v))
        if self.cls_name in ('FloatStorage', 'HalfStorage'):
            return struct.unpack('<' + STORAGE_FORMATS[self.cls_name], struct.pack('<' + STORAGE_FORMATS[self.cls_name], v))[0]
        return v


class Tensor:
    def __init__(self, storage, offset, size, stride, v3_metadata=False):
        self.storage, self.offset, self.size, self.stride, self.v3 = storage, offset, tuple(size), tuple(stride), v3_metadata

    def __reduce_ex__(self, proto):
        args = (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict())
        if self.v3:
            args += ({},)  # torch 2 appends a metadata dict
        return (_rebuild_tensor_v2, args)

    def values(self):
        """Elements in C order by the definition element(i0, i1, ...) = storage[offset + sum(i_k * stride_k)]."""
        out = []
        n = math.prod(self.size)
        for flat in range(n):
            rem, at = flat, self.offset
            for k in reversed(range(len(self.size))):
                at += (rem % self.size[k]) * self.stride[k]
                rem //= self.size[k]
            out.append(self.storage.element(at))
        return out


class Parameter:
    def __init__(self, tensor):
        self.tensor = tensor

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.tensor, True, collections.OrderedDict()))


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', getattr(torch, obj.cls_name), obj.key, 'cpu', len(obj.values))
        return None


def checkpoint(byteorder='little'):
    s0 = Storage('0', 'FloatStorage', [i / 8 - 1 for i in range(24)])
    s1 = Storage('1', 'DoubleStorage', [math.pi * i for i in range(6)])
    s2 = Storage('2', 'LongStorage', [-(2**40), 3, 0, 9])
    s3 = Storage('3', 'IntStorage', [5, -6, 7])
    s4 = Storage('4', 'HalfStorage', [0.5, -1.5, 65504.0, 2.0**-24])
    s5 = Storage('5', 'BFloat16Storage', [1.0, -3.140625, 1e30])
    tensors = collections.OrderedDict([
        ('w', Tensor(s0, 0, [4, 6], [6, 1])),
        ('w_t', Tensor(s0, 0, [6, 4], [1, 6])),  # transpose: a non-contiguous view of the same storage
        ('w_cols', Tensor(s0, 3, [2, 3, 2], [12, 2, 1])),  # a step slice with an offset
        ('w_bcast', Tensor(s0, 5, [3, 2], [0, 1])),  # stride 0 (expand)
        ('scalar', Tensor(s0, 7, [], [])),
        ('empty', Tensor(s0, 0, [0, 6], [6, 1])),
        ('p', Parameter(Tensor(s1, 1, [5], [1], v3_metadata=True))),
        ('idx', Tensor(s2, 0, [2, 2], [1, 2])),
        ('i32', Tensor(s3, 0, [3], [1])),
        ('h', Tensor(s4, 0, [2, 2], [2, 1])),
        ('bf', Tensor(s5, 0, [3], [1])),
    ])
    sd = collections.OrderedDict(tensors)
    sd._metadata = collections.OrderedDict([('', {'version': 1})])
    top = {'epoch': 1, 'state_dict': sd, 'hyper_parameters': {'dtype': torch.float32, 'milestones': [20]}}
    buf = io.BytesIO()
    TorchLikePickler(buf, protocol=2).dump(top)
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, 'w', compression=zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo('tiny/data.pkl', date_time=WHEN), buf.getvalue())
        z.writestr(zipfile.ZipInfo('tiny/byteorder', date_time=WHEN), byteorder)
        for s in (s0, s1, s2, s3, s4, s5):
            z.writestr(zipfile.ZipInfo(f'tiny/data/{s.key}', date_time=WHEN), s.raw())
        z.writestr(zipfile.ZipInfo('tiny/version', date_time=WHEN), '3\n')
    expect = {}
    for name, t in tensors.items():
        tt = t.tensor if isinstance(t, Parameter) else t
        expect[name] = {'storage': tt.storage.key, 'storage_type': tt.storage.cls_name, 'offset': tt.offset, 'shape': list(tt.size), 'stride': list(tt.stride),
                        'requires_grad': isinstance(t, Parameter), 'values': [repr(float(v)) for v in tt.values()]}
    return zbuf.getvalue(), expect


def main():
    OUT.mkdir(exist_ok=True)
    data, expect = checkpoint()
    (OUT / 'torch_like.ckpt').write_bytes(data)
    (OUT / 'torch_like_expected.json').write_text(json.dumps(expect, indent=1) + '\n')
    (OUT / 'torch_like_big_endian.ckpt').write_bytes(checkpoint('big')[0])
    print('torch_like.ckpt:', len(data), 'bytes')


if __name__ == '__main__':
    main()
