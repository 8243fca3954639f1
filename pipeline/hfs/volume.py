"""Locating and checking the HFS+ volume header and fork extents.

Shared by the free-space scan and the reader: nothing read from the image is
trusted until it has been checked against the image size and sane bounds.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

from ..binstruct import BinStruct, on_disk
from ..errors import CorruptError
from ..imagesource import ImageSource
from .structs import (SIG_HFSPLUS, SIG_HFSX, VERSION_HFSPLUS, VERSION_HFSX, VOLUME_HEADER_OFFSET,
                      VOLUME_HEADER_SIZE, VOL_JOURNALED, VH_FORKS, ForkData, VolumeHeader)

# Largest allocation block Apple's tools create is 64 KiB; allow a margin.
MAX_BLOCK_SIZE = 1 << 20

# Extents of a fork beyond the 8 in its catalog record / volume header come
# from the extents-overflow B-tree: fn(fileID, forkType, startBlock) -> list.
OverflowLookup = Callable[[int, int, int], list[tuple[int, int]]]


class SizedStream(io.RawIOBase):
    """A read-only stream of ``size`` bytes with free seeking: the position
    bookkeeping shared by fork data and decompressed (decmpfs) data.
    Subclasses implement ``readinto`` from ``self._pos``."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size
        self._pos = 0

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


def _fork_offset(name: str) -> int:
    return VOLUME_HEADER_OFFSET + VolumeHeader.offset_of(name)


def read_volume_header(source: ImageSource, name: str) -> VolumeHeader | None:
    """The checked primary volume header, or None when there is no H+/HX signature."""
    if source.size < VOLUME_HEADER_OFFSET + VOLUME_HEADER_SIZE:
        return None
    raw = source.read(VOLUME_HEADER_OFFSET, VOLUME_HEADER_SIZE)
    if raw[:2] not in (SIG_HFSPLUS, SIG_HFSX):
        return None
    vh = VolumeHeader.parse(raw)
    base = VOLUME_HEADER_OFFSET

    def bad(fieldname: str, off: int, problem: str) -> CorruptError:
        return CorruptError(name, f"volume header.{fieldname}", problem, base + off)

    expected = VERSION_HFSPLUS if vh.signature == SIG_HFSPLUS else VERSION_HFSX
    if vh.version != expected:
        raise bad("version", 2, f"version {vh.version} does not match signature "
                  f"{vh.signature.decode()} (expected {expected})")
    bs = vh.blockSize
    if bs < 512 or bs > MAX_BLOCK_SIZE or bs & (bs - 1):
        raise bad("blockSize", 40, f"{bs} is not a power of two in 512..{MAX_BLOCK_SIZE}")
    if vh.totalBlocks == 0:
        raise bad("totalBlocks", 44, "volume has no allocation blocks")
    if vh.totalBlocks * bs > source.size:
        raise bad("totalBlocks", 44, f"{vh.totalBlocks} blocks of {bs} bytes end at "
                  f"{vh.totalBlocks * bs}, past the end of the image ({source.size} bytes); "
                  "truncated image?")
    if vh.freeBlocks > vh.totalBlocks:
        raise bad("freeBlocks", 48, f"{vh.freeBlocks} exceeds totalBlocks {vh.totalBlocks}")
    for fork_name in VH_FORKS:
        check_fork(getattr(vh, fork_name), vh, name, f"volume header.{fork_name}",
                   _fork_offset(fork_name))
    if vh.allocationFile.logicalSize * 8 < vh.totalBlocks:
        raise bad("allocationFile.logicalSize", _fork_offset("allocationFile") - base,
                  f"bitmap of {vh.allocationFile.logicalSize} bytes cannot cover "
                  f"{vh.totalBlocks} blocks")
    return vh


def check_fork(fork: ForkData, vh: VolumeHeader, name: str, where: str,
               offset: int | None) -> None:
    """Check a fork's 8 inline extents against the volume (TN1150 extent rules)."""
    seen_empty = False
    total = 0
    for i, (start, count) in enumerate(fork.extents):
        if count == 0:
            seen_empty = True
            continue
        if seen_empty:
            raise CorruptError(name, f"{where}.extents[{i}]", "used extent after an empty one",
                               offset)
        if start + count > vh.totalBlocks:
            raise CorruptError(name, f"{where}.extents[{i}]",
                               f"blocks {start}..{start + count - 1} extend past the end of "
                               f"the volume ({vh.totalBlocks} blocks)", offset)
        total += count
    if total > fork.totalBlocks:
        raise CorruptError(name, f"{where}.totalBlocks",
                           f"extents hold {total} blocks, more than totalBlocks "
                           f"{fork.totalBlocks}", offset)
    if fork.totalBlocks > vh.totalBlocks:
        raise CorruptError(name, f"{where}.totalBlocks",
                           f"{fork.totalBlocks} exceeds the volume's {vh.totalBlocks} blocks",
                           offset)
    if fork.logicalSize > fork.totalBlocks * vh.blockSize:
        raise CorruptError(name, f"{where}.logicalSize",
                           f"{fork.logicalSize} bytes do not fit in {fork.totalBlocks} "
                           f"blocks of {vh.blockSize}", offset)


