"""Free allocation blocks of an HFS+ volume, as byte ranges.

The UDIF writer stores these ranges as ``ignore`` chunks, as hdiutil does
(docs/formats.md §2.3): blocks clear in the allocation bitmap hold nothing a
reader may look at.
"""

from __future__ import annotations

import re

from ..errors import CorruptError
from ..imagesource import ImageSource
from .structs import CNID_ALLOCATION, VolumeHeader
from .volume import OverflowLookup, fork_byte_runs, fork_extents, read_volume_header

# Bitmap bytes are scanned in slices of this size: memory stays bounded for
# any volume size.
_SLICE = 1 << 20
# Runs of whole free bytes, whole used bytes, or a single mixed byte.
_RUNS = re.compile(rb"\x00+|\xff+|[\x01-\xfe]", re.S)


# Free runs inside one bitmap byte, (first bit, bit count), MSB = bit 0.
_BYTE_RUNS = tuple(
    tuple((m.start(), m.end() - m.start())
          for m in re.finditer("0+", format(value, "08b")))
    for value in range(256))


def free_byte_ranges(source: ImageSource, name: str,
                     min_bytes: int = 0) -> list[tuple[int, int]] | None:
    """Sorted, merged (byte_offset, byte_length) ranges of free allocation blocks,
    leaving out ranges shorter than ``min_bytes``.

    None when ``source`` holds no HFS+/HFSX volume header at byte 1024.
    Byte k of the bitmap covers blocks 8k..8k+7, most significant bit first
    (TN1150 "Allocation File"); bits past totalBlocks are ignored.  Short
    runs are dropped as soon as they end, so a hostile bitmap of alternating
    bits cannot grow the list beyond the volume size / ``min_bytes``.
    """
    vh = read_volume_header(source, name)
    if vh is None:
        return None
    bs = vh.blockSize
    total = vh.totalBlocks
    needed = (total + 7) // 8
    extents = fork_extents(vh.allocationFile, vh, name, "volume header.allocationFile",
                           CNID_ALLOCATION, overflow=_overflow_for(source, name, vh))
    free_blocks: list[list[int]] = []   # [start, count] block runs, merged
    min_blocks = -(-min_bytes // bs)

    def add(start: int, count: int) -> None:
        if start >= total:
            return
        count = min(count, total - start)
        if free_blocks and free_blocks[-1][0] + free_blocks[-1][1] == start:
            free_blocks[-1][1] += count
            return
        if free_blocks and free_blocks[-1][1] < min_blocks:
            free_blocks.pop()                # the previous run ended short
        free_blocks.append([start, count])

    byte_index = 0
    for offset, length in fork_byte_runs(extents, bs, needed):
        pos = 0
        while pos < length:
            n = min(_SLICE, length - pos)
            chunk = source.read(offset + pos, n)
            for m in _RUNS.finditer(chunk):
                first = m.group()[0]
                block = (byte_index + m.start()) * 8
                if first == 0:
                    add(block, (m.end() - m.start()) * 8)
                elif first != 0xFF:
                    for bit, count in _BYTE_RUNS[first]:
                        add(block + bit, count)
            byte_index += n
            pos += n
    if byte_index < needed:
        raise CorruptError(name, "volume header.allocationFile",
                           f"bitmap extents hold {byte_index} bytes, {needed} needed")
    return [(start * bs, count * bs) for start, count in free_blocks if count >= min_blocks]


def _overflow_for(source: ImageSource, name: str, vh: VolumeHeader) -> OverflowLookup:
    """Extents-overflow lookup for the allocation file (rarely needed)."""
    loaded = []

    def lookup(file_id: int, fork_type: int, start_block: int) -> list[tuple[int, int]]:
        if not loaded:       # deferred: only fragmented bitmaps need the B-tree
            from .reader import ExtentsOverflow
            loaded.append(ExtentsOverflow(source, name, vh))
        return loaded[0].lookup(file_id, fork_type, start_block)
    return lookup
