"""Human-readable listing of HFS+ entries (``ls -l`` style)."""

from __future__ import annotations

import datetime
import stat
from typing import Iterable

from ..textescape import shown
from .reader import Entry


def _date(unix_seconds: int) -> str:
    when = datetime.datetime.fromtimestamp(unix_seconds, datetime.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def format_entry(e: Entry) -> str:
    size = e.data_size if e.kind != "dir" else (e.valence or 0)
    line = (f"{stat.filemode(e.mode)}{'@' if e.xattrs else ' '} {e.nlink:>3} "
            f"{e.uid:>5} {e.gid:>5} {size:>12} {_date(e.modify_date)} {shown(e.path)}")
    if e.kind == "dir":
        line += "/"
    if e.link_target is not None:
        line += f" -> {shown(e.link_target)}"
    extras = []
    if e.compression:
        extras.append(f"compressed ({e.compression})")
    if e.rsrc_size:
        extras.append(f"rsrc {e.rsrc_size}")
    if e.hardlink_inode is not None:
        extras.append(f"hard link to iNode{e.hardlink_inode}")
    if e.xattrs:
        extras.append("xattrs " + ",".join(shown(n) for n in sorted(e.xattrs)))
    if extras:
        line += "  [" + "; ".join(extras) + "]"
    return line


def format_entries(entries: Iterable[Entry]) -> str:
    """One line per entry: mode, links, uid, gid, size (item count for
    folders), modification date (UTC), path, link target, extras."""
    return "".join(format_entry(e) + "\n" for e in entries)
