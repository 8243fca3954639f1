"""Write a Mach-O file from slices produced as streams (after cctools'
``writeout``): a thin file is its one slice; a universal file gets a fat
header laid out for the new slice sizes, then each slice at its offset, the
gaps zero.  A slice writer holds a window of its slice at a time, so signing
a binary of any size needs memory for the window, not the binary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from ..atomic import atomic_output
from ..macho import FatHeader, MachOFile, read_macho, universal_layout


@dataclass
class SliceWriter:
    """A slice of ``size`` bytes that ``write`` produces into a file."""
    size: int
    write: Callable[[BinaryIO], None]


def write_macho(path: Path, fat: FatHeader | None, slices: list[SliceWriter],
                mode: int | None = None) -> MachOFile:
    """Write the file at ``path`` (atomically; ``mode`` None keeps the
    umask's); return it opened again, which checks that it parses."""
    with atomic_output(path) as fh:
        if fat is None:
            _write_slice(fh, 0, slices[0])
        else:
            header = universal_layout(fat, [s.size for s in slices])
            fh.write(header.pack())
            for arch, sl in zip(header.archs, slices):
                fh.write(bytes(arch.offset - fh.tell()))
                _write_slice(fh, arch.offset, sl)
    if mode is not None:
        os.chmod(path, mode)
    return read_macho(path)


def _write_slice(fh: BinaryIO, start: int, sl: SliceWriter) -> None:
    sl.write(fh)
    if fh.tell() != start + sl.size:
        raise AssertionError(f"a slice writer wrote {fh.tell() - start} bytes, not {sl.size}")
