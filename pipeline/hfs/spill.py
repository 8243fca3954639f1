"""Bytes parked in an unnamed temporary file instead of held in memory.

The catalog B-tree of a volume with a million files is ~350 MB; the writer
builds it node by node into one of these once it is larger than
``SPILL_BYTES``, so authoring memory does not carry it.  The file is
unnamed (created unlinked), so a killed run leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from typing import Iterator

from ..errors import InputError

# Trees larger than this are built in a temporary file.
SPILL_BYTES = 32 << 20
_WINDOW = 1 << 20


class SpilledBytes:
    """``size`` bytes, zero until written, in an unnamed temporary file."""

    def __init__(self, size: int, what: str) -> None:
        self.size = size
        self.what = what
        try:
            self._fh = tempfile.TemporaryFile()
            os.ftruncate(self._fh.fileno(), size)
        except OSError as exc:
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> InputError:
        return InputError(f"temporary file for the {self.what} in {tempfile.gettempdir()}: "
                          f"{exc.strerror or exc}")

    def __len__(self) -> int:
        return self.size

    def write_at(self, offset: int, data: bytes) -> None:
        try:
            self._fh.seek(offset)
            self._fh.write(data)
        except OSError as exc:
            raise self._error(exc) from None

    def read(self, offset: int, length: int) -> bytes:
        out = bytearray(length)
        self.readinto(offset, memoryview(out))
        return bytes(out)

    def readinto(self, offset: int, view: memoryview) -> None:
        try:
            self._fh.seek(offset)
            got = self._fh.readinto(view)
        except OSError as exc:
            raise self._error(exc) from None
        if got != len(view):
            raise InputError(f"temporary file for the {self.what}: short read at "
                             f"{offset + got}")

    def chunks(self) -> Iterator[bytes]:
        for pos in range(0, self.size, _WINDOW):
            yield self.read(pos, min(_WINDOW, self.size - pos))
