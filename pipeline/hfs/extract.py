"""Writing an HFS+ volume's tree to a folder on the host.

Folders first (private until the end), then files, then symbolic links, so
a hostile volume cannot redirect a write through a link it created; the
folders get their modes and dates last, deepest first.  The safety rules
(never outside ``dest``, never over what is there, nothing left behind on
failure) are ``pipeline.safedest``'s, shared with tarball extraction.
"""

from __future__ import annotations

import os
import stat

from ..errors import CorruptError, InputError
from ..safedest import SafeDestination
from .reader import Entry, HFSReader

_STREAM_CHUNK = 1 << 20


def extract(reader: HFSReader, dest: str | os.PathLike) -> None:
    """Write ``reader``'s tree below ``dest``; nothing is ever written outside it."""
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
                        while chunk := src.read(_STREAM_CHUNK):
                            fh.write(chunk)
                    target = out.target(entry.path)
                    os.chmod(target, stat.S_IMODE(entry.mode) & 0o777)
                    os.utime(target, (entry.modify_date, entry.modify_date))
                    if entry.hardlink_inode is not None:
                        inode_paths[entry.hardlink_inode] = target
            for entry in links:
                current = entry.path
                out.symlink(entry.path, entry.link_target)
            for target, entry in reversed(dirs):
                current = entry.path
                os.chmod(target, stat.S_IMODE(entry.mode) & 0o777 or 0o755)
                os.utime(target, (entry.modify_date, entry.modify_date))
    except OSError as exc:
        raise InputError(f"{os.fspath(dest)}: cannot extract {current!r}: "
                         f"{exc.strerror or exc}") from None
