"""Free allocation blocks of an HFS+ volume, as byte ranges.

The UDIF writer stores these ranges as ``ignore`` chunks, as hdiutil does
(FORMATS.md 2.3): blocks clear in the allocation bitmap hold nothing a
reader may look at.
"""

from __future__ import annotations

import re

from ..errors import CorruptError
from ..imagesource import ImageSource
from .structs import CNID_ALLOCATION
from .volume import fork_byte_runs, fork_extents, read_volume_header

# Bitmap bytes are scanned in slices of this size: memory stays bounded for
# any volume size.
_SLICE = 1 << 20
# Runs of whole free bytes, whole used bytes, or a single mixed byte.
_RUNS = re.compile(rb"\x00+|\xff+|[\x01-\xfe]", re.S)


def free_byte_ranges(source: ImageSource, name: str) -> list[tuple[int, int]] | None:
    """Sorted, merged (byte_offset, byte_length) ranges of free allocation blocks.

    None when ``source`` holds no HFS+/HFSX volume header at byte 1024.
    Byte k of the bitmap covers blocks 8k..8k+7, most significant bit first
    (TN1150 "Allocation File"); bits past totalBlocks are ignored.
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

    def add(start: int, count: int) -> None:
        if start >= total:
            return
        count = min(count, total - start)
        if free_blocks and free_blocks[-1][0] + free_blocks[-1][1] == start:
            free_blocks[-1][1] += count
        else:
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
                    for bit in range(8):
                        if not first & (0x80 >> bit):
                            add(block + bit, 1)
            byte_index += n
            pos += n
    if byte_index < needed:
        raise CorruptError(name, "volume header.allocationFile",
                           f"bitmap extents hold {byte_index} bytes, {needed} needed")
    return [(start * bs, count * bs) for start, count in free_blocks]


def _overflow_for(source: ImageSource, name: str, vh):
    """Extents-overflow lookup for the allocation file (rarely needed)."""
    def lookup(file_id: int, fork_type: int, start_block: int) -> list[tuple[int, int]]:
        from .reader import ExtentsOverflow  # deferred: only fragmented bitmaps need it
        return ExtentsOverflow(source, name, vh).lookup(file_id, fork_type, start_block)
    return lookup
