"""Apple's icon container (.icns): a big-endian ``icns`` header, then
entries of (4-byte type, big-endian length including these 8 bytes, data).

Written here with PNG entries only, the types macOS 10.7 and later read as
PNG (Apple's "Icon Services" types; the table is below).  Read: every
entry's type and bytes, with every length checked against the file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import CorruptError

ICNS_MAGIC = b"icns"
HEADER = struct.Struct(">4sI")
MAX_ENTRIES = 256

# type -> (pixels on a side, scale): the PNG-carrying types.
ICNS_PNG_TYPES = {
    b"icp4": (16, 1), b"icp5": (32, 1), b"icp6": (64, 1),
    b"ic07": (128, 1), b"ic08": (256, 1), b"ic09": (512, 1),
    b"ic11": (32, 2), b"ic12": (64, 2), b"ic13": (256, 2), b"ic14": (512, 2),
    b"ic10": (1024, 2),
}


@dataclass(frozen=True)
class IcnsEntry:
    type: bytes
    data: bytes


def write_icns(entries: list[IcnsEntry]) -> bytes:
    """The file: entries in the given order (callers sort them)."""
    body = b"".join(HEADER.pack(e.type, HEADER.size + len(e.data)) + e.data for e in entries)
    return HEADER.pack(ICNS_MAGIC, HEADER.size + len(body)) + body


def read_icns(data: bytes, path: str = "<icns>") -> list[IcnsEntry]:
    """The entries of an .icns file; a length that does not fit is an error
    naming the entry and its offset."""
    if len(data) < HEADER.size:
        raise CorruptError(path, "icns header", "shorter than 8 bytes", 0)
    magic, total = HEADER.unpack_from(data, 0)
    if magic != ICNS_MAGIC:
        raise CorruptError(path, "icns header", f"magic {magic!r} is not 'icns'", 0)
    if not HEADER.size <= total <= len(data):
        raise CorruptError(path, "icns header.length", f"{total} does not fit the "
                           f"{len(data)}-byte file", 4)
    out = []
    pos = HEADER.size
    while pos < total:
        if pos + HEADER.size > total or len(out) >= MAX_ENTRIES:
            raise CorruptError(path, f"icns entry {len(out)}", "truncated or too many entries", pos)
        kind, length = HEADER.unpack_from(data, pos)
        if length < HEADER.size or pos + length > total:
            raise CorruptError(path, f"icns entry {kind!r}.length", f"{length} does not fit",
                               pos + 4)
        out.append(IcnsEntry(kind, data[pos + HEADER.size:pos + length]))
        pos += length
    return out
