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


# --- catalog -----------------------------------------------------------------

CATALOG_KEY_HEAD = struct.Struct(">HIH")     # keyLength, parentID, name length
CATALOG_MAX_KEY_LENGTH = 516                 # 6 + 2 x 255


def pack_catalog_key(parent_id: int, name_utf16: bytes) -> bytes:
    n = len(name_utf16) // 2
    return CATALOG_KEY_HEAD.pack(6 + 2 * n, parent_id, n) + name_utf16


def parse_catalog_key(key: bytes) -> tuple[int, bytes]:
    """(parentID, UTF-16BE name) of a catalog key (keyLength included).

    Raises ValueError when the name length disagrees with keyLength.
    """
    klen, parent, n = CATALOG_KEY_HEAD.unpack_from(key)
    if 6 + 2 * n != klen or len(key) < 2 + klen or n > 255:
        raise ValueError(f"name length {n} does not match keyLength {klen}")
    return parent, key[8:8 + 2 * n]


# ownerID, groupID, adminFlags, ownerFlags, fileMode, special
BSD_INFO = struct.Struct(">IIBBHI")
# Finder info (16 bytes each): FileInfo/FolderInfo and the extended variants
# are kept as raw 16-byte fields; the writer builds them with the helpers below.
FINDER_FLAGS_OFFSET = 8                      # fdFlags / frFlags within userInfo

# recordType, flags, valence, folderID, createDate, contentModDate,
# attributeModDate, accessDate, backupDate, bsdInfo(16), userInfo(16),
# finderInfo(16), textEncoding, folderCount
FOLDER_RECORD = struct.Struct(">hHII5I16s16s16sII")
# recordType, flags, reserved1, fileID, 5 dates, bsdInfo, userInfo, finderInfo,
# textEncoding, reserved2, then dataFork and resourceFork (80 bytes each)
FILE_RECORD_HEAD = struct.Struct(">hHII5I16s16s16sII")
FILE_RECORD_SIZE = FILE_RECORD_HEAD.size + 2 * FORK_SIZE
# recordType, reserved, parentID, then HFSUniStr255 at its real length
THREAD_HEAD = struct.Struct(">hhIH")
assert FOLDER_RECORD.size == 88 and FILE_RECORD_SIZE == 248


@dataclass
class BSDInfo:
    ownerID: int = 0
    groupID: int = 0
    adminFlags: int = 0
    ownerFlags: int = 0
    fileMode: int = 0
    special: int = 0

    @classmethod
    def parse(cls, buf: bytes, offset: int = 0) -> "BSDInfo":
        return cls(*BSD_INFO.unpack_from(buf, offset))

    def pack(self) -> bytes:
        return BSD_INFO.pack(self.ownerID, self.groupID, self.adminFlags, self.ownerFlags,
                             self.fileMode, self.special)


@dataclass
class FolderRecord:
    """HFSPlusCatalogFolder (88 bytes)."""

    flags: int = 0
    valence: int = 0
    folderID: int = 0
    createDate: int = 0
    contentModDate: int = 0
    attributeModDate: int = 0
    accessDate: int = 0
    backupDate: int = 0
    bsdInfo: BSDInfo = field(default_factory=BSDInfo)
    userInfo: bytes = bytes(16)
    finderInfo: bytes = bytes(16)
    textEncoding: int = 0
    folderCount: int = 0
    recordType: int = REC_FOLDER

    @classmethod
    def parse(cls, buf: bytes, offset: int = 0) -> "FolderRecord":
        v = FOLDER_RECORD.unpack_from(buf, offset)
        return cls(v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], BSDInfo.parse(v[9]),
                   v[10], v[11], v[12], v[13], v[0])

    def pack(self) -> bytes:
        return FOLDER_RECORD.pack(self.recordType, self.flags, self.valence, self.folderID,
                                  self.createDate, self.contentModDate,
                                  self.attributeModDate, self.accessDate, self.backupDate,
                                  self.bsdInfo.pack(), self.userInfo, self.finderInfo,
                                  self.textEncoding, self.folderCount)