def fork_extents(fork: ForkData, vh: VolumeHeader, name: str, where: str,
                 file_id: int, fork_type: int = 0,
                 overflow: OverflowLookup | None = None) -> list[tuple[int, int]]:
    """All (startBlock, blockCount) extents of a fork, following overflow records."""
    extents = fork.used_extents()
    have = sum(c for _, c in extents)
    while have < fork.totalBlocks:
        if overflow is None:
            raise CorruptError(name, f"{where}.extents",
                               f"extents cover {have} of {fork.totalBlocks} blocks and no "
                               "extents-overflow records can supply the rest")
        more = [(s, c) for s, c in overflow(file_id, fork_type, have) if c]
        if not more:
            raise CorruptError(name, f"extents overflow file (fileID {file_id}, "
                               f"startBlock {have})",
                               f"missing record for the {fork.totalBlocks - have} blocks "
                               "past the catalog's extents")
        for start, count in more:
            if start + count > vh.totalBlocks:
                raise CorruptError(name, f"extents overflow file (fileID {file_id})",
                                   f"extent {start}+{count} extends past the end of the volume")
        extents.extend(more)
        have += sum(c for _, c in more)
        if have > fork.totalBlocks:
            raise CorruptError(name, f"{where}.totalBlocks",
                               f"extents hold {have} blocks, more than totalBlocks "
                               f"{fork.totalBlocks}")
    return extents


def fork_byte_runs(extents: list[tuple[int, int]], block_size: int,
                   length: int) -> list[tuple[int, int]]:
    """(volume byte offset, byte length) runs holding the first ``length`` bytes."""
    runs = []
    remaining = length
    for start, count in extents:
        if remaining <= 0:
            break
        n = min(remaining, count * block_size)
        runs.append((start * block_size, n))
        remaining -= n
    return runs


JIB_JOURNAL_IN_FS = 0x1


@dataclass
class JournalInfoBlock(BinStruct):
    """JournalInfoBlock (hfs_format.h), big-endian."""

    flags: int = on_disk("I", "flags")
    device_signature: bytes = on_disk("32s", "device_signature", bytes(32))
    offset: int = on_disk("Q", "offset")
    size: int = on_disk("Q", "size")


@dataclass
class JournalHeaderLE(BinStruct):
    """journal_header (hfs_journal.h), in the byte order of the machine that
    wrote it: little-endian here, big-endian in JournalHeaderBE."""

    ENDIAN = "<"
    magic: int = on_disk("I", "magic")
    endian: int = on_disk("I", "endian")
    start: int = on_disk("q", "start")
    end: int = on_disk("q", "end")
    size: int = on_disk("q", "size")


@dataclass
class JournalHeaderBE(JournalHeaderLE):
    ENDIAN = ">"


JOURNAL_MAGIC = 0x4A4E4C78
JOURNAL_ENDIAN = 0x12345678


def journal_state(source: ImageSource, name: str, vh: VolumeHeader) -> str:
    """"none" (not journaled), "clean", or "dirty" (transactions not replayed).

    A reader that ignores the journal sees the state before the transactions
    still in it; macOS replays them on mount.  hdiutil images are clean.
    """
    if not vh.attributes & VOL_JOURNALED:
        return "none"
    where = "volume header.journalInfoBlock"
    if vh.journalInfoBlock >= vh.totalBlocks:
        raise CorruptError(name, where, f"block {vh.journalInfoBlock} is past the end of the "
                           "volume", VOLUME_HEADER_OFFSET + 12)
    jib_off = vh.journalInfoBlock * vh.blockSize
    jib = JournalInfoBlock.parse(source.read(jib_off, JournalInfoBlock.struct_size()))
    flags, offset, size = jib.flags, jib.offset, jib.size
    if not flags & JIB_JOURNAL_IN_FS:
        return "dirty"          # an external journal: its state cannot be known here
    header_size = JournalHeaderLE.struct_size()
    if offset + header_size > vh.totalBlocks * vh.blockSize or size == 0:
        raise CorruptError(name, "journal info block.offset", f"journal at {offset} "
                           f"({size} bytes) lies outside the volume", jib_off + 36)
    raw = source.read(offset, header_size)
    for layout in (JournalHeaderLE, JournalHeaderBE):
        header = layout.parse(raw)
        if header.magic == JOURNAL_MAGIC and header.endian == JOURNAL_ENDIAN:
            return "clean" if header.start == header.end else "dirty"
    raise CorruptError(name, "journal header.magic", "not a journal header (expected JNLx)",
                       offset)
