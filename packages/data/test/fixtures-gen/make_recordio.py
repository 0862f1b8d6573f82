#!/usr/bin/env python3
"""Writes tiny MXNet RecordIO sets with the standard library only, following MXNet's
recordio.pack (IRHeader 'IfQQ' + float32 labels when flag > 0) and dmlc-core's
RecordIOWriter::WriteRecord (split at 4-byte aligned magic occurrences, cflag 1/2/3, zero padding),
plus MXIndexedRecordIO's .idx ('%d\\t%d\\n' % (key, offset)) and an im2rec-style .lst.

Outputs (under ../fixtures/recordio/):
  insightface/train.{rec,idx,lst}  record 0 header [N, N+C], images 1..N-1, identity records
  plain/data.{rec,idx}             every record an image, label arrays (flag 2) on some
  expected.json                    what a reader must find: per key offset, header, image sha256

Run: python3 make_recordio.py   (deterministic; the outputs are committed)
"""
import hashlib
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'fixtures', 'recordio')
MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack('<I', MAGIC)


def pack(flag_labels, label, id_, id2, image):
    """MXNet recordio.pack: a label list sets flag = len(labels) and the scalar label to 0."""
    if flag_labels is None:
        head = struct.pack('<IfQQ', 0, label, id_, id2)
        return head + image
    head = struct.pack('<IfQQ', len(flag_labels), 0.0, id_, id2)
    return head + struct.pack('<%df' % len(flag_labels), *flag_labels) + image


def frame(buf):
    """dmlc RecordIOWriter::WriteRecord."""
    out = bytearray()
    n = len(buf)
    lower = (n >> 2) << 2
    upper = ((n + 3) >> 2) << 2
    dptr = 0
    for i in range(0, lower, 4):
        if buf[i:i + 4] == MAGIC_BYTES:
            cflag = 1 if dptr == 0 else 2
            out += MAGIC_BYTES + struct.pack('<I', (cflag << 29) | (i - dptr)) + buf[dptr:i]
            dptr = i + 4
    cflag = 3 if dptr != 0 else 0
    out += MAGIC_BYTES + struct.pack('<I', (cflag << 29) | (n - dptr)) + buf[dptr:n]
    out += b'\0' * (upper - n)
    return bytes(out)


def png(width, height, seed):
    """A valid 8-bit RGB PNG (zlib from the standard library)."""
    rows = b''
    for y in range(height):
        rows += b'\0' + bytes(((x * 31 + y * 17 + seed * 53) % 256) for x in range(width * 3))
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b'')


def jpeg_with_magic_comment(jpeg):
    """Inserts a COM segment right after SOI holding the RecordIO magic twice at 4-byte aligned
    positions of the record payload (24-byte header + image), so the writer must split it in 3 parts."""
    # payload offset of COM data = 24 + 2 (SOI) + 4 (FF FE + length) = 30; 2 filler bytes reach 32.
    data = b'ab' + MAGIC_BYTES + b'0123' + MAGIC_BYTES + b'tail'
    seg = b'\xff\xfe' + struct.pack('>H', len(data) + 2) + data
    return jpeg[:2] + seg + jpeg[2:]


class Writer:
    def __init__(self, stem):
        self.rec = open(stem + '.rec', 'wb')
        self.idx = open(stem + '.idx', 'w')
        self.records = []

    def write(self, key, payload, info):
        pos = self.rec.tell()
        framed = frame(payload)
        self.rec.write(framed)
        self.idx.write('%d\t%d\n' % (key, pos))
        info = dict(info, key=key, offset=pos, framed_bytes=len(framed), parts=framed.count(MAGIC_BYTES))
        self.records.append(info)

    def close(self):
        self.rec.close()
        self.idx.close()


def image_info(image, label, labels, id_, id2):
    return {'label': label, 'labels': labels, 'id': id_, 'id2': id2, 'image_bytes': len(image),
            'image_sha256': hashlib.sha256(image).hexdigest()}


def insightface(jpeg_a, jpeg_b):
    os.makedirs(os.path.join(OUT, 'insightface'), exist_ok=True)
    stem = os.path.join(OUT, 'insightface', 'train')
    # identity source labels 0,1,2 with 3,1,3 images (keys 1..7); identity records keys 8..10.
    images = [
        (0, jpeg_a), (0, png(5, 4, 1)), (0, jpeg_with_magic_comment(jpeg_b)),
        (1, png(3, 3, 2)),
        (2, jpeg_b), (2, png(7, 2, 3)), (2, jpeg_a + b'\0\0\0'),  # trailing zero padding after EOI
    ]
    n = 1 + len(images)
    counts = [sum(1 for l, _ in images if l == c) for c in range(3)]
    w = Writer(stem)
    lst = open(stem + '.lst', 'w')
    w.write(0, pack([float(n), float(n + 3)], 0, 0, 0, b''), {'kind': 'header', 'labels': [n, n + 3]})
    for i, (label, image) in enumerate(images):
        key = i + 1
        w.write(key, pack(None, float(label), key, 0, image), dict(image_info(image, label, [], key, 0), kind='image'))
        lst.write('%d\t%f\t%d/%d.jpg\n' % (key, label, label, key))
    start = 1
    for c, cnt in enumerate(counts):
        w.write(n + c, pack([float(start), float(start + cnt)], 0, 0, 0, b''), {'kind': 'identity', 'labels': [start, start + cnt]})
        start += cnt
    w.close()
    lst.close()
    return w.records


def plain(jpeg_a, jpeg_b):
    os.makedirs(os.path.join(OUT, 'plain'), exist_ok=True)
    stem = os.path.join(OUT, 'plain', 'data')
    w = Writer(stem)
    # Non-contiguous source labels 40/7/40/13, keys not starting at 0, one label array record.
    recs = [(10, 40.0, None, jpeg_a), (11, 7.0, None, png(4, 4, 9)), (12, None, [40.0, 0.5], jpeg_b), (13, 13.0, None, png(2, 6, 4))]
    for key, label, labels, image in recs:
        primary = labels[0] if labels else label
        w.write(key, pack(labels, label or 0.0, key, 1000 + key, image),
                dict(image_info(image, primary, labels or [], key, 1000 + key), kind='image'))
    w.close()
    return w.records


def main():
    with open(os.path.join(HERE, 'tiny-a.jpg'), 'rb') as f:
        jpeg_a = f.read()
    with open(os.path.join(HERE, 'tiny-b.jpg'), 'rb') as f:
        jpeg_b = f.read()
    expected = {'insightface': insightface(jpeg_a, jpeg_b), 'plain': plain(jpeg_a, jpeg_b)}
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
