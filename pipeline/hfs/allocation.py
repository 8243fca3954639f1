"""Block allocation of an HFS+ volume: how many blocks it has, the
allocation bitmap, and the volume id.

Everything is allocated contiguously (the writer places every fork in one
extent), so the bitmap is one used run from block 0, free space, and the
last block (the alternate volume header).
"""

from __future__ import annotations

import hashlib
import struct
from typing import TYPE_CHECKING, Sequence

from deflate import crc32   # libdeflate: the same CRC-32 as zlib, several times faster

from ..errors import InputError
from .output import Payload, file_chunks
from .spill import SpilledBytes
from .structs import ForkData

if TYPE_CHECKING:
    from ..progress import ProgressCallback

# A volume never shrinks below this, however little it holds.
MIN_VOLUME_SIZE = 1 << 20


def blocks_for(n: int, block_size: int) -> int:
    return -(-n // block_size)


def volume_blocks(fixed: int, block_size: int, *, size: int | None, headroom_bytes: int,
                  headroom_percent: int) -> tuple[int, int]:
    """(total blocks, bitmap blocks) for ``fixed`` blocks of content.

    The bitmap's own size depends on the total: with headroom the two are
    grown together until they agree; with a fixed ``size`` the content and
    its bitmap must fit.
    """
    bs = block_size
    if size is not None:
        if size % bs:
            raise InputError(f"size {size}: must be a multiple of {bs} bytes")
        total = size // bs
        bitmap_blocks = blocks_for(-(-total // 8), bs)
        if fixed + bitmap_blocks > total:
            raise InputError(f"size {size}: too small; the content needs at least "
                             f"{(fixed + blocks_for(-(-(fixed + 1) // 8), bs)) * bs} bytes")
    else:
        extra = blocks_for(headroom_bytes + fixed * bs * headroom_percent // 100, bs)
        bitmap_blocks = 1
        while True:
            total = max(fixed + bitmap_blocks + extra, MIN_VOLUME_SIZE // bs)
            need = blocks_for(-(-total // 8), bs)
            if need == bitmap_blocks:
                break
            bitmap_blocks = need
    if total > 0xFFFFFFFF:
        raise InputError("volume too large for 32-bit allocation block numbers")
    return total, bitmap_blocks


def allocation_bitmap(bitmap_blocks: int, block_size: int, used_end: int, total: int) -> bytes:
    """Blocks 0 to ``used_end`` - 1 and the last block used, the rest free."""
    bitmap = bytearray(bitmap_blocks * block_size)
    _set_bits(bitmap, 0, used_end)
    _set_bits(bitmap, total - 1, 1)
    return bytes(bitmap)


def contiguous_fork(start: int, length: int, block_size: int, clump: int = 0) -> ForkData:
    n = blocks_for(length, block_size)
    return ForkData(length, max(length, clump), n, [(start, n)] + [(0, 0)] * 7)


def volume_id(header: bytes, segments: Sequence[tuple[int, Payload]],
              progress: ProgressCallback | None = None) -> tuple[int, int]:
    """finderInfo[6..7]: a hash of everything else in the volume
    (docs/formats.md §1.2), never a clock or a random number."""
    digest = hashlib.sha256()
    digest.update(header)
    for done, (start, payload) in enumerate(segments, 1):
        digest.update(struct.pack(">Q", start))
        _hash_payload(digest, payload)
        if progress is not None:
            progress("hfs: hashing content", done, len(segments))
    return struct.unpack(">II", digest.digest()[:8])


def _set_bits(bitmap: bytearray, start: int, count: int) -> None:
    """Mark blocks start..start+count-1 used (MSB of byte 0 is block 0)."""
    end = start + count
    while start < end and start & 7:
        bitmap[start >> 3] |= 0x80 >> (start & 7)
        start += 1
    full_end = end & ~7
    if start < full_end:
        bitmap[start >> 3:full_end >> 3] = b"\xff" * ((full_end - start) >> 3)
        start = full_end
    while start < end:
        bitmap[start >> 3] |= 0x80 >> (start & 7)
        start += 1


def _hash_payload(digest, payload: Payload) -> None:
    """Feed one segment into the volume-id digest.

    Metadata goes in whole.  A fork goes in as its size and CRC-32: the id
    only has to change when the content does, and this pass runs before the
    first byte of the volume can be written, so it must not cost a second
    SHA-256 of every file (libdeflate's CRC-32 runs at memory speed).
    """
    if isinstance(payload, (bytes, bytearray)):
        digest.update(payload)
        return
    if isinstance(payload, SpilledBytes):
        for chunk in payload.chunks():
            digest.update(chunk)
        return
    if payload.data is not None:
        digest.update(struct.pack(">QI", len(payload.data), crc32(payload.data)))
        return
    crc = 0
    for chunk in file_chunks(payload):
        crc = crc32(chunk, crc)
    digest.update(struct.pack(">QI", payload.size, crc))
