"""HFS+ on-disk structures, each declared once with ``pipeline.binstruct``.

Field names follow Apple TN1150 and ``hfs_format.h``; all fields are
big-endian (docs/formats.md §1).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..binstruct import BinStruct, on_disk

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


# --- extents and forks ------------------------------------------------------

EXTENTS_PER_RECORD = 8


@dataclass
class ForkData(BinStruct):
    """HFSPlusForkData (80 bytes)."""

    logicalSize: int = on_disk("Q", "logicalSize")
    clumpSize: int = on_disk("I", "clumpSize")
    totalBlocks: int = on_disk("I", "totalBlocks")
    # HFSPlusExtentRecord: eight (startBlock, blockCount) descriptors.
    extents: list[tuple[int, int]] = on_disk("II", "extents", count=EXTENTS_PER_RECORD,
                                             default_factory=lambda: [(0, 0)] * 8)

    def used_extents(self) -> list[tuple[int, int]]:
        """Extents up to the first empty slot (TN1150: the rest are unused)."""
        out = []
        for start, count in self.extents:
            if count == 0:
                break
            out.append((start, count))
        return out


FORK_SIZE = ForkData.struct_size()           # 80


@dataclass
class ExtentRecord(BinStruct):
    """HFSPlusExtentRecord: the data of an extents-overflow leaf record."""

    extents: list[tuple[int, int]] = on_disk("II", "extents", count=EXTENTS_PER_RECORD,
                                             default_factory=lambda: [(0, 0)] * 8)


# --- volume header ----------------------------------------------------------

VH_FORKS = ("allocationFile", "extentsFile", "catalogFile", "attributesFile", "startupFile")


@dataclass
class VolumeHeader(BinStruct):
    """HFSPlusVolumeHeader (512 bytes at byte 1024, copy at size - 1024)."""

    signature: bytes = on_disk("2s", "signature", SIG_HFSPLUS)
    version: int = on_disk("H", "version", VERSION_HFSPLUS)
    attributes: int = on_disk("I", "attributes", VOL_UNMOUNTED | VOL_UNUSED_NODE_FIX)
    lastMountedVersion: bytes = on_disk("4s", "lastMountedVersion", b"10.0")
    journalInfoBlock: int = on_disk("I", "journalInfoBlock")
    createDate: int = on_disk("I", "createDate")
    modifyDate: int = on_disk("I", "modifyDate")
    backupDate: int = on_disk("I", "backupDate")
    checkedDate: int = on_disk("I", "checkedDate")
    fileCount: int = on_disk("I", "fileCount")
    folderCount: int = on_disk("I", "folderCount")
    blockSize: int = on_disk("I", "blockSize", 4096)
    totalBlocks: int = on_disk("I", "totalBlocks")
    freeBlocks: int = on_disk("I", "freeBlocks")
    nextAllocation: int = on_disk("I", "nextAllocation")
    rsrcClumpSize: int = on_disk("I", "rsrcClumpSize")
    dataClumpSize: int = on_disk("I", "dataClumpSize")
    nextCatalogID: int = on_disk("I", "nextCatalogID", CNID_FIRST_USER)
    writeCount: int = on_disk("I", "writeCount")
    encodingsBitmap: int = on_disk("Q", "encodingsBitmap", 1)
    finderInfo: list[int] = on_disk("I", "finderInfo", count=8, default_factory=lambda: [0] * 8)
    allocationFile: ForkData = on_disk(ForkData, "allocationFile")
    extentsFile: ForkData = on_disk(ForkData, "extentsFile")
    catalogFile: ForkData = on_disk(ForkData, "catalogFile")
    attributesFile: ForkData = on_disk(ForkData, "attributesFile")
    startupFile: ForkData = on_disk(ForkData, "startupFile")

    @property
    def is_hfsx(self) -> bool:
        return self.signature == SIG_HFSX


assert VolumeHeader.struct_size() == VOLUME_HEADER_SIZE


# --- catalog -----------------------------------------------------------------

CATALOG_MAX_KEY_LENGTH = 516                 # 6 + 2 x 255


@dataclass
class CatalogKeyHead(BinStruct):
    """HFSPlusCatalogKey up to its name (HFSUniStr255, at its real length)."""

    keyLength: int = on_disk("H", "keyLength")
    parentID: int = on_disk("I", "parentID")
    nameLength: int = on_disk("H", "nodeName.length")


def pack_catalog_key(parent_id: int, name_utf16: bytes) -> bytes:
    n = len(name_utf16) // 2
    return CatalogKeyHead(6 + 2 * n, parent_id, n).pack() + name_utf16


def parse_catalog_key(key: bytes) -> tuple[int, bytes]:
    """(parentID, UTF-16BE name) of a catalog key (keyLength included).

    Raises ValueError when the name length disagrees with keyLength.
    """
    head = CatalogKeyHead.parse(key)
    klen, parent, n = head.keyLength, head.parentID, head.nameLength
    if 6 + 2 * n != klen or len(key) < 2 + klen or n > 255:
        raise ValueError(f"name length {n} does not match keyLength {klen}")
    return parent, key[8:8 + 2 * n]


# Finder info (16 bytes each): FileInfo/FolderInfo and the extended variants
# are kept as raw 16-byte fields; the writer builds them with the helpers below.
FINDER_FLAGS_OFFSET = 8                      # fdFlags / frFlags within userInfo

@dataclass
class BSDInfo(BinStruct):
    """HFSPlusBSDInfo (16 bytes)."""

    ownerID: int = on_disk("I", "ownerID")
    groupID: int = on_disk("I", "groupID")
    adminFlags: int = on_disk("B", "adminFlags")
    ownerFlags: int = on_disk("B", "ownerFlags")
    fileMode: int = on_disk("H", "fileMode")
    special: int = on_disk("I", "special")        # iNodeNum, linkCount or rawDevice


@dataclass
class FolderRecord(BinStruct):
    """HFSPlusCatalogFolder (88 bytes)."""

    recordType: int = on_disk("h", "recordType", REC_FOLDER)
    flags: int = on_disk("H", "flags")
    valence: int = on_disk("I", "valence")
    folderID: int = on_disk("I", "folderID")
    createDate: int = on_disk("I", "createDate")
    contentModDate: int = on_disk("I", "contentModDate")
    attributeModDate: int = on_disk("I", "attributeModDate")
    accessDate: int = on_disk("I", "accessDate")
    backupDate: int = on_disk("I", "backupDate")
    bsdInfo: BSDInfo = on_disk(BSDInfo, "bsdInfo")
    userInfo: bytes = on_disk("16s", "userInfo", bytes(16))
    finderInfo: bytes = on_disk("16s", "finderInfo", bytes(16))
    textEncoding: int = on_disk("I", "textEncoding")
    folderCount: int = on_disk("I", "folderCount")


@dataclass
class FileRecord(BinStruct):
    """HFSPlusCatalogFile (248 bytes)."""

    recordType: int = on_disk("h", "recordType", REC_FILE)
    flags: int = on_disk("H", "flags")
    reserved1: int = on_disk("I", "reserved1")        # hl_firstLinkID of hard-link inodes
    fileID: int = on_disk("I", "fileID")
    createDate: int = on_disk("I", "createDate")
    contentModDate: int = on_disk("I", "contentModDate")
    attributeModDate: int = on_disk("I", "attributeModDate")
    accessDate: int = on_disk("I", "accessDate")
    backupDate: int = on_disk("I", "backupDate")
    bsdInfo: BSDInfo = on_disk(BSDInfo, "bsdInfo")
    userInfo: bytes = on_disk("16s", "userInfo", bytes(16))
    finderInfo: bytes = on_disk("16s", "finderInfo", bytes(16))
    textEncoding: int = on_disk("I", "textEncoding")
    reserved2: int = on_disk("I", "reserved2")
    dataFork: ForkData = on_disk(ForkData, "dataFork")
    resourceFork: ForkData = on_disk(ForkData, "resourceFork")

    @property
    def fileType(self) -> bytes:
        return self.userInfo[0:4]

    @property
    def fileCreator(self) -> bytes:
        return self.userInfo[4:8]

    @property
    def finderFlags(self) -> int:
        return int.from_bytes(self.userInfo[FINDER_FLAGS_OFFSET:FINDER_FLAGS_OFFSET + 2], "big")


assert (FolderRecord.struct_size(), FileRecord.struct_size()) == (88, 248)
FILE_RECORD_SIZE = FileRecord.struct_size()


@dataclass
class ThreadRecordHead(BinStruct):
    """HFSPlusCatalogThread up to its name (stored at its real length, 10 + 2n bytes)."""

    recordType: int = on_disk("h", "recordType", REC_FOLDER_THREAD)
    reserved: int = on_disk("h", "reserved")
    parentID: int = on_disk("I", "parentID")
    nameLength: int = on_disk("H", "nodeName.length")


@dataclass
class ThreadRecord:
    """A thread record: its head and the UTF-16BE name of the object it names."""

    recordType: int = REC_FOLDER_THREAD
    parentID: int = 0
    nodeName: bytes = b""                   # UTF-16BE
    reserved: int = 0

    @classmethod
    def parse(cls, buf: bytes, offset: int = 0) -> "ThreadRecord":
        head = ThreadRecordHead.parse(buf, offset)
        start = offset + ThreadRecordHead.struct_size()
        n = head.nameLength
        if n > 255 or start + 2 * n > len(buf):
            raise ValueError(f"thread name length {n} exceeds the record")
        return cls(head.recordType, head.parentID, bytes(buf[start:start + 2 * n]), head.reserved)

    def pack(self) -> bytes:
        return ThreadRecordHead(self.recordType, self.reserved, self.parentID,
                                len(self.nodeName) // 2).pack() + self.nodeName


def record_type(data: bytes) -> int:
    return int.from_bytes(data[:2], "big", signed=True) if len(data) >= 2 else 0


# --- extents overflow -----------------------------------------------------------

EXTENT_MAX_KEY_LENGTH = 10


@dataclass
class ExtentKey(BinStruct):
    """HFSPlusExtentKey (12 bytes)."""

    keyLength: int = on_disk("H", "keyLength", EXTENT_MAX_KEY_LENGTH)
    forkType: int = on_disk("B", "forkType")          # 0 data, 0xFF resource
    pad: int = on_disk("B", "pad")
    fileID: int = on_disk("I", "fileID")
    startBlock: int = on_disk("I", "startBlock")


FORK_DATA_TYPE = 0x00
FORK_RSRC_TYPE = 0xFF


# --- attributes -------------------------------------------------------------------

ATTR_MAX_KEY_LENGTH = 266
ATTR_MAX_NAME = 127


@dataclass
class AttrKeyHead(BinStruct):
    """HFSPlusAttrKey up to its name (UTF-16BE, at its real length)."""

    keyLength: int = on_disk("H", "keyLength")
    pad: int = on_disk("H", "pad")
    fileID: int = on_disk("I", "fileID")
    startBlock: int = on_disk("I", "startBlock")
    nameLength: int = on_disk("H", "attrNameLen")


@dataclass
class AttrInlineHead(BinStruct):
    """HFSPlusAttrData up to its data (the value follows, padded to even length)."""

    recordType: int = on_disk("I", "recordType", ATTR_INLINE_DATA)
    reserved: bytes = on_disk("8s", "reserved", bytes(8))
    attrSize: int = on_disk("I", "attrSize")


def pack_attr_key(file_id: int, name_utf16: bytes, start_block: int = 0) -> bytes:
    n = len(name_utf16) // 2
    return AttrKeyHead(12 + 2 * n, 0, file_id, start_block, n).pack() + name_utf16


def parse_attr_key(key: bytes) -> tuple[int, int, bytes]:
    """(fileID, startBlock, UTF-16BE name); ValueError when lengths disagree."""
    head = AttrKeyHead.parse(key)
    klen, file_id, start, n = head.keyLength, head.fileID, head.startBlock, head.nameLength
    if 12 + 2 * n != klen or n > ATTR_MAX_NAME or len(key) < 2 + klen:
        raise ValueError(f"name length {n} does not match keyLength {klen}")
    return file_id, start, key[14:14 + 2 * n]


def pack_attr_inline(data: bytes) -> bytes:
    rec = AttrInlineHead(attrSize=len(data)).pack() + data
    return rec + b"\0" * (len(rec) & 1)
