"""What file system a volume holds, by the magic numbers at known offsets.

Used to say what was found when a volume is not one this project reads
(HFS+/HFSX): "an APFS container" is more use to a user than "no HFS+
signature".  Only signatures, never a parse: a match names a candidate.
"""

from __future__ import annotations

from .imagesource import ImageSource

# (offset, magic, description, partition type as Apple's tools name it in
# a partition map or a whole-disk blkx name), checked in order.
_SIGNATURES = (
    (1024, b"H+", "an HFS+ volume", "Apple_HFS"),
    (1024, b"HX", "an HFSX volume", "Apple_HFS"),
    (1024, b"BD", "an HFS (Mac OS Standard) volume", "Apple_HFS"),
    (32, b"NXSB", "an APFS container", "Apple_APFS"),           # nx_superblock_t.nx_magic
    (3, b"NTFS    ", "an NTFS file system", "Windows_NTFS"),    # OEM id of the boot sector
    (3, b"EXFAT   ", "an exFAT file system", "Windows_NTFS"),   # exFAT shares NTFS's MBR type
    (82, b"FAT32   ", "a FAT32 file system", "DOS_FAT_32"),     # BS_FilSysType, FAT32 layout
    (54, b"FAT12   ", "a FAT12/16 file system", "DOS_FAT_12"),
    (54, b"FAT16   ", "a FAT12/16 file system", "DOS_FAT_16"),
    (54, b"FAT     ", "a FAT12/16 file system", "DOS_FAT_16"),
    (0x8001, b"CD001", "an ISO 9660 file system", "ISO9660"),   # primary volume descriptor
    (0x438, b"\x53\xef", "an ext2/3/4 file system", "Linux"),   # s_magic
    (512, b"EFI PART", "a GPT-partitioned disk", "GUID_partition_scheme"),
)


def _match(source: ImageSource) -> tuple[str, str] | None:
    for offset, magic, what, ptype in _SIGNATURES:
        if source.size >= offset + len(magic) and source.read(offset, len(magic)) == magic:
            return what, ptype
    return None


def identify(source: ImageSource) -> str | None:
    """A description of what ``source`` holds, or None when nothing is recognised."""
    found = _match(source)
    return found[0] if found else None


def partition_type(source: ImageSource) -> str:
    """The type name of what ``source`` holds, for a whole-disk image's
    partition name ("whole disk (<type> : 0)"); "unknown" when unrecognised."""
    found = _match(source)
    return found[1] if found else "unknown"
