"""Partition layouts of a UDIF disk: reading none/MBR/GPT/APM, writing
none and GPT as hdiutil does.

hdiutil's GPT layout (default ``GPTSPUD``), as seen in images it made
(e.g. `hdiutil imageinfo` of shipped DMGs, docs/formats.md §2.4): protective MBR
(sector 0), primary GPT header (1), primary table (2..33, 128 entries of
128 bytes), free (34..39), the HFS+ partition from sector 40, 7 free
sectors, backup table (32 sectors), backup header (last sector); the disk
is 40 + partition + 40 sectors.  Each region is its own blkx entry, named
"<GPT name> (<type> : <n>)".

GUIDs are derived from content (uuid5 over a hash of the volume header,
which holds the volume's content-derived identifier, and the partition
size), never random.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Iterable

from ..binstruct import BinStruct, on_disk
from ..fsprobe import partition_type
from ..imagesource import ImageSource
from .koly import SECTOR, VARIANT_DEVICE, VARIANT_PARTITION

# -- MBR --------------------------------------------------------------------

@dataclass
class MbrPartitionEntry(BinStruct):
    """One of the four MBR partition entries (little-endian)."""

    ENDIAN = "<"
    status: int = on_disk("B", "status")
    chs_first: bytes = on_disk("3s", "chs_first", bytes(3))
    type: int = on_disk("B", "type")
    chs_last: bytes = on_disk("3s", "chs_last", bytes(3))
    first_lba: int = on_disk("I", "first_lba")
    sector_count: int = on_disk("I", "sector_count")


MBR_ENTRY_SIZE = MbrPartitionEntry.struct_size()
MBR_ENTRIES_AT = 446
MBR_SIGNATURE = b"\x55\xaa"
MBR_TYPE_GPT_PROTECTIVE = 0xEE

# -- GPT (UEFI spec, chapter 5; little-endian) ----------------------------
GPT_SIGNATURE = b"EFI PART"
GPT_REVISION = 0x00010000


@dataclass
class GptHeader(BinStruct):
    ENDIAN = "<"
    signature: bytes = on_disk("8s", "Signature", GPT_SIGNATURE)
    revision: int = on_disk("I", "Revision", GPT_REVISION)
    header_size: int = on_disk("I", "HeaderSize", 92)
    header_crc32: int = on_disk("I", "HeaderCRC32")
    reserved: int = on_disk("I", "Reserved")
    my_lba: int = on_disk("Q", "MyLBA")
    alternate_lba: int = on_disk("Q", "AlternateLBA")
    first_usable_lba: int = on_disk("Q", "FirstUsableLBA")
    last_usable_lba: int = on_disk("Q", "LastUsableLBA")
    disk_guid: bytes = on_disk("16s", "DiskGUID", bytes(16))
    partition_entry_lba: int = on_disk("Q", "PartitionEntryLBA")
    number_of_partition_entries: int = on_disk("I", "NumberOfPartitionEntries")
    size_of_partition_entry: int = on_disk("I", "SizeOfPartitionEntry")
    partition_entry_array_crc32: int = on_disk("I", "PartitionEntryArrayCRC32")


@dataclass
class GptEntry(BinStruct):
    ENDIAN = "<"
    partition_type_guid: bytes = on_disk("16s", "PartitionTypeGUID", bytes(16))
    unique_partition_guid: bytes = on_disk("16s", "UniquePartitionGUID", bytes(16))
    starting_lba: int = on_disk("Q", "StartingLBA")
    ending_lba: int = on_disk("Q", "EndingLBA")
    attributes: int = on_disk("Q", "Attributes")
    partition_name: bytes = on_disk("72s", "PartitionName", bytes(72))   # 36 UTF-16LE units


GPT_HEADER_SIZE = GptHeader.struct_size()
GPT_ENTRY_SIZE = GptEntry.struct_size()
assert (GPT_HEADER_SIZE, GPT_ENTRY_SIZE) == (92, 128)
GPT_ENTRIES = 128
GPT_TABLE_SECTORS = GPT_ENTRIES * GPT_ENTRY_SIZE // SECTOR   # 32
HFS_TYPE_GUID = uuid.UUID("48465300-0000-11AA-AA11-00306543ECAC")
GPT_TYPE_NAMES = {
    HFS_TYPE_GUID: "Apple_HFS",
    uuid.UUID("7C3457EF-0000-11AA-AA11-00306543ECAC"): "Apple_APFS",
    uuid.UUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B"): "EFI",
    uuid.UUID("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"): "Microsoft Basic Data",
}
GPT_FIRST_PARTITION = 40     # hdiutil starts the partition at sector 40
GPT_TAIL_FREE = 7            # then 7 free sectors before the backup table
GPT_MAX_ENTRIES = 1024       # reading bound

# -- Apple Partition Map (Inside Macintosh: Devices; big-endian) -----------

@dataclass
class ApmEntry(BinStruct):
    """The start of a partition map entry (Partition record), up to pmParType."""

    pmSig: bytes = on_disk("2s", "pmSig", b"PM")
    pmSigPad: int = on_disk("H", "pmSigPad")
    pmMapBlkCnt: int = on_disk("I", "pmMapBlkCnt")
    pmPyPartStart: int = on_disk("I", "pmPyPartStart")
    pmPartBlkCnt: int = on_disk("I", "pmPartBlkCnt")
    pmPartName: bytes = on_disk("32s", "pmPartName", bytes(32))
    pmParType: bytes = on_disk("32s", "pmParType", bytes(32))


APM_MAX_ENTRIES = 1024

# A namespace of our own for uuid5 identifiers.
REPRODMG_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "reprodmg:udif")


def content_uuid(*parts: bytes | str) -> uuid.UUID:
    """A name-based (v5) UUID of the given content: same input, same id."""
    h = hashlib.sha256()
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(struct.pack(">Q", len(b)) + b)
    return uuid.uuid5(REPRODMG_NAMESPACE, h.hexdigest())


class BytesSource:
    """``ImageSource`` over bytes held in memory (partition-map sectors)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.size = len(data)

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ValueError(f"read of {length} bytes at {offset} past {self.size}")
        return self._data[offset:offset + length]


