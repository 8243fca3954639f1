"""Mach-O file object: finds the slices of a thin or universal file and
parses each slice's header and load commands.

Every offset and count read from the file is checked against the slice
before use; a malformed file raises ``CorruptError`` naming the file, the
architecture, the structure and the byte offset (relative to the file).

``read_macho`` reads only the headers and load commands of a file; the rest
of a slice is read on demand, a window at a time (``MachOSlice.read`` and
``chunks``), so signing or verifying a binary of any size holds a few MiB,
not the binary.  ``parse_macho`` parses bytes already in memory.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import CorruptError, InputError
from . import structs
from .fat import FatHeader

# Apps ship binaries of tens of MB; refuse to slurp anything absurd.
MAX_MACHO_SIZE = 4 << 30
# mach_header.ncmds is a u32; real binaries have < 200 commands.
MAX_NCMDS = 4096
# The load commands must fit between the header and the first section; real
# binaries have tens of KiB of them.  Larger is a hostile header.
MAX_SIZEOFCMDS = 16 << 20
# Page hashes of the largest slice accepted (4 GiB) with a SHA-1 and a
# SHA-256 CodeDirectory come to ~55 MiB; a larger LC_CODE_SIGNATURE is hostile.
MAX_SIGNATURE_SIZE = 64 << 20
# An embedded Info.plist is a few KiB; it is hashed from memory.
MAX_INFO_PLIST = 16 << 20
# How much of a slice is read before its header says how much more is needed.
_HEAD_READ = 64 << 10
# Contents are read and hashed in windows of this size.
WINDOW = 1 << 20


class FileRanges:
    """Byte ranges of one open file, read with pread: what the slices of a
    file opened by ``read_macho`` read their contents through."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            self.size = os.fstat(self.fd).st_size
        except OSError:
            self.close()
            raise

    def read(self, offset: int, length: int) -> bytes:
        parts = []
        while length > 0:
            piece = os.pread(self.fd, length, offset)
            if not piece:
                raise CorruptError(self.path, "file", "shorter than when it was opened (changed "
                                   "while being read?)", offset)
            parts.append(piece)
            offset += len(piece)
            length -= len(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        self.close()


@dataclass
class LoadCommand:
    index: int
    cmd: int
    cmdsize: int
    offset: int          # from the start of the slice


@dataclass
class Section:
    sectname: str
    segname: str
    addr: int
    size: int
    offset: int
    flags: int


@dataclass
class Segment:
    segname: str
    vmaddr: int
    vmsize: int
    fileoff: int
    filesize: int
    maxprot: int
    initprot: int
    flags: int
    sections: list[Section]
    command: LoadCommand


@dataclass
class LinkeditData:
    cmd: int
    dataoff: int
    datasize: int
    command: LoadCommand


@dataclass
class BuildVersion:
    platform: int
    minos: int
    sdk: int


@dataclass
class MachOSlice:
    """One architecture of ``size`` bytes.  ``data`` holds the whole slice
    when parsed from memory, or only its header and load commands when read
    from a file (``source``); ``read`` and ``chunks`` serve any range."""

    path: str
    file_offset: int     # where the slice starts in its file (0 if thin)
    data: bytes
    size: int
    magic: int
    cputype: int
    cpusubtype: int
    filetype: int
    ncmds: int
    sizeofcmds: int
    flags: int
    load_commands: list[LoadCommand] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    linkedit_data: list[LinkeditData] = field(default_factory=list)
    build_version: BuildVersion | None = None
    source: FileRanges | None = field(default=None, repr=False, compare=False)

    def read(self, offset: int, length: int) -> bytes:
        """Bytes ``[offset, offset + length)`` of the slice, clipped to it."""
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        if end <= len(self.data):
            return bytes(self.data[offset:end])
        assert self.source is not None, "a slice parsed from a prefix has a source"
        return self.source.read(self.file_offset + offset, end - offset)

    def chunks(self, start: int, end: int, window: int = WINDOW) -> Iterator[bytes | memoryview]:
        """The slice's bytes ``[start, end)`` in windows of at most ``window`` bytes."""
        end = min(end, self.size)
        in_memory = len(self.data) >= end
        for off in range(start, end, window):
            n = min(window, end - off)
            yield memoryview(self.data)[off:off + n] if in_memory else self.read(off, n)

    @property
    def arch(self) -> str:
        return structs.arch_name(self.cputype, self.cpusubtype)

    @property
    def is64(self) -> bool:
        return self.magic == structs.MH_MAGIC_64

    @property
    def header_size(self) -> int:
        return (structs.MachHeader64 if self.is64 else structs.MachHeader).struct_size()

    @property
    def code_signature(self) -> LinkeditData | None:
        for item in self.linkedit_data:
            if item.cmd == structs.LC_CODE_SIGNATURE:
                return item
        return None

    def segment(self, name: str) -> Segment | None:
        for seg in self.segments:
            if seg.segname == name:
                return seg
        return None

    def embedded_info_plist(self) -> bytes | None:
        """The ``__TEXT,__info_plist`` section's bytes, or None.  A Mach-O
        file outside a bundle (a command-line tool) seals these in its
        Info.plist slot, as codesign does (its MachORep::infoPlist)."""
        seg = self.segment("__TEXT")
        sec = next((s for s in seg.sections if s.sectname == "__info_plist"), None) \
            if seg is not None else None
        if sec is None:
            return None
        where = f"{self.arch} section __TEXT,__info_plist"
        at = self.file_offset + seg.command.offset
        if sec.size > MAX_INFO_PLIST:
            raise CorruptError(self.path, where + ".size", f"{sec.size:#x} bytes is over the "
                               f"{MAX_INFO_PLIST >> 20} MiB an Info.plist may have", at)
        if sec.offset + sec.size > self.size:
            raise CorruptError(self.path, where + ".offset", f"[{sec.offset:#x}, +{sec.size:#x}) "
                               f"runs past the slice ({self.size:#x} bytes)", at)
        return self.read(sec.offset, sec.size)

    def signature_bytes(self) -> bytes | None:
        cs = self.code_signature
        if cs is None:
            return None
        return self.read(cs.dataoff, cs.datasize)

    def first_section_offset(self) -> int:
        """Lowest file offset of section contents: the load commands may grow
        up to here.  codesign_allocate's rule (add_code_sig_load_command):
        sections with a size, skipping zero-fill ones - tested bitwise, so
        any section type with bit 0 set counts as zero-fill - and, for
        segments without sections, the segment's own non-zero file offset."""
        offsets = []
        for seg in self.segments:
            if seg.sections:
                offsets += [sec.offset for sec in seg.sections
                            if sec.size and sec.flags & structs.S_ZEROFILL != structs.S_ZEROFILL
                            and sec.flags & structs.S_THREAD_LOCAL_ZEROFILL != structs.S_THREAD_LOCAL_ZEROFILL]
            elif seg.fileoff and seg.filesize:
                offsets.append(seg.fileoff)
        return min(offsets) if offsets else self.size

    def linkedit_content_end(self) -> int:
        """End of the __LINKEDIT contents other than the code signature."""
        ends = []
        for item in self.linkedit_data:
            if item.cmd != structs.LC_CODE_SIGNATURE and item.datasize:
                ends.append(item.dataoff + item.datasize)
        for lc in self.load_commands:
            if lc.cmd == structs.LC_SYMTAB:
                symtab = structs.SymtabCommand.parse(self.data, lc.offset)
                nlist = 16 if self.is64 else 12
                if symtab.nsyms:
                    ends.append(symtab.symoff + symtab.nsyms * nlist)
                if symtab.strsize:
                    ends.append(symtab.stroff + symtab.strsize)
            elif lc.cmd == structs.LC_DYSYMTAB:
                for off, count, size in _dysymtab_tables(self, lc):
                    if count:
                        ends.append(off + count * size)
            elif lc.cmd in (structs.LC_DYLD_INFO, structs.LC_DYLD_INFO_ONLY):
                for off, size in structs.DyldInfoCommand.parse(self.data, lc.offset).tables():
                    if size:
                        ends.append(off + size)
        linkedit = self.segment("__LINKEDIT")
        if not ends and linkedit is not None:
            ends.append(linkedit.fileoff)
        return max(ends) if ends else self.size

    def where(self, structure: str) -> str:
        return f"{self.arch} {structure}"


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1")


def parse_slice(data: bytes, path: str, file_offset: int = 0, *, size: int | None = None,
                source: FileRanges | None = None) -> MachOSlice:
    """Parse one thin Mach-O image: ``data`` holds all of it, or (with
    ``size`` and ``source``) at least its header and load commands."""

    def fail(where: str, problem: str, off: int) -> CorruptError:
        return CorruptError(path, where, problem, file_offset + off)

    if size is None:
        size = len(data)
    if size < 4:
        raise fail("mach_header", "shorter than a Mach-O header", 0)
    (magic,) = struct.unpack_from("<I", data, 0)
    if magic == structs.MH_MAGIC_64:
        header_struct: type[structs.MachHeader] = structs.MachHeader64
    elif magic == structs.MH_MAGIC:
        header_struct = structs.MachHeader
    elif magic in (0xCEFAEDFE, 0xCFFAEDFE):
        raise UnsupportedBigEndian(path)
    else:
        raise fail("mach_header.magic", f"{magic:#x} is not a Mach-O magic", 0)
    hsize = header_struct.struct_size()
    if size < hsize:
        raise fail("mach_header", "shorter than a Mach-O header", 0)
    h = header_struct.parse(data)
    ncmds, sizeofcmds = h.ncmds, h.sizeofcmds
    sl = MachOSlice(path, file_offset, data, size, magic, h.cputype, h.cpusubtype, h.filetype,
                    ncmds, sizeofcmds, h.flags, source=source)
    arch = sl.arch
    if ncmds > MAX_NCMDS:
        raise fail(f"{arch} mach_header.ncmds", f"{ncmds} load commands is not sane", 16)
    if hsize + sizeofcmds > size:
        raise fail(f"{arch} mach_header.sizeofcmds",
                   f"{sizeofcmds} bytes of load commands run past the slice ({size} bytes)", 20)
    if sizeofcmds > MAX_SIZEOFCMDS:
        raise fail(f"{arch} mach_header.sizeofcmds", f"{sizeofcmds} bytes of load commands is "
                   "not sane", 20)
    if len(data) < hsize + sizeofcmds:
        raise ValueError("parse_slice: data must hold the header and load commands")
    pos = hsize
    end = hsize + sizeofcmds
    ptr_align = 8 if sl.is64 else 4
    for index in range(ncmds):
        if pos + structs.LoadCommandHeader.struct_size() > end:
            raise fail(f"{arch} load command {index}", "runs past sizeofcmds", pos)
        head = structs.LoadCommandHeader.parse(data, pos)
        cmd, cmdsize = head.cmd, head.cmdsize
        if cmdsize < structs.LoadCommandHeader.struct_size() or pos + cmdsize > end or cmdsize % 4:
            raise fail(f"{arch} load command {index} cmdsize", f"{cmdsize} is invalid", pos + 4)
        lc = LoadCommand(index, cmd, cmdsize, pos)
        sl.load_commands.append(lc)
        _parse_command(sl, lc, fail, ptr_align)
        pos += cmdsize
    if pos != end:
        raise fail(f"{arch} mach_header.sizeofcmds", f"load commands end at {pos:#x}, not {end:#x}", 20)
    return sl


class UnsupportedBigEndian(CorruptError):
    def __init__(self, path: str) -> None:
        super().__init__(path, "mach_header.magic", "big-endian Mach-O (PowerPC) is not supported", 0)


def _need(lc: LoadCommand, size: int, what: str, fail) -> None:
    if lc.cmdsize < size:
        raise fail(what + " cmdsize", f"{lc.cmdsize} is smaller than {size}", lc.offset + 4)


def _parse_command(sl: MachOSlice, lc: LoadCommand, fail, ptr_align: int) -> None:
    data = sl.data
    arch = sl.arch
    if lc.cmd in (structs.LC_SEGMENT, structs.LC_SEGMENT_64):
        is64 = lc.cmd == structs.LC_SEGMENT_64
        seg_struct = structs.SegmentCommand64 if is64 else structs.SegmentCommand
        sect_struct = structs.Section64 if is64 else structs.Section
        size, ssize = seg_struct.struct_size(), sect_struct.struct_size()
        _need(lc, size, f"{arch} segment command {lc.index}", fail)
        seg = seg_struct.parse(data, lc.offset)
        fileoff, filesize, nsects = seg.fileoff, seg.filesize, seg.nsects
        name = _name(seg.segname)
        where = f"{arch} segment {name}"
        if size + nsects * ssize > lc.cmdsize:
            raise fail(where + ".nsects", f"{nsects} sections do not fit in cmdsize {lc.cmdsize}",
                       lc.offset)
        if fileoff + filesize > sl.size:
            raise fail(where + ".filesize", f"[{fileoff:#x}, +{filesize:#x}) runs past the slice "
                       f"({sl.size:#x} bytes)", lc.offset)
        sections = []
        for i in range(nsects):
            sec = sect_struct.parse(data, lc.offset + size + i * ssize)
            sections.append(Section(_name(sec.sectname), _name(sec.segname), sec.addr, sec.size,
                                    sec.offset, sec.flags))
        sl.segments.append(Segment(name, seg.vmaddr, seg.vmsize, fileoff, filesize, seg.maxprot,
                                   seg.initprot, seg.flags, sections, lc))
    elif lc.cmd in structs.LINKEDIT_DATA_COMMANDS:
        _need(lc, structs.LinkeditDataCommand.struct_size(), f"{arch} load command {lc.index}", fail)
        led = structs.LinkeditDataCommand.parse(data, lc.offset)
        dataoff, datasize = led.dataoff, led.datasize
        if dataoff + datasize > sl.size:
            raise fail(f"{arch} linkedit_data_command {lc.cmd:#x}.dataoff",
                       f"[{dataoff:#x}, +{datasize:#x}) runs past the slice ({sl.size:#x} bytes)",
                       lc.offset + 8)
        if lc.cmd == structs.LC_CODE_SIGNATURE and datasize > MAX_SIGNATURE_SIZE:
            raise fail(f"{arch} LC_CODE_SIGNATURE.datasize", f"{datasize} bytes is larger than "
                       "any code signature", lc.offset + 12)
        sl.linkedit_data.append(LinkeditData(lc.cmd, dataoff, datasize, lc))
    elif lc.cmd == structs.LC_SYMTAB:
        _need(lc, structs.SymtabCommand.struct_size(), f"{arch} LC_SYMTAB", fail)
        st = structs.SymtabCommand.parse(data, lc.offset)
        nlist = 16 if sl.is64 else 12
        if st.symoff + st.nsyms * nlist > sl.size or st.stroff + st.strsize > sl.size:
            raise fail(f"{arch} LC_SYMTAB", "symbol or string table runs past the slice", lc.offset + 8)
    elif lc.cmd == structs.LC_DYSYMTAB:
        _need(lc, structs.DysymtabCommand.struct_size(), f"{arch} LC_DYSYMTAB", fail)
        for off, count, size in _dysymtab_tables(sl, lc):
            if off + count * size > sl.size:
                raise fail(f"{arch} LC_DYSYMTAB", f"a table at {off:#x} ({count} entries) runs "
                           "past the slice", lc.offset + 8)
    elif lc.cmd in (structs.LC_DYLD_INFO, structs.LC_DYLD_INFO_ONLY):
        _need(lc, structs.DyldInfoCommand.struct_size(), f"{arch} LC_DYLD_INFO", fail)
        for i, (off, size) in enumerate(structs.DyldInfoCommand.parse(data, lc.offset).tables()):
            if off + size > sl.size:
                raise fail(f"{arch} LC_DYLD_INFO", "a table runs past the slice",
                           lc.offset + 8 + 8 * i)
    elif lc.cmd == structs.LC_BUILD_VERSION:
        _need(lc, structs.BuildVersionCommand.struct_size(), f"{arch} LC_BUILD_VERSION", fail)
        bv = structs.BuildVersionCommand.parse(data, lc.offset)
        sl.build_version = BuildVersion(bv.platform, bv.minos, bv.sdk)


def _dysymtab_tables(sl: MachOSlice, lc: LoadCommand) -> list[tuple[int, int, int]]:
    """(file offset, count, entry size) of the tables LC_DYSYMTAB points at:
    toc, modtab, extrefsyms, indirectsyms, extrel, locrel."""
    d = structs.DysymtabCommand.parse(sl.data, lc.offset)
    modtab = 56 if sl.is64 else 52
    return [(d.tocoff, d.ntoc, 8), (d.modtaboff, d.nmodtab, modtab),
            (d.extrefsymoff, d.nextrefsyms, 4), (d.indirectsymoff, d.nindirectsyms, 4),
            (d.extreloff, d.nextrel, 8), (d.locreloff, d.nlocrel, 8)]


@dataclass
class MachOFile:
    path: str
    data: bytes | None   # None when read from a file (slices read their ranges)
    fat: FatHeader | None
    slices: list[MachOSlice]

    @property
    def is_universal(self) -> bool:
        return self.fat is not None


def is_macho(data: bytes) -> bool:
    """True for a thin or universal Mach-O header (FAT_MAGIC is shared with
    Java class files, whose second word is a version >= 45, far above any
    sane slice count)."""
    if len(data) < 8:
        return False
    (le,) = struct.unpack_from("<I", data, 0)
    if le in (structs.MH_MAGIC, structs.MH_MAGIC_64):
        return True
    be, n = struct.unpack_from(">II", data, 0)
    return be in (structs.FAT_MAGIC, structs.FAT_MAGIC_64) and 0 < n <= structs.MAX_FAT_ARCHS and n < 45


def parse_macho(data: bytes, path: str | os.PathLike = "<input>") -> MachOFile:
    path = os.fspath(path)
    if len(data) >= 4 and struct.unpack_from(">I", data, 0)[0] in (structs.FAT_MAGIC, structs.FAT_MAGIC_64):
        fat = FatHeader.parse(data, path)
        slices = [parse_slice(data[a.offset:a.offset + a.size], path, a.offset) for a in fat.archs]
        return MachOFile(path, data, fat, slices)
    return MachOFile(path, data, None, [parse_slice(data, path, 0)])


def read_macho(path: str | os.PathLike) -> MachOFile:
    """Open a Mach-O file: headers and load commands are read now, contents
    when a slice's ``read`` or ``chunks`` asks for them."""
    p = Path(path)
    name = os.fspath(p)
    try:
        source = FileRanges(name)
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror}") from None
    if source.size > MAX_MACHO_SIZE:
        raise InputError(f"{p}: {source.size} bytes is larger than any Mach-O this tool accepts")
    try:
        head = source.read(0, min(source.size, _HEAD_READ))
        if len(head) >= 4 and struct.unpack_from(">I", head, 0)[0] in (structs.FAT_MAGIC,
                                                                       structs.FAT_MAGIC_64):
            fat = FatHeader.parse(head, name, file_size=source.size)
            slices = [parse_slice(_slice_head(source, a.offset, a.size), name, a.offset,
                                  size=a.size, source=source) for a in fat.archs]
            return MachOFile(name, None, fat, slices)
        return MachOFile(name, None, None, [parse_slice(_slice_head(source, 0, source.size), name,
                                                        0, size=source.size, source=source)])
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror}") from None


def _slice_head(source: FileRanges, offset: int, size: int) -> bytes:
    """The first bytes of a slice: enough for its header and load commands
    (what parse_slice checks and refuses is left to it)."""
    head = source.read(offset, min(size, _HEAD_READ))
    if len(head) >= 24 and struct.unpack_from("<I", head, 0)[0] in (structs.MH_MAGIC,
                                                                    structs.MH_MAGIC_64):
        hsize = 32 if struct.unpack_from("<I", head, 0)[0] == structs.MH_MAGIC_64 else 28
        (sizeofcmds,) = struct.unpack_from("<I", head, 20)
        need = min(size, hsize + sizeofcmds)
        if len(head) < need and sizeofcmds <= MAX_SIZEOFCMDS:
            head = source.read(offset, need)
    return head
