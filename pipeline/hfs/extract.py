"""Writing an HFS+ volume's tree to a folder on the host.

Folders first (private until the end), then files, then symbolic links, so
a hostile volume cannot redirect a write through a link it created; the
folders get their modes and dates last, deepest first.  The safety rules
(never outside ``dest``, never over what is there, nothing left behind on
failure) are ``pipeline.safedest``'s, shared with tarball extraction.

Metadata a Linux file cannot hold as such (extended attributes, Finder
info, resource forks) is never dropped silently.  ``metadata``:

- ``"linux"`` (default): user extended attributes (``user.com.apple.FinderInfo``,
  ``user.com.apple.ResourceFork``, ``user.<name>``); where the destination
  refuses one (no xattr support, a value over its size limit, a symbolic
  link), that item's metadata goes to an AppleDouble ``._name`` file instead;
- ``"appledouble"``: ``._name`` files beside every item that has metadata,
  as macOS writes them on foreign file systems;
- ``"none"``: nothing is written; what was left out is counted in the result.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from dataclasses import dataclass

from ..errors import CorruptError, InputError, UnsupportedError
from ..safedest import SafeDestination
from .appledouble import MAX_NAME_BYTES, build_appledouble
from .reader import Entry, HFSReader

_STREAM_CHUNK = 1 << 20
_ZEROS = bytes(_STREAM_CHUNK)
# Resource forks are small (icons, old-style resources); a larger one is
# refused rather than held in memory.
MAX_RESOURCE_FORK = 64 << 20
METADATA_MODES = ("linux", "appledouble", "none")
# Linux refuses xattr values over 64 KiB (XATTR_SIZE_MAX).
_LINUX_XATTR_MAX = 64 << 10
# Errors that mean "this file system will not hold that attribute here".
_XATTR_REFUSED = {errno.ENOTSUP, errno.EOPNOTSUPP, errno.E2BIG, errno.ENOSPC, errno.EPERM,
                  errno.ERANGE}


@dataclass
class ExtractResult:
    """What became of the metadata Linux files cannot hold as such."""

    linux_xattrs: int = 0         # attributes written as user.* extended attributes
    appledouble_files: int = 0    # ._name files written
    dropped: int = 0              # items whose metadata was left out (mode "none")

    def to_json(self) -> dict[str, int]:
        return {"linux_xattrs": self.linux_xattrs, "appledouble_files": self.appledouble_files,
                "dropped": self.dropped}


def _metadata(reader: HFSReader, entry: Entry) -> tuple[bytes, dict[str, bytes], bytes]:
    """(Finder info, attributes, resource fork) of one item; empty when it has none."""
    finder = entry.finder_info if any(entry.finder_info) else b""
    rsrc = b""
    if entry.kind == "file" and entry.rsrc_size:
        if entry.rsrc_size > MAX_RESOURCE_FORK:
            raise InputError(f"{reader.name}: {entry.path!r}: resource fork of "
                             f"{entry.rsrc_size} bytes is larger than extract keeps "
                             f"({MAX_RESOURCE_FORK}); use --xattrs none to leave it out")
        with reader.open(entry, "rsrc") as src:
            rsrc = src.read()
    for name in entry.xattrs:
        _check_xattr_name(reader, entry, name)
    return finder, dict(entry.xattrs), rsrc


def _check_xattr_name(reader: HFSReader, entry: Entry, name: str) -> None:
    """A name no Mac could have made, or none but HFS+ can hold, is an error
    here rather than a traceback from setxattr or a truncated ._ file."""
    where = f"{entry.path!r}: extended attribute {name!r}"
    if "\0" in name:
        raise CorruptError(reader.name, where, "name contains a NUL character")
    # (The reader refuses names that are not valid UTF-16.)  Linux holds
    # "user." + the name in 255 bytes and sends longer ones to AppleDouble,
    # whose limit is then the last word.
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        raise UnsupportedError(f"{reader.name}: {where}: name is {size} bytes of UTF-8; "
                               f"neither Linux nor AppleDouble keeps names over "
                               f"{MAX_NAME_BYTES}; use --xattrs none to leave it out")


def extract(reader: HFSReader, dest: str | os.PathLike, *,
            metadata: str = "linux") -> ExtractResult:
    """Write ``reader``'s tree below ``dest``; nothing is ever written outside it."""
    if metadata not in METADATA_MODES:
        raise InputError(f"metadata: {metadata!r} is not one of {', '.join(METADATA_MODES)}")
    result = ExtractResult()
    current = "."

    def outside(rel: str) -> Exception:
        return CorruptError(reader.name, f"catalog entry {rel!r}",
                            "would be written outside the destination")
    try:
        with SafeDestination(dest, outside) as out:
            links: list[Entry] = []
            dirs: list[tuple[str, Entry]] = []
            inode_paths: dict[int, str] = {}
            for entry in reader.entries():
                current = entry.path
                if entry.kind == "dir":
                    dirs.append((out.mkdir(entry.path, 0o700), entry))
                elif entry.kind == "symlink":
                    links.append(entry)
                elif entry.hardlink_inode is not None and entry.hardlink_inode in inode_paths:
                    out.hard_link(entry.path, inode_paths[entry.hardlink_inode])
                else:
                    with out.new_file(entry.path) as fh, reader.open(entry) as src:
                        _copy_sparse(src, fh)
                    target = out.target(entry.path)
                    _keep_metadata(reader, entry, out, target, metadata, result)
                    os.chmod(target, stat.S_IMODE(entry.mode) & 0o777)
                    os.utime(target, (entry.modify_date, entry.modify_date))
                    if entry.hardlink_inode is not None:
                        inode_paths[entry.hardlink_inode] = target
            for entry in links:
                current = entry.path
                target = out.symlink(entry.path, entry.link_target)
                _keep_metadata(reader, entry, out, target, metadata, result)
            for target, entry in reversed(dirs):
                current = entry.path
                _keep_metadata(reader, entry, out, target, metadata, result)
                os.chmod(target, stat.S_IMODE(entry.mode) & 0o777 or 0o755)
                os.utime(target, (entry.modify_date, entry.modify_date))
    except OSError as exc:
        raise InputError(f"{os.fspath(dest)}: cannot extract {current!r}: "
                         f"{exc.strerror or exc}") from None
    return result


