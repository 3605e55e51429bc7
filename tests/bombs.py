"""Small files that expand to large ones, built without ever holding the large one: a torch checkpoint whose zip
member inflates to gigabytes of zeros."""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zlib

import torch

CHUNK = 64 << 20


def checkpoint_bomb(key: str, elements: int) -> bytes:
    """A torch.save archive holding one float32 tensor `key` of `elements` zeros, its data deflated: torch.load
    inflates it to 4 x `elements` bytes from a file of about a thousandth of that."""
    marker = object()

    class Rebuild:
        def __reduce__(self) -> tuple[object, ...]:
            return (torch._utils._rebuild_tensor_v2, (marker, 0, (elements,), (1,), False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:  # torch.save's reference to a storage in the archive
            return ("storage", torch.FloatStorage, "0", "cpu", elements) if obj is marker else None

    pickled = io.BytesIO()
    Pickler(pickled, protocol=2).dump({key: Rebuild()})
    size = 4 * elements
    assert size % CHUNK == 0
    zeros = bytes(CHUNK)
    # After a full flush deflate starts afresh, so each chunk compresses to the same bytes: repeat them.
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = segment * (size // CHUNK) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(size // CHUNK):
        crc = zlib.crc32(zeros, crc)
    members = [
        ("archive/data.pkl", 0, pickled.getvalue(), None),
        ("archive/byteorder", 0, b"little", None),
        ("archive/version", 0, b"3\n", None),
        ("archive/data/0", 8, stream, (crc, size)),
    ]
    return _zip64(members)


def _zip64(members: list[tuple[str, int, bytes, tuple[int, int] | None]]) -> bytes:
    """A zip64 archive of (name, method, stored bytes, (crc, inflated size) or None for stored members)."""
    body, central = io.BytesIO(), io.BytesIO()
    for name, method, data, inflated in members:
        crc, size = inflated if inflated is not None else (zlib.crc32(data), len(data))
        offset, raw = body.tell(), name.encode()
        extra = struct.pack("<HHQQ", 1, 16, size, len(data))
        body.write(
            struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0, crc, 2**32 - 1, 2**32 - 1, len(raw), 20)
        )
        body.write(raw + extra + data)
        extra = struct.pack("<HHQQQ", 1, 24, size, len(data), offset)
        head = (0x02014B50, 45, 45, 0, method, 0, 0, crc, 2**32 - 1, 2**32 - 1, len(raw), 28, 0, 0, 0, 0, 2**32 - 1)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", *head) + raw + extra)
    start, directory = body.tell(), central.getvalue()
    body.write(directory)
    end = body.tell()
    count = len(members)
    body.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(directory), start))
    body.write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
    body.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 2**32 - 1, 2**32 - 1, 0))
    return body.getvalue()
