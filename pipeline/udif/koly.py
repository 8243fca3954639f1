"""The UDIF trailer: the 512-byte ``koly`` block at the end of every .dmg.

Layout (big-endian) as in docs/formats.md §2.1; public references: QEMU
``block/dmg.c``, 7-Zip ``DmgHandler.cpp``, libyal libmodi "UDIF" notes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# signature, version, headerSize, flags, runningDataForkOffset,
# dataForkOffset, dataForkLength, rsrcForkOffset, rsrcForkLength,
# segmentNumber, segmentCount, segmentID, dataChecksumType,
# dataChecksumSize, dataChecksum, xmlOffset, xmlLength, reserved1,
# masterChecksumType, masterChecksumSize, masterChecksum, imageVariant,
# sectorCount, reserved2
KOLY_FORMAT = ">4sIIIQQQQQII16sII128sQQ120sII128sIQ12s"
KOLY_SIZE = struct.calcsize(KOLY_FORMAT)
assert KOLY_SIZE == 512
KOLY_MAGIC = b"koly"

# Values hdiutil writes.
KOLY_VERSION = 4
KOLY_FLAG_FLATTENED = 0x1
CHECKSUM_NONE = 0
CHECKSUM_CRC32 = 2
VARIANT_DEVICE = 1      # a partition map is present
VARIANT_PARTITION = 2   # the image is one partition ("whole disk")
SECTOR = 512


def checksum_field(crc32: int | None) -> tuple[int, int, bytes]:
    """(type, size in bits, 128-byte array) for a CRC32, or 'none'."""
    if crc32 is None:
        return CHECKSUM_NONE, 0, bytes(128)
    return CHECKSUM_CRC32, 32, struct.pack(">I", crc32) + bytes(124)


def checksum_value(kind: int, bits: int, data: bytes) -> int | None:
    """The CRC32 held in a UDIF checksum field, or None if it is not CRC32."""
    if kind != CHECKSUM_CRC32 or bits != 32:
        return None
    return struct.unpack_from(">I", data)[0]


@dataclass
class Koly:
    data_fork_length: int = 0
    xml_offset: int = 0
    xml_length: int = 0
    sector_count: int = 0
    segment_id: bytes = bytes(16)
    data_checksum_type: int = CHECKSUM_CRC32
    data_checksum_size: int = 32
    data_checksum: bytes = bytes(128)
    master_checksum_type: int = CHECKSUM_CRC32
    master_checksum_size: int = 32
    master_checksum: bytes = bytes(128)
    image_variant: int = VARIANT_PARTITION
    version: int = KOLY_VERSION
    header_size: int = KOLY_SIZE
    flags: int = KOLY_FLAG_FLATTENED
    running_data_fork_offset: int = 0
    data_fork_offset: int = 0
    rsrc_fork_offset: int = 0
    rsrc_fork_length: int = 0
    segment_number: int = 1
    segment_count: int = 1
    # codesign keeps the offset/length of a DMG signature here; kept verbatim.
    reserved1: bytes = field(default=bytes(120), repr=False)
    reserved2: bytes = field(default=bytes(12), repr=False)
    signature: bytes = KOLY_MAGIC

    @classmethod
    def parse(cls, buf: bytes) -> "Koly":
        (sig, version, header_size, flags, running, dfo, dfl, rfo, rfl, segno,
         segcount, segid, dct, dcs, dc, xo, xl, res1, mct, mcs, mc, variant,
         sectors, res2) = struct.unpack(KOLY_FORMAT, buf)
        return cls(data_fork_length=dfl, xml_offset=xo, xml_length=xl,
                   sector_count=sectors, segment_id=segid,
                   data_checksum_type=dct, data_checksum_size=dcs, data_checksum=dc,
                   master_checksum_type=mct, master_checksum_size=mcs,
                   master_checksum=mc, image_variant=variant, version=version,
                   header_size=header_size, flags=flags,
                   running_data_fork_offset=running, data_fork_offset=dfo,
                   rsrc_fork_offset=rfo, rsrc_fork_length=rfl,
                   segment_number=segno, segment_count=segcount,
                   reserved1=res1, reserved2=res2, signature=sig)

    def pack(self) -> bytes:
        return struct.pack(
            KOLY_FORMAT, self.signature, self.version, self.header_size, self.flags,
            self.running_data_fork_offset, self.data_fork_offset,
            self.data_fork_length, self.rsrc_fork_offset, self.rsrc_fork_length,
            self.segment_number, self.segment_count, self.segment_id,
            self.data_checksum_type, self.data_checksum_size, self.data_checksum,
            self.xml_offset, self.xml_length, self.reserved1,
            self.master_checksum_type, self.master_checksum_size,
            self.master_checksum, self.image_variant, self.sector_count,
            self.reserved2)

    @property
    def data_crc32(self) -> int | None:
        return checksum_value(self.data_checksum_type, self.data_checksum_size,
                              self.data_checksum)

    @property
    def master_crc32(self) -> int | None:
        return checksum_value(self.master_checksum_type, self.master_checksum_size,
                              self.master_checksum)
