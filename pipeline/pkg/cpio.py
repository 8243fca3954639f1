"""cpio archives as Apple's installer payloads use them; read side, streaming.

Two header formats, both ASCII numbers:

odc ("portable", POSIX.1; what Apple's payloads use), 76 bytes, octal:
  c_magic[6] "070707"  c_dev[6]  c_ino[6]  c_mode[6]  c_uid[6]  c_gid[6]
  c_nlink[6]  c_rdev[6]  c_mtime[11]  c_namesize[6]  c_filesize[11]
  then the name (c_namesize bytes with its NUL), then the data; no padding.

newc ("new ASCII", SVR4; "070702" adds a checksum), 110 bytes, hex:
  c_magic[6]  c_ino[8]  c_mode[8]  c_uid[8]  c_gid[8]  c_nlink[8]
  c_mtime[8]  c_filesize[8]  c_devmajor[8]  c_devminor[8]  c_rdevmajor[8]
  c_rdevminor[8]  c_namesize[8]  c_check[8]
  then the name, padded so that header + name is a multiple of 4, then the
  data padded to a multiple of 4.  Hard links carry their data once, in
  the last entry of the group; the others have size 0.

A symbolic link's data is its target.  The archive ends with an entry
named "TRAILER!!!".  Names are returned as stored less a leading "./";
callers decide where they may go (pipeline.safedest).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from ..errors import CorruptError

TRAILER = "TRAILER!!!"
MAX_NAME = 4096
MAX_LINK_TARGET = 4096

# (field, width) in header order after the 6-byte magic.
_ODC = (("dev", 6), ("ino", 6), ("mode", 6), ("uid", 6), ("gid", 6), ("nlink", 6),
        ("rdev", 6), ("mtime", 11), ("namesize", 6), ("filesize", 11))
_NEWC = (("ino", 8), ("mode", 8), ("uid", 8), ("gid", 8), ("nlink", 8), ("mtime", 8),
         ("filesize", 8), ("devmajor", 8), ("devminor", 8), ("rdevmajor", 8),
         ("rdevminor", 8), ("namesize", 8), ("check", 8))


@dataclass(frozen=True)
class CpioEntry:
    name: str           # as stored, without a leading "./"
    mode: int           # st_mode: type and permission bits
    ino: int
    dev: int
    nlink: int
    size: int           # bytes of data that follow (0 for all but the last of a newc link group)
    mtime: int
    offset: int         # of the header in the cpio stream
    link_target: str | None = None   # symbolic links

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)


class _Data:
    """The current entry's data, readable once, in order."""

    def __init__(self, stream: BinaryIO, size: int, name: str, where: str, offset: int) -> None:
        self._stream, self._left = stream, size
        self._name, self._where, self._offset = name, where, offset

    def read(self, n: int = -1) -> bytes:
        if self._left == 0:
            return b""
        want = self._left if n < 0 else min(n, self._left)
        data = self._stream.read(want)
        if len(data) < want:
            raise CorruptError(self._name, self._where, "data truncated", self._offset)
        self._left -= len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _numbers(raw: bytes, fields, base: int, name: str, offset: int) -> dict[str, int]:
    values, pos = {}, 6
    for field, width in fields:
        text = raw[pos:pos + width]
        try:
            values[field] = int(text, base)
        except ValueError:
            raise CorruptError(name, f"cpio header c_{field}", f"not a number: {text!r}",
                               offset + pos) from None
        pos += width
    return values


def read_entries(stream: BinaryIO, name: str = "<cpio>") -> Iterator[tuple[CpioEntry, _Data]]:
    """Each entry with a reader for its data.  Unread data is skipped when
    the next entry is asked for; the trailer ends the iteration."""
    offset = 0
    while True:
        magic = stream.read(6)
        if len(magic) < 6:
            raise CorruptError(name, "cpio header", "archive ends without its TRAILER!!! entry",
                               offset)
        if magic == b"070707":
            fields, base, size, align = _ODC, 8, 76, 1
        elif magic in (b"070701", b"070702"):
            fields, base, size, align = _NEWC, 16, 110, 4
        else:
            raise CorruptError(name, "cpio header c_magic",
                               f"{magic!r} is neither odc (070707) nor newc (070701/070702)",
                               offset)
        rest = stream.read(size - 6)
        if len(rest) < size - 6:
            raise CorruptError(name, "cpio header", "truncated", offset)
        values = _numbers(magic + rest, fields, base, name, offset)
        namesize = values["namesize"]
        if not 1 <= namesize <= MAX_NAME:
            raise CorruptError(name, "cpio header c_namesize", f"{namesize} bytes", offset)
        padded = _pad(size + namesize, align) - size
        raw_name = stream.read(padded)
        if len(raw_name) < padded:
            raise CorruptError(name, "cpio entry name", "truncated", offset + size)
        if raw_name[namesize - 1:namesize] != b"\0" or b"\0" in raw_name[:namesize - 1]:
            raise CorruptError(name, "cpio entry name", "not one NUL-terminated name",
                               offset + size)
        try:
            entry_name = raw_name[:namesize - 1].decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptError(name, "cpio entry name", "not UTF-8", offset + size) from None
        if entry_name == TRAILER:
            return
        while entry_name.startswith("./"):
            entry_name = entry_name[2:]
        filesize = values["filesize"]
        data_at = offset + size + padded
        where = f"cpio entry {entry_name!r}"
        dev = values.get("dev", (values.get("devmajor", 0) << 32) | values.get("devminor", 0))
        mode = values["mode"]
        link_target = None
        if stat.S_ISLNK(mode):
            if filesize > MAX_LINK_TARGET:
                raise CorruptError(name, f"{where} link target", f"{filesize} bytes", data_at)
            raw_target = stream.read(filesize)
            if len(raw_target) < filesize:
                raise CorruptError(name, f"{where} link target", "truncated", data_at)
            try:
                link_target = raw_target.decode("utf-8")
            except UnicodeDecodeError:
                raise CorruptError(name, f"{where} link target", "not UTF-8", data_at) from None
            data = _Data(stream, 0, name, where, data_at)
        else:
            data = _Data(stream, filesize, name, where, data_at)
        entry = CpioEntry(entry_name, mode, values["ino"], dev, values["nlink"], filesize,
                          values["mtime"], offset, link_target)
        yield entry, data
        data.drain()
        skip = _pad(filesize, align) - filesize
        if skip and len(stream.read(skip)) < skip:
            raise CorruptError(name, f"{where} padding", "truncated", data_at + filesize)
        offset = data_at + _pad(filesize, align)


def _pad(value: int, align: int) -> int:
    return (value + align - 1) // align * align
