"""Writes small ZIP archives for the zip reader's tests (run: python3 make_zips.py).

zipfile writes the ordinary ones; the ZIP64 one is laid out by hand with struct, because zipfile
only switches to ZIP64 records for archives over 4 GiB.
"""
import io
import pathlib
import struct
import zipfile
import zlib

OUT = pathlib.Path(__file__).resolve().parent.parent / 'fixtures'
WHEN = (2024, 1, 1, 0, 0, 0)
TEXT = b'facecoreset ' * 200


def write(name, data):
    (OUT / name).write_bytes(data)
    print(f'{name}: {len(data)} bytes')


def normal(method, **kw):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        for name, data in (('a/stored.txt', b'hello\n'), ('a/text.txt', TEXT), ('empty', b'')):
            info = zipfile.ZipInfo(name, date_time=WHEN)
            info.compress_type = method
            z.writestr(info, data, **kw)
    return buf.getvalue()


def zip64_by_hand():
    """One stored entry whose sizes and offset live in ZIP64 extra fields, plus ZIP64 end records."""
    name, data = b'big/entry.bin', bytes(range(256)) * 3
    crc = zlib.crc32(data)
    # Local header: sizes 0xffffffff, real values in a ZIP64 extra (id 1) with both sizes.
    lextra = struct.pack('<HHQQ', 1, 16, len(data), len(data))
    local = struct.pack('<IHHHHHIIIHH', 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(lextra)) + name + lextra
    body = local + data
    cd_offset = len(body)
    # Central entry: sizes and local header offset all 0xffffffff; extra holds size, csize, offset.
    cextra = struct.pack('<HHQQQ', 1, 24, len(data), len(data), 0)
    central = struct.pack('<IHHHHHHIIIHHHHHII', 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + name + cextra
    z64_offset = cd_offset + len(central)
    z64 = struct.pack('<IQHHIIQQQQ', 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(central), cd_offset)
    locator = struct.pack('<IIQI', 0x07064B50, 0, z64_offset, 1)
    eocd = struct.pack('<IHHHHIIH', 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + central + z64 + locator + eocd


def main():
    OUT.mkdir(exist_ok=True)
    write('zip_stored.zip', normal(zipfile.ZIP_STORED))
    write('zip_deflate.zip', normal(zipfile.ZIP_DEFLATED))
    write('zip_bzip2.zip', normal(zipfile.ZIP_BZIP2))
    write('zip_zip64.zip', zip64_by_hand())
    # Corruptions of the deflate archive: one flipped data byte (CRC), a central header signature.
    good = bytearray(normal(zipfile.ZIP_STORED))
    i = good.index(b'hello')
    bad = bytearray(good)
    bad[i] ^= 0x20
    write('zip_bad_crc.zip', bytes(bad))
    bad = bytearray(good)
    j = bad.index(struct.pack('<I', 0x02014B50))
    bad[j] = 0
    write('zip_bad_central.zip', bytes(bad))


if __name__ == '__main__':
    main()