@dataclass
class FileRecord:
    """HFSPlusCatalogFile (248 bytes)."""

    flags: int = 0
    reserved1: int = 0                      # hl_firstLinkID of hard-link inodes
    fileID: int = 0
    createDate: int = 0
    contentModDate: int = 0
    attributeModDate: int = 0
    accessDate: int = 0
    backupDate: int = 0
    bsdInfo: BSDInfo = field(default_factory=BSDInfo)
    userInfo: bytes = bytes(16)
    finderInfo: bytes = bytes(16)
    textEncoding: int = 0
    reserved2: int = 0
    dataFork: ForkData = field(default_factory=ForkData)
    resourceFork: ForkData = field(default_factory=ForkData)
    recordType: int = REC_FILE

    @classmethod
    def parse(cls, buf: bytes, offset: int = 0) -> "FileRecord":
        v = FILE_RECORD_HEAD.unpack_from(buf, offset)
        base = offset + FILE_RECORD_HEAD.size
        return cls(v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], BSDInfo.parse(v[9]),
                   v[10], v[11], v[12], v[13], ForkData.parse(buf, base),
                   ForkData.parse(buf, base + FORK_SIZE), v[0])

    def pack(self) -> bytes:
        return FILE_RECORD_HEAD.pack(
            self.recordType, self.flags, self.reserved1, self.fileID, self.createDate,
            self.contentModDate, self.attributeModDate, self.accessDate, self.backupDate,
            self.bsdInfo.pack(), self.userInfo, self.finderInfo, self.textEncoding,
            self.reserved2) + self.dataFork.pack() + self.resourceFork.pack()

    @property
    def fileType(self) -> bytes:
        return self.userInfo[0:4]

    @property
    def fileCreator(self) -> bytes:
        return self.userInfo[4:8]

    @property
    def finderFlags(self) -> int:
        return struct.unpack_from(">H", self.userInfo, FINDER_FLAGS_OFFSET)[0]


@dataclass
class ThreadRecord:
    """HFSPlusCatalogThread, stored at its real length (10 + 2n bytes)."""

    recordType: int = REC_FOLDER_THREAD
    parentID: int = 0
    nodeName: bytes = b""                   # UTF-16BE
    reserved: int = 0

    @classmethod
    def parse(cls, buf: bytes, offset: int = 0) -> "ThreadRecord":
        rtype, reserved, parent, n = THREAD_HEAD.unpack_from(buf, offset)
        start = offset + THREAD_HEAD.size
        if n > 255 or start + 2 * n > len(buf):
            raise ValueError(f"thread name length {n} exceeds the record")
        return cls(rtype, parent, bytes(buf[start:start + 2 * n]), reserved)

    def pack(self) -> bytes:
        return THREAD_HEAD.pack(self.recordType, self.reserved, self.parentID,
                                len(self.nodeName) // 2) + self.nodeName


def record_type(data: bytes) -> int:
    return struct.unpack_from(">h", data)[0] if len(data) >= 2 else 0


# --- extents overflow -----------------------------------------------------------

# keyLength (10), forkType (0 data, 0xFF resource), pad, fileID, startBlock
EXTENT_KEY = struct.Struct(">HBBII")
EXTENT_MAX_KEY_LENGTH = 10
FORK_DATA_TYPE = 0x00
FORK_RSRC_TYPE = 0xFF


# --- attributes -------------------------------------------------------------------

# keyLength, pad, fileID, startBlock, nameLength; then UTF-16BE name
ATTR_KEY_HEAD = struct.Struct(">HHIIH")
ATTR_MAX_KEY_LENGTH = 266
ATTR_MAX_NAME = 127
# recordType, reserved[2], attrSize; then the data
ATTR_INLINE_HEAD = struct.Struct(">I8sI")


def pack_attr_key(file_id: int, name_utf16: bytes, start_block: int = 0) -> bytes:
    n = len(name_utf16) // 2
    return ATTR_KEY_HEAD.pack(12 + 2 * n, 0, file_id, start_block, n) + name_utf16


def parse_attr_key(key: bytes) -> tuple[int, int, bytes]:
    """(fileID, startBlock, UTF-16BE name); ValueError when lengths disagree."""
    klen, _pad, file_id, start, n = ATTR_KEY_HEAD.unpack_from(key)
    if 12 + 2 * n != klen or n > ATTR_MAX_NAME or len(key) < 2 + klen:
        raise ValueError(f"name length {n} does not match keyLength {klen}")
    return file_id, start, key[14:14 + 2 * n]


def pack_attr_inline(data: bytes) -> bytes:
    rec = ATTR_INLINE_HEAD.pack(ATTR_INLINE_DATA, bytes(8), len(data)) + data
    return rec + b"\0" * (len(rec) & 1)
