"""Open a .dmg, check every structure against the file, and read it.

``open_udif(path)`` parses the koly trailer, the property list and every
mish table, and checks each offset, length and sector range against the
file and against sane bounds *before* anything is allocated or read, so a
hostile file can only produce a ``CorruptError`` / ``UnsupportedError``.
The image is then readable through ``ImageSource`` views: one per
partition, or the whole expanded disk, with random access through the
chunk tables.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorruptError, InputError, UnsupportedError
from ..codecs import CodecError
from .container import Container, open_container
from .formats import decode_chunk
from .koly import KOLY_MAGIC, KOLY_SIZE, SECTOR, Koly
from .mish import (CHUNK_COMMENT, CHUNK_IGNORE, CHUNK_NAMES, CHUNK_RAW, CHUNK_SIZE,
                   CHUNK_TERMINATOR, CHUNK_ZERO, MISH_MAGIC, MISH_SIZE, NO_DATA_CHUNKS,
                   BlkxTable)
from .resources import MAX_PLIST, ResourceError, ResourceFork

# QEMU's bounds (block/dmg.c): no chunk expands to more than 64 MiB.  A
# compressed chunk may be a little larger than its data (incompressible
# input): allow 1/8 plus 64 KiB on top.
MAX_CHUNK_BYTES = 64 << 20
MAX_COMPRESSED_BYTES = MAX_CHUNK_BYTES + (MAX_CHUNK_BYTES >> 3) + (64 << 10)
MAX_SECTORS = 1 << 48          # 128 PiB: far beyond any disk image
MAX_PARTITIONS = 4096
CACHE_CHUNKS = 4               # decoded chunks kept per image (random access)

# A DMG's signature holds a few CodeDirectories and a CMS: kilobytes.
MAX_CODE_SIGNATURE = 16 << 20


@dataclass
class Partition:
    """One blkx entry: a run of sectors of the expanded disk."""
    index: int                 # position in the blkx array
    id: int
    name: str
    table: BlkxTable
    attributes: str = "0x0050"
    cfname: str | None = None
    # Random-access index: (first sector, chunk index) of the chunks that
    # cover sectors, and their first sectors alone (for bisect).
    _chunks: list[tuple[int, int]] = field(default_factory=list, repr=False)
    _starts: list[int] = field(default_factory=list, repr=False)

    @property
    def first_sector(self) -> int:
        return self.table.first_sector

    @property
    def sector_count(self) -> int:
        return self.table.sector_count

    @property
    def size(self) -> int:
        return self.table.sector_count * SECTOR

    @property
    def label(self) -> str:
        return f"blkx[{self.index}] {self.name!r}"


# Declared expansion of data chunks against the data fork: zlib tops out
# near 1:1000, bzip2 and LZMA reach a few 1:10000 on nearly empty chunks;
# zero runs are zero-fill chunks and do not count.
EXPANSION_ENV = "REPRODMG_MAX_EXPANSION_RATIO"
DEFAULT_EXPANSION_RATIO = 50_000
MIN_EXPANSION_LIMIT = 1 << 30


def max_expansion_ratio() -> int:
    value = os.environ.get(EXPANSION_ENV)
    if value is None:
        return DEFAULT_EXPANSION_RATIO
    try:
        ratio = int(value)
    except ValueError:
        raise InputError(f"{EXPANSION_ENV}={value!r}: not a whole number") from None
    if ratio < 1:
        raise InputError(f"{EXPANSION_ENV}={value!r}: must be at least 1")
    return ratio


def _where_chunk(part: Partition, i: int) -> str:
    return f"{part.label} chunk {i}"


class UDIFImage:
    """A parsed, checked UDIF image.  Use ``open_udif``."""

    def __init__(self, path: str | os.PathLike, *, passphrase: bytes | None = None,
                 container: "Container | None" = None) -> None:
        self.path = Path(path)
        if container is None and not self.path.exists() and not self.path.is_symlink():
            raise InputError(f"{self.path}: no such file")
        # Sparse bundles, sparse images and encrypted images are unwrapped
        # first (pipeline.udif.container); what they hold is read as UDIF.
        self.container = container or open_container(self.path, passphrase=passphrase)
        try:
            self.file_size = self.container.size
            self._parse()
        except BaseException:
            self.container.close()
            raise
        self._cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    # -- parsing ---------------------------------------------------------

    def pread(self, offset: int, length: int) -> bytes:
        """Bytes of the image file itself (not the expanded disk).

        Callers bound ``length`` first (every structure size is checked
        against the file and a limit before it is read).
        """
        data = self.container.pread(offset, length)
        if len(data) != length:
            raise CorruptError(self.path, "file", f"short read of {length} bytes", offset)
        return data

    def _corrupt(self, where: str, problem: str, offset: int | None = None) -> CorruptError:
        return CorruptError(self.path, where, problem, offset)

    def _parse(self) -> None:
        size = self.file_size
        if size < KOLY_SIZE:
            raise self._corrupt("koly", f"file of {size} bytes is too small for a UDIF trailer")
        koly_at = size - KOLY_SIZE
        koly = Koly.parse(self.pread(koly_at, KOLY_SIZE))
        if koly.signature != KOLY_MAGIC:
            raise self._corrupt("koly.signature", f"{koly.signature!r} is not 'koly': "
                                "not a UDIF (.dmg) image", koly_at)
        if koly.header_size != KOLY_SIZE:
            raise self._corrupt("koly.headerSize", f"{koly.header_size}, expected 512", koly_at + 8)
        if koly.segment_count > 1 or koly.segment_number > 1:
            raise UnsupportedError(f"{self.path}: segment {koly.segment_number} of "
                                   f"{koly.segment_count}: segmented images are not supported")
        if koly.data_fork_offset + koly.data_fork_length > koly_at:
            raise self._corrupt("koly.dataForkLength",
                                f"data fork {koly.data_fork_offset}+{koly.data_fork_length} "
                                f"runs past the trailer at {koly_at}", koly_at + 32)
        if koly.xml_length == 0:
            raise UnsupportedError(f"{self.path}: no XML property list (a resource-fork-only "
                                   "UDIF from before Mac OS X 10.2); not supported")
        if koly.xml_length > MAX_PLIST:
            raise self._corrupt("koly.xmlLength", f"{koly.xml_length} bytes exceeds the "
                                f"{MAX_PLIST}-byte bound", koly_at + 224)
        if koly.xml_offset + koly.xml_length > koly_at:
            raise self._corrupt("koly.xmlOffset", f"property list {koly.xml_offset}+"
                                f"{koly.xml_length} runs past the trailer at {koly_at}",
                                koly_at + 216)
        if koly.sector_count > MAX_SECTORS:
            raise self._corrupt("koly.sectorCount", f"{koly.sector_count} sectors is beyond "
                                "any disk image", koly_at + 492)
        self.koly = koly
        # Notes on what was tolerated, for the command line to show once.
        self.warnings: list[str] = []
        # libdmg-hfsplus writes sectorCount 0; the tables then say how big
        # the disk is (as 7-Zip and dmg2img read such images).
        self._sector_limit = koly.sector_count or MAX_SECTORS
        try:
            self.resources = ResourceFork.parse(self.pread(koly.xml_offset, koly.xml_length))
        except ResourceError as exc:
            raise self._corrupt("property list", str(exc), koly.xml_offset) from None
        if len(self.resources.blkx) > MAX_PARTITIONS:
            raise self._corrupt("property list", f"{len(self.resources.blkx)} blkx entries",
                                koly.xml_offset)
        self.partitions = [self._parse_blkx(i, e) for i, e in enumerate(self.resources.blkx)]
        self._check_partition_layout()
        self._check_amplification()
        self.disk_sectors = koly.sector_count
        if koly.sector_count == 0 and self.partitions:
            self.disk_sectors = max(p.first_sector + p.sector_count for p in self.partitions)
            self.warnings.append(f"{self.path}: koly.sectorCount is 0 (as libdmg-hfsplus "
                                 f"writes it); the disk's {self.disk_sectors} sectors are "
                                 "taken from the partition tables")

    def _parse_blkx(self, index: int, entry) -> Partition:
        data = entry.data
        where = f"blkx[{index}] {entry.name!r} mish"
        if len(data) < MISH_SIZE:
            raise self._corrupt(where, f"{len(data)} bytes, shorter than the "
                                f"{MISH_SIZE}-byte header")
        table, nchunks = BlkxTable.parse_header(data)
        if table.signature != MISH_MAGIC:
            raise self._corrupt(where + ".signature", f"{table.signature!r} is not 'mish'")
        if MISH_SIZE + nchunks * CHUNK_SIZE > len(data):
            raise self._corrupt(where + ".numberOfBlockChunks",
                                f"{nchunks} chunks need {MISH_SIZE + nchunks * CHUNK_SIZE} "
                                f"bytes, the table has {len(data)}")
        table = BlkxTable.parse(data)
        part = Partition(index, entry.id, entry.name, table, entry.attributes, entry.cfname)
        koly = self.koly
        if table.first_sector + table.sector_count > self._sector_limit:
            raise self._corrupt(where, f"sectors {table.first_sector}+{table.sector_count} "
                                f"run past the image's {self._sector_limit} sectors")
        fork_start = koly.data_fork_offset
        fork_end = koly.data_fork_offset + koly.data_fork_length
        base = fork_start + table.data_offset
        next_sector = 0
        for i, c in enumerate(table.chunks):
            cw = _where_chunk(part, i)
            if c.type not in CHUNK_NAMES:
                raise self._corrupt(cw, f"unknown chunk type {c.type:#010x}")
            if c.type in (CHUNK_TERMINATOR, CHUNK_COMMENT):
                continue
            if c.sector < next_sector:
                raise self._corrupt(cw, f"starts at sector {c.sector}, overlapping the "
                                    f"previous chunk (ends at {next_sector})")
            if c.sector + c.sector_count > table.sector_count:
                raise self._corrupt(cw, f"sectors {c.sector}+{c.sector_count} run past the "
                                    f"partition's {table.sector_count} sectors")
            next_sector = c.sector + c.sector_count
            if c.type in NO_DATA_CHUNKS:
                continue
            if c.sector_count * SECTOR > MAX_CHUNK_BYTES:
                raise self._corrupt(cw, f"{c.sector_count} sectors exceeds the "
                                    f"{MAX_CHUNK_BYTES}-byte chunk bound")
            if c.length > MAX_COMPRESSED_BYTES:
                raise self._corrupt(cw, f"compressed length {c.length} exceeds the bound")
            if c.type == CHUNK_RAW and c.length != c.sector_count * SECTOR:
                raise self._corrupt(cw, f"raw chunk of {c.sector_count} sectors stores "
                                    f"{c.length} bytes")
            start = base + c.offset
            if start < fork_start or start + c.length > fork_end:
                raise self._corrupt(cw, f"bytes {start}+{c.length} lie outside the data "
                                    f"fork {fork_start}..{fork_end}", start)
        # Index for random access: starts of the sector-carrying chunks.
        part._chunks = [(c.sector, i) for i, c in enumerate(table.chunks)
                        if c.type not in (CHUNK_TERMINATOR, CHUNK_COMMENT) and c.sector_count]
        part._starts = [s for s, _ in part._chunks]
        return part

    def _check_amplification(self) -> None:
        """Work must follow the file: every chunk's compressed bytes are its
        own (a table listing the same bytes many times would make readers
        expand them again and again), and what the data chunks declare
        expands to at most ``max_expansion_ratio()`` times the data fork
        (with a floor of 1 GiB)."""
        spans = []
        expanded = 0
        for part in self.partitions:
            base = self.koly.data_fork_offset + part.table.data_offset
            for i, c in enumerate(part.table.chunks):
                if c.type in NO_DATA_CHUNKS or c.type in (CHUNK_TERMINATOR, CHUNK_COMMENT) \
                        or not c.length:
                    continue
                spans.append((base + c.offset, base + c.offset + c.length, part, i))
                expanded += c.sector_count * SECTOR
        spans.sort(key=lambda s: (s[0], s[1]))
        for (a0, a1, pa, ia), (b0, _b1, pb, ib) in zip(spans, spans[1:]):
            if b0 < a1:
                raise self._corrupt(_where_chunk(pb, ib), f"its compressed bytes at {b0} "
                                    f"overlap those of {_where_chunk(pa, ia)} ({a0}..{a1}): "
                                    "a table that expands the same data again", b0)
        ratio = max_expansion_ratio()
        limit = max(MIN_EXPANSION_LIMIT, ratio * self.koly.data_fork_length)
        if expanded > limit:
            raise self._corrupt("block tables", f"the data chunks declare {expanded} expanded "
                                f"bytes, more than {ratio} times the {self.koly.data_fork_length}"
                                f"-byte data fork (set {EXPANSION_ENV} to allow more)")

    def _check_partition_layout(self) -> None:
        ordered = sorted(self.partitions, key=lambda p: p.first_sector)
        end = 0
        for p in ordered:
            if p.sector_count and p.first_sector < end:
                raise self._corrupt(p.label, f"sectors {p.first_sector}+{p.sector_count} "
                                    "overlap another partition")
            end = max(end, p.first_sector + p.sector_count)
        self._ordered = [p for p in ordered if p.sector_count]
        self._ordered_starts = [p.first_sector for p in self._ordered]

    # -- access ------------------------------------------------------------

    @property
    def sector_count(self) -> int:
        return self.disk_sectors

    @property
    def size(self) -> int:
        return self.disk_sectors * SECTOR

    def partition(self, key: int | str) -> Partition:
        """A partition by blkx index, or by (part of) its name."""
        if isinstance(key, int):
            if not 0 <= key < len(self.partitions):
                raise InputError(f"{self.path}: no partition {key} "
                                 f"(the image has {len(self.partitions)})")
            return self.partitions[key]
        matches = [p for p in self.partitions if p.name == key] or \
                  [p for p in self.partitions if key in p.name]
        if len(matches) != 1:
            names = ", ".join(repr(p.name) for p in self.partitions)
            raise InputError(f"{self.path}: {len(matches)} partitions match {key!r} "
                             f"(partitions: {names})")
        return matches[0]

    def read_chunk(self, part: Partition, index: int) -> bytes:
        """The expanded bytes of one chunk (zeros for zero/ignore chunks)."""
        c = part.table.chunks[index]
        size = c.sector_count * SECTOR
        if c.type in (CHUNK_ZERO, CHUNK_IGNORE):
            return bytes(size)
        if c.type in (CHUNK_TERMINATOR, CHUNK_COMMENT):
            return b""
        key = (part.index, index)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        start = self.koly.data_fork_offset + part.table.data_offset + c.offset
        raw = self.pread(start, c.length)
        try:
            data = decode_chunk(c.type, raw, size)
        except CodecError as exc:
            raise CorruptError(self.path, _where_chunk(part, index) + f" ({c.type_name})",
                               str(exc), start) from None
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > CACHE_CHUNKS:
                self._cache.popitem(last=False)
        return data

    def read_partition(self, part: Partition, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > part.size:
            raise InputError(f"{self.path}: {part.label}: read of {length} bytes at "
                             f"{offset} outside its {part.size} bytes")
        out = bytearray()
        pos = offset
        end = offset + length
        while pos < end:
            sector = pos // SECTOR
            k = bisect.bisect_right(part._starts, sector) - 1
            if k >= 0:
                cstart, ci = part._chunks[k]
                c = part.table.chunks[ci]
                cend = (c.sector + c.sector_count) * SECTOR
            if k < 0 or pos >= cend:
                # A gap no chunk covers reads as zeros, up to the next chunk.
                nxt = part._starts[k + 1] * SECTOR if k + 1 < len(part._starts) else part.size
                n = min(end, nxt) - pos
                out += bytes(n)
                pos += n
                continue
            n = min(end, cend) - pos
            if c.type in (CHUNK_ZERO, CHUNK_IGNORE):
                out += bytes(n)
            else:
                data = self.read_chunk(part, ci)
                rel = pos - c.sector * SECTOR
                out += data[rel:rel + n]
            pos += n
        return bytes(out)

    def read_disk(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise InputError(f"{self.path}: read of {length} bytes at {offset} outside "
                             f"the image's {self.size} bytes")
        out = bytearray()
        pos = offset
        end = offset + length
        parts = self._ordered
        while pos < end:
            k = bisect.bisect_right(self._ordered_starts, pos // SECTOR) - 1
            p = parts[k] if k >= 0 else None
            if p is None or pos >= (p.first_sector + p.sector_count) * SECTOR:
                nxt = (self._ordered_starts[k + 1] * SECTOR
                       if k + 1 < len(parts) else self.size)
                n = min(end, nxt) - pos
                out += bytes(n)
            else:
                pend = (p.first_sector + p.sector_count) * SECTOR
                n = min(end, pend) - pos
                out += self.read_partition(p, pos - p.first_sector * SECTOR, n)
            pos += n
        return bytes(out)

    def partition_source(self, key: int | str) -> "PartitionSource":
        return PartitionSource(self, self.partition(key))

    def disk_source(self) -> "DiskSource":
        return DiskSource(self)

    def data_partition(self) -> Partition:
        """The partition holding the file system: the largest that is not a
        partition map or free space (hdiutil names it ``... (Apple_HFS : n)``)."""
        skip = ("MBR", "GPT", "Apple_Free", "DDM", "Apple_partition_map", "Apple_Driver")
        cands = [p for p in self.partitions if not any(s in p.name for s in skip)]
        if not cands:
            cands = self.partitions
        return max(cands, key=lambda p: (p.sector_count, -p.index))

    def code_signature_bytes(self) -> bytes:
        """The SuperBlob that koly.codeSignatureOffset/Length point at."""
        k = self.koly
        koly_at = self.file_size - KOLY_SIZE
        if k.code_signature_length > MAX_CODE_SIGNATURE or \
                k.code_signature_offset + k.code_signature_length > koly_at:
            raise self._corrupt("koly.codeSignatureLength",
                                f"signature {k.code_signature_offset}+{k.code_signature_length} "
                                f"runs past the trailer at {koly_at} (or over "
                                f"{MAX_CODE_SIGNATURE} bytes)", koly_at + Koly.offset_of("code_signature_length"))
        return self.pread(k.code_signature_offset, k.code_signature_length)

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> "UDIFImage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PartitionSource:
    """``ImageSource`` over one partition's expanded bytes."""

    def __init__(self, image: UDIFImage, part: Partition) -> None:
        self.image = image
        self.partition = part
        self.size = part.size

    def read(self, offset: int, length: int) -> bytes:
        return self.image.read_partition(self.partition, offset, length)


class DiskSource:
    """``ImageSource`` over the whole expanded disk (all partitions)."""

    def __init__(self, image: UDIFImage) -> None:
        self.image = image
        self.size = image.size

    def read(self, offset: int, length: int) -> bytes:
        return self.image.read_disk(offset, length)


def open_udif(path: str | os.PathLike, *, passphrase: bytes | None = None) -> UDIFImage:
    return UDIFImage(path, passphrase=passphrase)
