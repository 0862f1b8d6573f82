"""Writes safetensors files by hand from the public format description, with the standard library
only (struct + json), so the TypeScript reader is tested on bytes it did not write.
Run: python3 make_safetensors.py
"""
import json
import math
import pathlib
import struct

OUT = pathlib.Path(__file__).resolve().parent.parent / 'fixtures'


def bf16(x):
    """float -> bfloat16 bits by rounding the float32 bits to nearest even (as torch does)."""
    (u,) = struct.unpack('<I', struct.pack('<f', x))
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF


TENSORS = {
    # name: (dtype, shape, values, struct format per element)
    'w.f64': ('F64', [2], [math.pi, -1e300], 'd'),
    'w.f32': ('F32', [2, 3], [0.5, -1.25, 3.0e-38, 7.0, 1 / 3, -0.0], 'f'),
    'w.i64': ('I64', [3], [-(2**40), 0, 2**53 - 1], 'q'),
    'w.i32': ('I32', [1, 2], [-7, 2**31 - 1], 'i'),
    'w.f16': ('F16', [3], [1.0, -2.5, 65504.0], 'e'),
    'w.bf16': ('BF16', [2], [1.0, -3.140625], 'H'),
    'w.u8': ('U8', [4], [0, 1, 128, 255], 'B'),
    'scalar': ('F32', [], [42.5], 'f'),
    'empty': ('F32', [0, 4], [], 'f'),
}
METADATA = {'format': 'pt', 'facecoreset': json.dumps({'config': {'coreset_size': 3}, 'step': 12})}


def tensor_bytes(dtype, values, fmt):
    if dtype == 'BF16':
        values = [bf16(v) for v in values]
    return b''.join(struct.pack('<' + fmt, v) for v in values)


def build(pad_to=8, order=None, tamper=None):
    names = order or list(TENSORS)
    header, blobs, offset = {'__metadata__': METADATA}, [], 0
    for name in names:
        dtype, shape, values, fmt = TENSORS[name]
        b = tensor_bytes(dtype, values, fmt)
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if tamper:
        tamper(header)
    h = json.dumps(header).encode('utf-8')
    if pad_to:
        h += b' ' * ((pad_to - (8 + len(h)) % pad_to) % pad_to)
    return struct.pack('<Q', len(h)) + h + b''.join(blobs)


def write(name, data):
    (OUT / name).write_bytes(data)
    print(f'{name}: {len(data)} bytes')


def main():
    OUT.mkdir(exist_ok=True)
    # Header padded so the data starts at a multiple of 8; every tensor aligned to its element size.
    write('st_aligned.safetensors', build())
    # No header padding (some writers, e.g. MLX, do this): data starts at an odd offset; still valid.
    write('st_unpadded.safetensors', build(pad_to=0, order=['w.u8', 'w.f16', 'w.f32', 'scalar', 'empty', 'w.f64', 'w.i64', 'w.i32', 'w.bf16']))
    expect = {name: {'dtype': d, 'shape': s, 'values': [repr(float(v)) for v in vals]} for name, (d, s, vals, _f) in TENSORS.items()}
    (OUT / 'st_expected.json').write_text(json.dumps({'tensors': expect, 'metadata': METADATA}, indent=1) + '\n')
    # Bad files.
    good = build()
    write('st_bad_garbage_header.safetensors', struct.pack('<Q', 40) + b'\x00\x01garbage, not json at all......' + good[48:])
    write('st_bad_header_len.safetensors', struct.pack('<Q', 1 << 40) + good[8:])
    write('st_bad_header_misaligned_len.safetensors', struct.pack('<Q', struct.unpack('<Q', good[:8])[0] - 3) + good[8:])
    write('st_bad_truncated.safetensors', good[:-5])

    def overlap(h):
        h['w.f32']['data_offsets'] = [0, 24]

    write('st_bad_overlap.safetensors', build(tamper=overlap))

    def wrong_size(h):
        h['w.i32']['shape'] = [3]

    write('st_bad_size.safetensors', build(tamper=wrong_size))

    def bad_meta(h):
        h['__metadata__'] = {'n': 3}

    write('st_bad_metadata.safetensors', build(tamper=bad_meta))


if __name__ == '__main__':
    main()
