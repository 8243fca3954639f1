"""What file system a volume holds, by the magic numbers at known offsets.

Used to say what was found when a volume is not one this project reads
(HFS+/HFSX): "an APFS container" is more use to a user than "no HFS+
signature".  Only signatures, never a parse: a match names a candidate.
"""

from __future__ import annotations

from .imagesource import ImageSource

# (offset, magic, description), checked in order.
_SIGNATURES = (
    (1024, b"H+", "an HFS+ volume"),
    (1024, b"HX", "an HFSX volume"),
    (1024, b"BD", "an HFS (Mac OS Standard) volume"),
    (32, b"NXSB", "an APFS container"),                 # nx_superblock_t.nx_magic
    (3, b"NTFS    ", "an NTFS file system"),            # OEM id of the boot sector
    (3, b"EXFAT   ", "an exFAT file system"),
    (82, b"FAT32   ", "a FAT32 file system"),           # BS_FilSysType, FAT32 layout
    (54, b"FAT12   ", "a FAT12/16 file system"),
    (54, b"FAT16   ", "a FAT12/16 file system"),
    (54, b"FAT     ", "a FAT12/16 file system"),
    (0x8001, b"CD001", "an ISO 9660 file system"),      # primary volume descriptor
    (0x438, b"\x53\xef", "an ext2/3/4 file system"),    # s_magic
    (512, b"EFI PART", "a GPT-partitioned disk"),
)


def identify(source: ImageSource) -> str | None:
    """A description of what ``source`` holds, or None when nothing is recognised."""
    for offset, magic, what in _SIGNATURES:
        if source.size >= offset + len(magic) and source.read(offset, len(magic)) == magic:
            return what
    return None