def _copy_sparse(src, fh) -> None:
    """Copy a fork, leaving a hole where a whole window is zeros: a volume
    of mostly sparse files extracts to sparse files, not gigabytes of
    written zeros (the size is set at the end, so a trailing hole counts)."""
    size = 0
    hole_at_end = False
    while chunk := src.read(_STREAM_CHUNK):
        hole_at_end = chunk == (_ZEROS if len(chunk) == _STREAM_CHUNK else bytes(len(chunk)))
        if hole_at_end:
            fh.seek(len(chunk), os.SEEK_CUR)
        else:
            fh.write(chunk)
        size += len(chunk)
    if hole_at_end:
        fh.truncate(size)


def _keep_metadata(reader: HFSReader, entry: Entry, out: SafeDestination, target: str,
                   mode: str, result: ExtractResult) -> None:
    if mode == "none":
        if any(entry.finder_info) or entry.xattrs or (entry.kind == "file" and entry.rsrc_size):
            result.dropped += 1
        return
    finder, xattrs, rsrc = _metadata(reader, entry)
    if not (finder or xattrs or rsrc):
        return
    if mode == "linux" and entry.kind != "symlink":
        values = dict(xattrs)
        if finder:
            values["com.apple.FinderInfo"] = finder
        if rsrc:
            values["com.apple.ResourceFork"] = rsrc
        written = []
        try:
            for name, value in sorted(values.items()):
                if len(value) > _LINUX_XATTR_MAX:
                    raise OSError(errno.E2BIG, "value too large")
                os.setxattr(target, f"user.{name}", value, follow_symlinks=False)
                written.append(name)
            result.linux_xattrs += len(written)
            return
        except OSError as exc:
            if exc.errno not in _XATTR_REFUSED:
                raise
            for name in written:             # all of an item's metadata in one place
                os.removexattr(target, f"user.{name}", follow_symlinks=False)
    folder, name = posixpath.split(entry.path)
    with out.new_file(posixpath.join(folder, "._" + name), 0o644) as fh:
        fh.write(build_appledouble(finder, xattrs, rsrc))
    result.appledouble_files += 1
