"""Check every checksum of a UDIF image, as ``hdiutil verify`` does.

- data fork: CRC32 of the data fork bytes (koly.dataChecksum);
- each partition: CRC32 of its expanded bytes, skipping ``ignore`` chunks
  (mish checksum; an all-ignore partition has CRC 0);
- master: CRC32 of the per-partition CRC32 values, each as 4 big-endian
  bytes, in blkx order (koly.masterChecksum).
The rules are docs/formats.md §2.5, confirmed against shared/corpus/hdiutil.
A chunk that does not decode is reported with its partition and index.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import CorruptError
from .checksum import crc32_zeros
from .koly import SECTOR
from .mish import CHUNK_COMMENT, CHUNK_IGNORE, CHUNK_TERMINATOR, CHUNK_ZERO

# Bytes of the data fork checksummed at a time.
_STEP = 1 << 20

if TYPE_CHECKING:
    from ..progress import ProgressCallback
    from .reader import Partition, UDIFImage

@dataclass
class Check:
    what: str            # "data fork", "partition", "master"
    name: str
    expected: int | None
    actual: int | None
    ok: bool
    problem: str = ""

    def to_json(self) -> dict:
        return {"what": self.what, "name": self.name,
                "expected": None if self.expected is None else f"{self.expected:08x}",
                "actual": None if self.actual is None else f"{self.actual:08x}",
                "ok": self.ok, "problem": self.problem}


@dataclass
class VerifyResult:
    path: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def problems(self) -> list[str]:
        out = []
        for c in self.checks:
            if not c.ok:
                detail = c.problem or (f"CRC32 {c.actual:08x}, expected {c.expected:08x}")
                out.append(f"{self.path}: {c.what} {c.name}: {detail}")
        return out

    def to_json(self) -> dict:
        return {"path": self.path, "ok": self.ok, "checks": [c.to_json() for c in self.checks]}


def partition_crc32(image: UDIFImage, part: Partition) -> int:
    """CRC32 of a partition's expanded bytes without its ignore chunks.

    Raises CorruptError naming the chunk that does not decode.
    """
    crc = 0
    pos = 0  # sectors covered so far; gaps between chunks count as zeros
    for i, c in enumerate(part.table.chunks):
        if c.type in (CHUNK_TERMINATOR, CHUNK_COMMENT) or c.sector_count == 0:
            continue
        if c.sector > pos:
            crc = crc32_zeros(crc, (c.sector - pos) * SECTOR)
        pos = c.sector + c.sector_count
        if c.type == CHUNK_IGNORE:
            continue
        if c.type == CHUNK_ZERO:
            crc = crc32_zeros(crc, c.sector_count * SECTOR)
        else:
            crc = zlib.crc32(image.read_chunk(part, i), crc)
    if part.sector_count > pos:
        crc = crc32_zeros(crc, (part.sector_count - pos) * SECTOR)
    return crc


def verify_image(image: UDIFImage, progress: ProgressCallback | None = None) -> VerifyResult:
    """Every CRC of the image; ``progress(label, done, total)`` after each
    partition."""
    result = VerifyResult(str(image.path))
    steps, done = len(image.partitions) + 1, 0
    label = f"verify {Path(str(image.path)).name}"
    koly = image.koly

    # Data fork.
    expected = koly.data_crc32
    crc = 0
    pos = koly.data_fork_offset
    end = koly.data_fork_offset + koly.data_fork_length
    while pos < end:
        n = min(_STEP, end - pos)
        crc = zlib.crc32(image.pread(pos, n), crc)
        pos += n
    if expected is None:
        result.checks.append(Check("data fork", "", None, crc, True,
                                   f"no CRC32 stored (type {koly.data_checksum_type})"))
    else:
        result.checks.append(Check("data fork", "", expected, crc, crc == expected))
    done += 1
    if progress:
        progress(label, done, steps)

    # Partitions.
    stored = []
    for part in image.partitions:
        want = part.table.crc32
        stored.append(struct.pack(">I", want if want is not None else 0))
        try:
            got = partition_crc32(image, part)
        except CorruptError as exc:
            result.checks.append(Check("partition", part.label, want, None, False,
                                       exc.where + ": " + exc.problem))
            continue
        if want is None:
            result.checks.append(Check("partition", part.label, None, got, True,
                                       f"no CRC32 stored (type {part.table.checksum_type})"))
        else:
            result.checks.append(Check("partition", part.label, want, got, got == want))
        done += 1
        if progress:
            progress(label, done, steps)

    # Master: over the stored per-partition values (what hdiutil writes).
    master = koly.master_crc32
    got = zlib.crc32(b"".join(stored))
    if master is None:
        result.checks.append(Check("master", "", None, got, True,
                                   f"no CRC32 stored (type {koly.master_checksum_type})"))
    else:
        result.checks.append(Check("master", "", master, got, got == master))
    return result
