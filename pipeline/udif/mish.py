"""The ``mish`` block table: one per partition (the ``Data`` of a blkx entry).

Fields as in docs/formats.md §2.3.  A table maps the
partition's sectors to chunks of the data fork, each stored with one codec
(or as zero fill / ignored free space).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..binstruct import BinStruct, on_disk
from .checksum import CHECKSUM_CRC32, checksum_field, checksum_value

MISH_MAGIC = b"mish"
MISH_VERSION = 1

CHUNK_ZERO = 0x00000000
CHUNK_RAW = 0x00000001
CHUNK_IGNORE = 0x00000002
CHUNK_ADC = 0x80000004
CHUNK_ZLIB = 0x80000005
CHUNK_BZIP2 = 0x80000006
CHUNK_LZFSE = 0x80000007
CHUNK_LZMA = 0x80000008
CHUNK_COMMENT = 0x7FFFFFFE
CHUNK_TERMINATOR = 0xFFFFFFFF

CHUNK_NAMES = {
    CHUNK_ZERO: "zero", CHUNK_RAW: "raw", CHUNK_IGNORE: "ignore",
    CHUNK_ADC: "adc", CHUNK_ZLIB: "zlib", CHUNK_BZIP2: "bzip2",
    CHUNK_LZFSE: "lzfse", CHUNK_LZMA: "lzma", CHUNK_COMMENT: "comment",
    CHUNK_TERMINATOR: "terminator",
}
# Chunks that carry no bytes in the data fork.
NO_DATA_CHUNKS = frozenset({CHUNK_ZERO, CHUNK_IGNORE, CHUNK_COMMENT, CHUNK_TERMINATOR})

# hdiutil's chunk size: 2048 sectors (1 MiB); buffersNeeded is that plus 8.
CHUNK_SECTORS = 2048
BUFFERS_SLACK = 8


@dataclass
class Chunk(BinStruct):
    """BLKXChunkEntry: a run of the partition's sectors and where its bytes are."""

    type: int = on_disk("I", "entryType")
    comment: int = on_disk("I", "comment")
    sector: int = on_disk("Q", "sectorNumber")          # relative to the partition
    sector_count: int = on_disk("Q", "sectorCount")
    offset: int = on_disk("Q", "compressedOffset")      # in the file
    length: int = on_disk("Q", "compressedLength")

    @property
    def type_name(self) -> str:
        return CHUNK_NAMES.get(self.type, f"{self.type:#010x}")


@dataclass
class BlkxTable(BinStruct):
    """BLKXTable: the header of a partition's table, then its chunks."""

    signature: bytes = on_disk("4s", "signature", MISH_MAGIC)
    version: int = on_disk("I", "version", MISH_VERSION)
    first_sector: int = on_disk("Q", "firstSectorNumber")
    sector_count: int = on_disk("Q", "sectorCount")
    data_offset: int = on_disk("Q", "dataOffset")
    buffers_needed: int = on_disk("I", "buffersNeeded", CHUNK_SECTORS + BUFFERS_SLACK)
    block_descriptors: int = on_disk("I", "blockDescriptors")
    reserved: bytes = on_disk("24s", "reserved", bytes(24), repr=False)
    checksum_type: int = on_disk("I", "checksumType", CHECKSUM_CRC32)
    checksum_size: int = on_disk("I", "checksumSize", 32)
    checksum: bytes = on_disk("128s", "checksum", bytes(128))
    chunk_count: int = on_disk("I", "numberOfBlockChunks")     # len(chunks) when packed
    chunks: list[Chunk] = field(default_factory=list)

    @classmethod
    def parse_header(cls, buf: bytes) -> tuple["BlkxTable", int]:
        """The table without its chunks, and the chunk count it declares."""
        table = super().parse(buf)
        return table, table.chunk_count

    @classmethod
    def parse(cls, buf: bytes, offset: int = 0) -> "BlkxTable":
        """Parse a table whose size has been checked by the caller."""
        table = super().parse(buf, offset)
        base = offset + MISH_SIZE
        table.chunks = [Chunk.parse(buf, base + i * CHUNK_SIZE) for i in range(table.chunk_count)]
        return table

    def pack(self) -> bytes:
        self.chunk_count = len(self.chunks)
        return super().pack() + b"".join(c.pack() for c in self.chunks)

    @property
    def crc32(self) -> int | None:
        return checksum_value(self.checksum_type, self.checksum_size, self.checksum)

    def set_crc32(self, crc: int | None) -> None:
        self.checksum_type, self.checksum_size, self.checksum = checksum_field(crc)


MISH_SIZE = BlkxTable.struct_size()
CHUNK_SIZE = Chunk.struct_size()
assert (MISH_SIZE, CHUNK_SIZE) == (204, 40)