@dataclass
class PlannedPartition:
    """One blkx entry to write: a run of sectors and where its bytes come from."""
    name: str
    id: int
    descriptor: int                 # mish blockDescriptors
    first_sector: int
    sector_count: int
    source: ImageSource | None      # None: free space, one ignore chunk
    free_ranges: list[tuple[int, int]] = field(default_factory=list)  # bytes, to ignore
    cfname: str | None = None

    def __post_init__(self) -> None:
        if self.cfname is None:
            self.cfname = self.name


@dataclass
class PartitionPlan:
    parts: list[PlannedPartition]
    variant: int
    sector_count: int
    scheme: str


WHOLE_DISK_DESCRIPTOR = 0xFFFFFFFE   # hdiutil's value for "whole disk" (-2)


def plan_whole_disk(source: ImageSource,
                    free_ranges: Iterable[tuple[int, int]] | None = None) -> PartitionPlan:
    """One blkx entry for the whole disk, named by what it holds (an HFS+
    volume: "whole disk (Apple_HFS : 0)", as hdiutil names it)."""
    n = source.size // SECTOR
    part = PlannedPartition(f"whole disk ({partition_type(source)} : 0)", 0,
                            WHOLE_DISK_DESCRIPTOR, 0, n, source, list(free_ranges or []))
    return PartitionPlan([part], VARIANT_PARTITION, n, "none")


def _gpt_header(current: int, backup: int, first_usable: int, last_usable: int,
                disk_guid: uuid.UUID, entries_lba: int, entries_crc: int) -> bytes:
    header = GptHeader(my_lba=current, alternate_lba=backup, first_usable_lba=first_usable,
                       last_usable_lba=last_usable, disk_guid=disk_guid.bytes_le,
                       partition_entry_lba=entries_lba, number_of_partition_entries=GPT_ENTRIES,
                       size_of_partition_entry=GPT_ENTRY_SIZE,
                       partition_entry_array_crc32=entries_crc)
    header.header_crc32 = zlib.crc32(header.pack())     # computed with the field zero
    return header.pack().ljust(SECTOR, b"\0")


