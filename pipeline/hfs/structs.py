"""HFS+ on-disk structures: struct layouts and dataclasses.

Every layout is declared once here, as a ``struct`` format string beside the
dataclass that parses and packs it (CPython ``zipfile`` style).  Field names
follow Apple TN1150 and ``hfs_format.h``.  All fields are big-endian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields

# --- constants -------------------------------------------------------------

SIG_HFSPLUS = b"H+"
SIG_HFSX = b"HX"
VERSION_HFSPLUS = 4
VERSION_HFSX = 5
VOLUME_HEADER_OFFSET = 1024
VOLUME_HEADER_SIZE = 512

# Seconds between 1904-01-01 (HFS epoch) and 1970-01-01 (Unix epoch).
HFS_EPOCH_OFFSET = 2082844800

# Volume attributes (TN1150 "Volume Attributes").
VOL_UNMOUNTED = 1 << 8
VOL_SPARED_BLOCKS = 1 << 9
VOL_JOURNALED = 1 << 13
VOL_UNUSED_NODE_FIX = 1 << 31

# Reserved catalog node ids (TN1150 "Catalog File").
CNID_ROOT_PARENT = 1
CNID_ROOT_FOLDER = 2
CNID_EXTENTS = 3
CNID_CATALOG = 4
CNID_BAD_BLOCKS = 5
CNID_ALLOCATION = 6
CNID_STARTUP = 7
CNID_ATTRIBUTES = 8
CNID_FIRST_USER = 16

# Catalog record types.
REC_FOLDER = 1
REC_FILE = 2
REC_FOLDER_THREAD = 3
REC_FILE_THREAD = 4

# Catalog record flags (hfs_format.h).
FLAG_LOCKED = 0x0001
FLAG_THREAD_EXISTS = 0x0002
FLAG_HAS_ATTRIBUTES = 0x0004
FLAG_HAS_SECURITY = 0x0008
FLAG_HAS_FOLDER_COUNT = 0x0010
FLAG_HAS_LINK_CHAIN = 0x0020

# Finder types/creators with a meaning to the file system.
TYPE_SYMLINK = b"slnk"
CREATOR_SYMLINK = b"rhap"
TYPE_HARDLINK = b"hlnk"
CREATOR_HFSPLUS = b"hfs+"

# Attributes B-tree record types.
ATTR_INLINE_DATA = 0x10
ATTR_FORK_DATA = 0x20
ATTR_EXTENTS = 0x30


def hfs_date(unix_seconds: int) -> int:
    """Unix time -> HFS+ date (u32 seconds since 1904-01-01 GMT)."""
    return (unix_seconds + HFS_EPOCH_OFFSET) & 0xFFFFFFFF if unix_seconds else 0


def unix_date(hfs_seconds: int) -> int:
    """HFS+ date -> Unix time; 0 (never set) stays 0."""
    return hfs_seconds - HFS_EPOCH_OFFSET if hfs_seconds else 0


class _Struct:
    """Shared parse/pack for fixed-layout dataclasses whose fields map 1:1
    onto ``FORMAT`` items."""

    FORMAT: struct.Struct

    @classmethod
    def parse(cls, buf: bytes, offset: int = 0):
        return cls(*cls.FORMAT.unpack_from(buf, offset))

    def pack(self) -> bytes:
        return self.FORMAT.pack(*(getattr(self, f.name) for f in fields(self)))


# --- extents and forks ------------------------------------------------------

EXTENT_FORMAT = struct.Struct(">II")          # startBlock, blockCount
EXTENTS_PER_RECORD = 8
FORK_FORMAT = struct.Struct(">QII")           # logicalSize, clumpSize, totalBlocks
FORK_SIZE = FORK_FORMAT.size + EXTENTS_PER_RECORD * EXTENT_FORMAT.size  # 80


def parse_extent_record(buf: bytes, offset: int = 0) -> list[tuple[int, int]]:
    """The 8 (startBlock, blockCount) pairs of an HFSPlusExtentRecord."""
    return [EXTENT_FORMAT.unpack_from(buf, offset + 8 * i) for i in range(EXTENTS_PER_RECORD)]


def pack_extent_record(extents: list[tuple[int, int]]) -> bytes:
    padded = list(extents) + [(0, 0)] * (EXTENTS_PER_RECORD - len(extents))
    return b"".join(EXTENT_FORMAT.pack(s, c) for s, c in padded)


@dataclass
class ForkData:
    """HFSPlusForkData (80 bytes)."""

    logicalSize: int = 0
    clumpSize: int = 0
    totalBlocks: int = 0
    extents: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)] * 8)

    @classmethod
    def parse(cls, buf: bytes, offset: int = 0) -> "ForkData":
        size, clump, blocks = FORK_FORMAT.unpack_from(buf, offset)
        return cls(size, clump, blocks, parse_extent_record(buf, offset + FORK_FORMAT.size))

    def pack(self) -> bytes:
        return (FORK_FORMAT.pack(self.logicalSize, self.clumpSize, self.totalBlocks)
                + pack_extent_record(self.extents))

    def used_extents(self) -> list[tuple[int, int]]:
        """Extents up to the first empty slot (TN1150: the rest are unused)."""
        out = []
        for start, count in self.extents:
            if count == 0:
                break
            out.append((start, count))
        return out


# --- volume header ----------------------------------------------------------

# signature, version, attributes, lastMountedVersion, journalInfoBlock,
# createDate, modifyDate, backupDate, checkedDate, fileCount, folderCount,
# blockSize, totalBlocks, freeBlocks, nextAllocation, rsrcClumpSize,
# dataClumpSize, nextCatalogID, writeCount, encodingsBitmap, finderInfo[8];
# then five HFSPlusForkData: allocation, extents, catalog, attributes, startup.
VOLUME_HEADER_FORMAT = struct.Struct(">2sHI4sI4I2I3I4IIQ8I")
assert VOLUME_HEADER_FORMAT.size + 5 * FORK_SIZE == VOLUME_HEADER_SIZE
VH_FORKS = ("allocationFile", "extentsFile", "catalogFile", "attributesFile", "startupFile")


@dataclass
class VolumeHeader:
    """HFSPlusVolumeHeader (512 bytes at byte 1024, copy at size - 1024)."""

    signature: bytes = SIG_HFSPLUS
    version: int = VERSION_HFSPLUS
    attributes: int = VOL_UNMOUNTED | VOL_UNUSED_NODE_FIX
    lastMountedVersion: bytes = b"10.0"
    journalInfoBlock: int = 0
    createDate: int = 0
    modifyDate: int = 0
    backupDate: int = 0
    checkedDate: int = 0
    fileCount: int = 0
    folderCount: int = 0
    blockSize: int = 4096
    totalBlocks: int = 0
    freeBlocks: int = 0
    nextAllocation: int = 0
    rsrcClumpSize: int = 0
    dataClumpSize: int = 0
    nextCatalogID: int = CNID_FIRST_USER
    writeCount: int = 0
    encodingsBitmap: int = 1
    finderInfo: list[int] = field(default_factory=lambda: [0] * 8)
    allocationFile: ForkData = field(default_factory=ForkData)
    extentsFile: ForkData = field(default_factory=ForkData)
    catalogFile: ForkData = field(default_factory=ForkData)
    attributesFile: ForkData = field(default_factory=ForkData)
    startupFile: ForkData = field(default_factory=ForkData)

    @classmethod
    def parse(cls, buf: bytes, offset: int = 0) -> "VolumeHeader":
        v = VOLUME_HEADER_FORMAT.unpack_from(buf, offset)
        forks = [ForkData.parse(buf, offset + VOLUME_HEADER_FORMAT.size + FORK_SIZE * i)
                 for i in range(5)]
        return cls(*v[:20], list(v[20:28]), *forks)

    def pack(self) -> bytes:
        head = VOLUME_HEADER_FORMAT.pack(
            self.signature, self.version, self.attributes, self.lastMountedVersion,
            self.journalInfoBlock, self.createDate, self.modifyDate, self.backupDate,
            self.checkedDate, self.fileCount, self.folderCount, self.blockSize,
            self.totalBlocks, self.freeBlocks, self.nextAllocation, self.rsrcClumpSize,
            self.dataClumpSize, self.nextCatalogID, self.writeCount, self.encodingsBitmap,
            *self.finderInfo)
        return head + b"".join(getattr(self, name).pack() for name in VH_FORKS)

    @property
    def is_hfsx(self) -> bool:
        return self.signature == SIG_HFSX
