"""The ``mish`` block table: one per partition (the ``Data`` of a blkx entry).

Layout (big-endian) as in docs/formats.md §2.3.  A table maps the
partition's sectors to chunks of the data fork, each stored with one codec
(or as zero fill / ignored free space).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .koly import CHECKSUM_CRC32, checksum_field, checksum_value

# signature, version, firstSectorNumber, sectorCount, dataOffset,
# buffersNeeded, blockDescriptors, reserved (6 x u32), checksumType,
# checksumSize, checksum, numberOfBlockChunks
MISH_FORMAT = ">4sIQQQII24sII128sI"
MISH_SIZE = struct.calcsize(MISH_FORMAT)
assert MISH_SIZE == 204
MISH_MAGIC = b"mish"
MISH_VERSION = 1

# type, comment, sectorNumber (relative to the partition), sectorCount,
# compressedOffset (in the file), compressedLength
CHUNK_FORMAT = ">IIQQQQ"
CHUNK_SIZE = struct.calcsize(CHUNK_FORMAT)
assert CHUNK_SIZE == 40

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
class Chunk:
    type: int
    sector: int            # first sector, relative to the partition
    sector_count: int
    offset: int = 0        # compressed offset in the file
    length: int = 0        # compressed length
    comment: int = 0

    @classmethod
    def parse(cls, buf: bytes, offset: int = 0) -> "Chunk":
        ctype, comment, sector, count, coff, clen = struct.unpack_from(CHUNK_FORMAT, buf, offset)
        return cls(ctype, sector, count, coff, clen, comment)

    def pack(self) -> bytes:
        return struct.pack(CHUNK_FORMAT, self.type, self.comment, self.sector,
                           self.sector_count, self.offset, self.length)

    @property
    def type_name(self) -> str:
        return CHUNK_NAMES.get(self.type, f"{self.type:#010x}")


@dataclass
class BlkxTable:
    first_sector: int
    sector_count: int
    chunks: list[Chunk] = field(default_factory=list)
    checksum_type: int = CHECKSUM_CRC32
    checksum_size: int = 32
    checksum: bytes = bytes(128)
    buffers_needed: int = CHUNK_SECTORS + BUFFERS_SLACK
    block_descriptors: int = 0
    data_offset: int = 0
    version: int = MISH_VERSION
    reserved: bytes = field(default=bytes(24), repr=False)
    signature: bytes = MISH_MAGIC

    @classmethod
    def parse_header(cls, buf: bytes) -> tuple["BlkxTable", int]:
        """The table without its chunks, and the chunk count it declares."""
        (sig, version, first, count, data_offset, buffers, descriptors, reserved,
         ctype, csize, csum, nchunks) = struct.unpack_from(MISH_FORMAT, buf)
        table = cls(first, count, [], ctype, csize, csum, buffers, descriptors,
                    data_offset, version, reserved, sig)
        return table, nchunks

    @classmethod
    def parse(cls, buf: bytes) -> "BlkxTable":
        """Parse a table whose size has been checked by the caller."""
        table, nchunks = cls.parse_header(buf)
        table.chunks = [Chunk.parse(buf, MISH_SIZE + i * CHUNK_SIZE) for i in range(nchunks)]
        return table

    def pack(self) -> bytes:
        head = struct.pack(MISH_FORMAT, self.signature, self.version, self.first_sector,
                           self.sector_count, self.data_offset, self.buffers_needed,
                           self.block_descriptors, self.reserved, self.checksum_type,
                           self.checksum_size, self.checksum, len(self.chunks))
        return head + b"".join(c.pack() for c in self.chunks)

    @property
    def crc32(self) -> int | None:
        return checksum_value(self.checksum_type, self.checksum_size, self.checksum)

    def set_crc32(self, crc: int | None) -> None:
        self.checksum_type, self.checksum_size, self.checksum = checksum_field(crc)