def _protective_mbr(total: int) -> bytes:
    # One 0xEE entry covering the disk from LBA 1 (UEFI spec 5.2.3); CHS
    # start 0/0/2, end 0xFFFFFF ("beyond CHS range").
    entry = MbrPartitionEntry(0, b"\x00\x02\x00", MBR_TYPE_GPT_PROTECTIVE, b"\xff\xff\xff", 1,
                              min(total - 1, 0xFFFFFFFF)).pack()
    return bytes(MBR_ENTRIES_AT) + entry + bytes(3 * MBR_ENTRY_SIZE) + MBR_SIGNATURE


def plan_gpt(source: ImageSource, free_ranges: Iterable[tuple[int, int]] | None = None,
             partition_name: str = "disk image") -> PartitionPlan:
    n = source.size // SECTOR
    first = GPT_FIRST_PARTITION
    total = first + n + GPT_TAIL_FREE + GPT_TABLE_SECTORS + 1
    vh = source.read(1024, 512) if source.size >= 1536 else b""
    disk_guid = content_uuid("gpt disk", vh, str(n))
    part_guid = content_uuid("gpt partition", vh, str(n))
    name16 = partition_name.encode("utf-16-le")[:72]
    entry = GptEntry(HFS_TYPE_GUID.bytes_le, part_guid.bytes_le, first, first + n - 1, 0,
                     name16).pack()
    table = entry + bytes(GPT_ENTRY_SIZE * (GPT_ENTRIES - 1))
    table_crc = zlib.crc32(table)
    last_usable = total - GPT_TABLE_SECTORS - 2
    primary = _gpt_header(1, total - 1, GPT_TABLE_SECTORS + 2, last_usable, disk_guid, 2,
                          table_crc)
    backup = _gpt_header(total - 1, 1, GPT_TABLE_SECTORS + 2, last_usable, disk_guid,
                         total - 1 - GPT_TABLE_SECTORS, table_crc)
    tail = first + n
    parts = [
        PlannedPartition("Protective Master Boot Record (MBR : 0)", -1, 0, 0, 1,
                   BytesSource(_protective_mbr(total))),
        PlannedPartition("GPT Header (Primary GPT Header : 1)", 0, 1, 1, 1, BytesSource(primary)),
        PlannedPartition("GPT Partition Data (Primary GPT Table : 2)", 1, 2, 2, GPT_TABLE_SECTORS,
                   BytesSource(table)),
        PlannedPartition(" (Apple_Free : 3)", 2, 3, 2 + GPT_TABLE_SECTORS,
                   first - 2 - GPT_TABLE_SECTORS, None),
        PlannedPartition(f"{partition_name} (Apple_HFS : 4)", 3, 4, first, n, source,
                   list(free_ranges or [])),
        PlannedPartition(" (Apple_Free : 5)", 4, 5, tail, GPT_TAIL_FREE, None),
        PlannedPartition("GPT Partition Data (Backup GPT Table : 6)", 5, 6, tail + GPT_TAIL_FREE,
                   GPT_TABLE_SECTORS, BytesSource(table)),
        PlannedPartition("GPT Header (Backup GPT Header : 7)", 6, 7, total - 1, 1,
                   BytesSource(backup)),
    ]
    return PartitionPlan(parts, VARIANT_DEVICE, total, "gpt")


# --------------------------------------------------------------------------
# Reading a partition map from an expanded disk.

@dataclass
class MapEntry:
    index: int
    name: str
    type: str
    first_sector: int
    sector_count: int

    def to_json(self) -> dict:
        return {"index": self.index, "name": self.name, "type": self.type,
                "first_sector": self.first_sector, "sector_count": self.sector_count}


