"""The contract between volume writers and image writers.

A volume (the HFS+ writer's output, or a raw image file) is handed to the
UDIF writer as an ``ImageSource``: a random-access view of its bytes that
need not exist as one file.  This is what lets ``dmg create`` stream from
the HFS+ writer into the UDIF writer without a full-size temporary image.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

from .errors import InputError


@runtime_checkable
class ImageSource(Protocol):
    size: int
    """Total size in bytes (a multiple of 512)."""

    def read(self, offset: int, length: int) -> bytes:
        """Return exactly ``length`` bytes at ``offset`` (``offset + length <= size``)."""


class FileImageSource:
    """An ``ImageSource`` over an existing raw image file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        try:
            self._fh = open(self.path, "rb")
        except OSError as exc:
            raise InputError(f"{self.path}: cannot open: {exc.strerror}") from None
        self.size = os.fstat(self._fh.fileno()).st_size

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise InputError(f"{self.path}: read of {length} bytes at {offset} "
                             f"past the end ({self.size})")
        self._fh.seek(offset)
        data = self._fh.read(length)
        if len(data) != length:
            raise InputError(f"{self.path}: short read at {offset}")
        return data

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "FileImageSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
