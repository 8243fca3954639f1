"""The UDIF trailer: the 512-byte ``koly`` block at the end of every .dmg.

Fields as in docs/formats.md §2.1; public references: QEMU
``block/dmg.c``, 7-Zip ``DmgHandler.cpp``, libyal libmodi "UDIF" notes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..binstruct import BinStruct, on_disk
from .checksum import CHECKSUM_CRC32, checksum_value

KOLY_MAGIC = b"koly"

# Values hdiutil writes.
KOLY_VERSION = 4
KOLY_SIZE = 512
KOLY_FLAG_FLATTENED = 0x1
VARIANT_DEVICE = 1      # a partition map is present
VARIANT_PARTITION = 2   # the image is one partition ("whole disk")
SECTOR = 512


@dataclass
class Koly(BinStruct):
    """UDIFResourceFile, the trailer (docs/formats.md §2.1)."""

    signature: bytes = on_disk("4s", "signature", KOLY_MAGIC)
    version: int = on_disk("I", "version", KOLY_VERSION)
    header_size: int = on_disk("I", "headerSize", 512)
    flags: int = on_disk("I", "flags", KOLY_FLAG_FLATTENED)
    running_data_fork_offset: int = on_disk("Q", "runningDataForkOffset")
    data_fork_offset: int = on_disk("Q", "dataForkOffset")
    data_fork_length: int = on_disk("Q", "dataForkLength")
    rsrc_fork_offset: int = on_disk("Q", "rsrcForkOffset")
    rsrc_fork_length: int = on_disk("Q", "rsrcForkLength")
    segment_number: int = on_disk("I", "segmentNumber", 1)
    segment_count: int = on_disk("I", "segmentCount", 1)
    segment_id: bytes = on_disk("16s", "segmentID", bytes(16))
    data_checksum_type: int = on_disk("I", "dataChecksumType", CHECKSUM_CRC32)
    data_checksum_size: int = on_disk("I", "dataChecksumSize", 32)
    data_checksum: bytes = on_disk("128s", "dataChecksum", bytes(128))
    xml_offset: int = on_disk("Q", "xmlOffset")
    xml_length: int = on_disk("Q", "xmlLength")
    reserved1: bytes = on_disk("64s", "reserved1", bytes(64), repr=False)
    # Where `codesign` records a DMG's own signature (a SuperBlob after the
    # property list); zero in an unsigned image.
    code_signature_offset: int = on_disk("Q", "codeSignatureOffset")
    code_signature_length: int = on_disk("Q", "codeSignatureLength")
    reserved2: bytes = on_disk("40s", "reserved2", bytes(40), repr=False)
    master_checksum_type: int = on_disk("I", "masterChecksumType", CHECKSUM_CRC32)
    master_checksum_size: int = on_disk("I", "masterChecksumSize", 32)
    master_checksum: bytes = on_disk("128s", "masterChecksum", bytes(128))
    image_variant: int = on_disk("I", "imageVariant", VARIANT_PARTITION)
    sector_count: int = on_disk("Q", "sectorCount")
    reserved3: bytes = on_disk("12s", "reserved3", bytes(12), repr=False)

    @property
    def data_crc32(self) -> int | None:
        return checksum_value(self.data_checksum_type, self.data_checksum_size,
                              self.data_checksum)

    @property
    def master_crc32(self) -> int | None:
        return checksum_value(self.master_checksum_type, self.master_checksum_size,
                              self.master_checksum)


assert Koly.struct_size() == KOLY_SIZE