def read_partition_map(disk: ImageSource) -> tuple[str, list[MapEntry], list[str]]:
    """(scheme, entries, problems) of the map at the start of ``disk``.

    Scheme is "gpt", "mbr", "apm" or "none".  Only checked sizes are read;
    problems (bad CRCs, entries outside the disk) are reported, not raised.
    """
    sectors = disk.size // SECTOR
    if sectors < 2:
        return "none", [], []
    s0 = disk.read(0, SECTOR)
    s1 = disk.read(SECTOR, SECTOR)
    if s0[:2] == b"ER" and s1[:2] == b"PM":
        return _read_apm(disk, sectors)
    if s1[:8] == GPT_SIGNATURE:
        return _read_gpt(disk, sectors, s1)
    if s0[510:512] == MBR_SIGNATURE:
        entries = []
        for i in range(4):
            e = MbrPartitionEntry.parse(s0, MBR_ENTRIES_AT + i * MBR_ENTRY_SIZE)
            if e.type:
                entries.append(MapEntry(i, "", f"{e.type:#04x}", e.first_lba, e.sector_count))
        problems = [f"MBR entry {e.index} runs past the disk" for e in entries
                    if e.first_sector + e.sector_count > sectors]
        return "mbr", entries, problems
    return "none", [], []


def _read_gpt(disk: ImageSource, sectors: int, s1: bytes):
    problems = []
    h = GptHeader.parse(s1)
    hsize, hcrc, elba = h.header_size, h.header_crc32, h.partition_entry_lba
    n, esize, ecrc = h.number_of_partition_entries, h.size_of_partition_entry, \
        h.partition_entry_array_crc32
    if not 92 <= hsize <= SECTOR:
        return "gpt", [], [f"GPT header size {hsize}"]
    check = bytearray(s1[:hsize])
    crc_at = GptHeader.offset_of("header_crc32")
    check[crc_at:crc_at + 4] = bytes(4)
    if zlib.crc32(check) != hcrc:
        problems.append("GPT header CRC32 mismatch")
    if not (0 < n <= GPT_MAX_ENTRIES and 128 <= esize <= 4096 and esize % 8 == 0):
        return "gpt", [], problems + [f"GPT entry array {n} x {esize} out of bounds"]
    nbytes = n * esize
    if elba * SECTOR + nbytes > disk.size:
        return "gpt", [], problems + ["GPT entry array runs past the disk"]
    array = disk.read(elba * SECTOR, nbytes)
    if zlib.crc32(array) != ecrc:
        problems.append("GPT entry array CRC32 mismatch")
    entries = []
    for i in range(n):
        e = GptEntry.parse(array, i * esize)
        tguid, first, last, name = e.partition_type_guid, e.starting_lba, e.ending_lba, \
            e.partition_name
        if tguid == bytes(16):
            continue
        t = uuid.UUID(bytes_le=tguid)
        label = name.decode("utf-16-le", "replace").split("\0", 1)[0]
        count = last - first + 1 if last >= first else 0
        entries.append(MapEntry(i, label, GPT_TYPE_NAMES.get(t, str(t).upper()), first, count))
        if first + count > sectors:
            problems.append(f"GPT entry {i} runs past the disk")
    return "gpt", entries, problems


def _read_apm(disk: ImageSource, sectors: int):
    entries = []
    problems = []
    first = disk.read(SECTOR, SECTOR)
    count = ApmEntry.parse(first).pmMapBlkCnt
    if not 0 < count <= APM_MAX_ENTRIES or count + 1 > sectors:
        return "apm", [], [f"APM map block count {count} out of bounds"]
    for i in range(count):
        raw = disk.read((1 + i) * SECTOR, SECTOR)
        e = ApmEntry.parse(raw)
        sig, start, blocks, name, ptype = e.pmSig, e.pmPyPartStart, e.pmPartBlkCnt, \
            e.pmPartName, e.pmParType
        if sig != b"PM":
            problems.append(f"APM entry {i} has no 'PM' signature")
            break
        entries.append(MapEntry(i, name.split(b"\0", 1)[0].decode("mac_roman"),
                                ptype.split(b"\0", 1)[0].decode("mac_roman"), start, blocks))
        if start + blocks > sectors:
            problems.append(f"APM entry {i} runs past the disk")
    return "apm", entries, problems
