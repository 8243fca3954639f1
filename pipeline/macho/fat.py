"""Universal ("fat") Mach-O container: fat_header + fat_arch table.

Slices start at multiples of 2**align.  When a slice grows (a signature is
attached), every later slice moves to the next aligned offset, exactly as
lipo and codesign_allocate lay them out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import CorruptError
from .structs import FAT_MAGIC, FAT_MAGIC_64, MAX_FAT_ARCHS, FatArch, FatArch64, FatHeaderFields

# lipo refuses alignments above 2**15; anything larger is a hostile header.
MAX_ALIGN = 15


@dataclass
class FatHeader:
    magic: int
    archs: list[FatArch]

    @property
    def is64(self) -> bool:
        return self.magic == FAT_MAGIC_64

    @property
    def arch_struct(self) -> type[FatArch]:
        return FatArch64 if self.is64 else FatArch

    @property
    def header_size(self) -> int:
        return FatHeaderFields.struct_size() + len(self.archs) * self.arch_struct.struct_size()

    @classmethod
    def parse(cls, data: bytes, path: str | None = None,
              file_size: int | None = None) -> "FatHeader":
        """The header and arch table at the start of ``data``; slices are
        checked against ``file_size`` (default: ``data`` is the whole file)."""
        if file_size is None:
            file_size = len(data)
        head_size = FatHeaderFields.struct_size()
        if len(data) < head_size:
            raise CorruptError(path, "fat_header", "file shorter than a fat header", 0)
        head = FatHeaderFields.parse(data)
        magic, nfat = head.magic, head.nfat_arch
        if magic not in (FAT_MAGIC, FAT_MAGIC_64):
            raise CorruptError(path, "fat_header.magic", f"{magic:#x} is not a universal binary", 0)
        if not 0 < nfat <= MAX_FAT_ARCHS:
            raise CorruptError(path, "fat_header.nfat_arch",
                               f"{nfat} slices (expected 1..{MAX_FAT_ARCHS})", 4)
        arch_struct = FatArch64 if magic == FAT_MAGIC_64 else FatArch
        size = arch_struct.struct_size()
        if head_size + nfat * size > len(data):
            raise CorruptError(path, "fat_arch table", "runs past the end of the file", head_size)
        archs = []
        for i in range(nfat):
            off = head_size + i * size
            arch = arch_struct.parse(data, off)
            where = f"fat_arch[{i}] ({arch.arch})"
            if arch.align > MAX_ALIGN:
                raise CorruptError(path, where + ".align", f"2**{arch.align} is not a sane alignment", off)
            if arch.offset < head_size + nfat * size or arch.offset + arch.size > file_size:
                raise CorruptError(path, where, f"slice [{arch.offset:#x}, +{arch.size:#x}) is outside "
                                   f"the file ({file_size:#x} bytes)", off)
            if arch.offset % (1 << arch.align):
                raise CorruptError(path, where + ".offset",
                                   f"{arch.offset:#x} is not aligned to 2**{arch.align}", off)
            archs.append(arch)
        # lipo refuses "two of the same architecture"; a signature tarball
        # names slices by architecture, so a duplicate would be ambiguous.
        names = [a.arch for a in archs]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise CorruptError(path, f"fat_arch[{i}] ({name})",
                                   "a second slice of the same architecture",
                                   head_size + i * size)
        spans = sorted((a.offset, a.offset + a.size, a.arch) for a in archs)
        for (s0, e0, n0), (s1, _e1, n1) in zip(spans, spans[1:]):
            if s1 < e0:
                raise CorruptError(path, "fat_arch table", f"slices {n0} and {n1} overlap", s1)
        return cls(magic, archs)

    def pack(self) -> bytes:
        head = FatHeaderFields(magic=self.magic, nfat_arch=len(self.archs)).pack()
        return head + b"".join(a.pack() for a in self.archs)


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def universal_layout(header: FatHeader, sizes: list[int]) -> FatHeader:
    """The header for slices of ``sizes`` bytes (same arch order, same aligns).

    The first slice keeps its offset; each later one starts at the next
    multiple of its own alignment after the previous slice, which is what
    lipo and codesign_allocate write.
    """
    if len(sizes) != len(header.archs):
        raise ValueError("one slice per fat_arch")
    archs = []
    pos = header.header_size
    for i, (arch, size) in enumerate(zip(header.archs, sizes)):
        offset = arch.offset if i == 0 else _round_up(pos, 1 << arch.align)
        if offset < pos:
            offset = _round_up(pos, 1 << arch.align)
        archs.append(dataclasses.replace(arch, offset=offset, size=size))
        pos = offset + size
    return FatHeader(header.magic, archs)


def build_universal(header: FatHeader, slices: list[bytes | bytearray]) -> bytes:
    """Lay ``slices`` out behind ``header`` as ``universal_layout`` places
    them; the gap bytes are zero."""
    new_header = universal_layout(header, [len(data) for data in slices])
    archs = new_header.archs
    out = bytearray()
    out += new_header.pack()
    for arch, data in zip(archs, slices):
        out += bytes(arch.offset - len(out))
        out += data
    return bytes(out)
