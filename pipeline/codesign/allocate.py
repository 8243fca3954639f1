"""Make room for a code signature in one Mach-O slice, as Apple's
codesign_allocate does (cctools misc/codesign_allocate.c + libstuff
writeout.c):

- the signature is the last thing in __LINKEDIT and in the slice, at a
  16-byte aligned offset after the other link-edit data;
- LC_CODE_SIGNATURE is updated in place, or appended after the load
  commands when there is none (16 free bytes needed before the first
  section's data);
- __LINKEDIT.filesize ends at the end of the signature; __LINKEDIT.vmsize
  is rounded up to the segment alignment (0x1000 x86_64, 0x4000 arm64) only
  when the new filesize exceeds it.

The header bytes this touches are inside code page 0, so a signature made
for a different layout fails verification on page 0 - which is how apply
notices a signature from another allocator or build.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator

from ..binstruct import BinStruct
from ..errors import CorruptError, InputError
from ..macho import MachOSlice
from .. import macho

SIGNATURE_ALIGN = 16


def round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def default_dataoff(sl: MachOSlice) -> int:
    """Where codesign_allocate puts the signature: with an LC_CODE_SIGNATURE
    already there, 16 bytes past the end of the other link-edit data; without
    one, 16 bytes past the end of __LINKEDIT as it stands."""
    linkedit = sl.segment("__LINKEDIT")
    if sl.code_signature is None and linkedit is not None:
        return round_up(linkedit.fileoff + linkedit.filesize, SIGNATURE_ALIGN)
    return round_up(sl.linkedit_content_end(), SIGNATURE_ALIGN)


@dataclass
class Allocation:
    """A slice resized for a signature, described rather than copied: the
    new slice is ``head`` (the header and load commands, rewritten), then the
    input slice's bytes up to ``keep``, then zeros up to ``dataoff`` and
    through the ``datasize`` bytes the signature will fill."""

    slice: MachOSlice
    head: bytes
    keep: int
    dataoff: int
    datasize: int

    @property
    def size(self) -> int:
        return self.dataoff + self.datasize

    def chunks(self, window: int = macho.WINDOW) -> Iterator[bytes | memoryview]:
        """The new slice's bytes up to ``dataoff`` (what the code hashes
        cover), a window at a time."""
        yield self.head
        yield from self.slice.chunks(len(self.head), self.keep, window)
        zeros = self.dataoff - max(self.keep, len(self.head))
        while zeros > 0:
            n = min(zeros, window)
            yield bytes(n)
            zeros -= n

    def materialize(self) -> bytearray:
        """The whole new slice in memory, signature area zeroed."""
        out = bytearray()
        for chunk in self.chunks():
            out += chunk
        out += bytes(self.datasize)
        return out


def allocate(sl: MachOSlice, datasize: int, dataoff: int | None = None) -> bytearray:
    """Return the slice's bytes resized for a ``datasize``-byte signature at
    ``dataoff`` (default: codesign_allocate's choice), signature area zeroed."""
    return plan_allocation(sl, datasize, dataoff).materialize()


def plan_allocation(sl: MachOSlice, datasize: int, dataoff: int | None = None) -> Allocation:
    """Room for a ``datasize``-byte signature at ``dataoff`` (default:
    codesign_allocate's choice), as an Allocation: nothing past the load
    commands is read."""
    linkedit = sl.segment("__LINKEDIT")
    if linkedit is None:
        raise CorruptError(sl.path, f"{sl.arch} __LINKEDIT", "no __LINKEDIT segment: cannot "
                           "hold a code signature", sl.file_offset)
    last = max(sl.segments, key=lambda seg: seg.fileoff + seg.filesize)
    if last is not linkedit and last.filesize:
        raise CorruptError(sl.path, f"{sl.arch} __LINKEDIT", f"segment {last.segname} follows "
                           "__LINKEDIT in the file", sl.file_offset + linkedit.command.offset)
    content_end = sl.linkedit_content_end()
    if dataoff is None:
        dataoff = default_dataoff(sl)
    if dataoff % SIGNATURE_ALIGN or dataoff < content_end or dataoff < linkedit.fileoff:
        raise InputError(f"{sl.path}: {sl.arch}: a signature at offset {dataoff:#x} does not fit: "
                         f"link-edit data ends at {content_end:#x} and the signature must start "
                         f"at a 16-byte boundary after it (signature made for another build?)")
    if dataoff > round_up(sl.size, SIGNATURE_ALIGN):
        # codesign_allocate never leaves a gap after the slice's last byte;
        # checked before allocating, as dataoff comes from the signature.
        raise InputError(f"{sl.path}: {sl.arch}: a signature at offset {dataoff:#x} does not fit: "
                         f"the slice ends at {sl.size:#x} (signature made for another "
                         "build?)")
    # Any positive size: codesign pads to 16 bytes, but Go's linker and
    # ld64-820 record the SuperBlob's exact length (82226 bytes, say).
    if datasize <= 0:
        raise InputError(f"{sl.path}: {sl.arch}: signature size {datasize} is not positive")
    old = sl.code_signature
    keep = min(dataoff, old.dataoff if old is not None else sl.size, sl.size)
    # Everything rewritten lies in the header, the load commands and the
    # LC_CODE_SIGNATURE appended after them.
    head_len = min(sl.header_size + sl.sizeofcmds + macho.LinkeditDataCommand.struct_size(),
                   dataoff + datasize)
    head = bytearray(sl.read(0, min(keep, head_len)))
    head += bytes(head_len - len(head))

    if old is not None:
        _rewrite(head, old.command.offset, macho.LinkeditDataCommand, dataoff=dataoff, datasize=datasize)
    else:
        _append_command(sl, head, dataoff, datasize)

    filesize = dataoff + datasize - linkedit.fileoff
    vmsize = linkedit.vmsize
    if filesize > vmsize:
        vmsize = round_up(filesize, macho.segment_alignment(sl.cputype))
    cmd = linkedit.command
    segment = macho.SegmentCommand64 if cmd.cmd == macho.LC_SEGMENT_64 else macho.SegmentCommand
    _rewrite(head, cmd.offset, segment, vmsize=vmsize, filesize=filesize)
    return Allocation(sl, bytes(head[:min(head_len, dataoff)]), keep, dataoff, datasize)


def _rewrite(out: bytearray, offset: int, structure: type[BinStruct], **changes: int) -> None:
    """Change fields of the structure at ``offset`` in place."""
    size = structure.struct_size()
    record = dataclasses.replace(structure.parse(out, offset), **changes)
    out[offset:offset + size] = record.pack()


def _append_command(sl: MachOSlice, out: bytearray, dataoff: int, datasize: int) -> None:
    end = sl.header_size + sl.sizeofcmds
    room = sl.first_section_offset() - end
    size = macho.LinkeditDataCommand.struct_size()
    if room < size:
        raise InputError(f"{sl.path}: {sl.arch}: no room for LC_CODE_SIGNATURE after the load "
                         f"commands ({room} free bytes; relink with -headerpad)")
    if any(out[end:end + size]):
        # Tools that strip a signature can leave the old command's bytes.
        leftover = bytes(out[end:end + size]).hex()
        raise InputError(f"{sl.path}: {sl.arch}: the {room} bytes after the load commands "
                         f"(offset {end:#x}) are not free: they hold leftover data ({leftover}), "
                         "as a tool that removed a load command may leave; zero them or "
                         "relink before signing")
    out[end:end + size] = macho.LinkeditDataCommand(cmd=macho.LC_CODE_SIGNATURE, cmdsize=size,
                                                dataoff=dataoff, datasize=datasize).pack()
    header = macho.MachHeader64 if sl.is64 else macho.MachHeader
    _rewrite(out, 0, header, ncmds=sl.ncmds + 1, sizeofcmds=sl.sizeofcmds + size)
