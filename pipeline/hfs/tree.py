"""The in-memory tree a volume is authored from.

A tree is folders, files and symlinks keyed by POSIX name.  File data comes
from a path on disk (read in chunks when the volume is written) or from
bytes, so a stage can add entries - e.g. an ``Applications -> /Applications``
symlink next to an .app - without staging them on disk::

    tree = tree_from_directory("build/stage")
    tree.add("Applications", Symlink(target="/Applications"))
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Hashable, Iterator

from ..errors import InputError

if TYPE_CHECKING:
    from .spill import ForkStore


@dataclass(frozen=True, slots=True)
class FileData:
    """Where a fork's bytes come from: a file at ``path``, ``data``, or
    ``size`` bytes from ``offset`` in a ``spill.ForkStore`` (``store``)."""

    path: str | None = None
    data: bytes | None = None
    size: int = 0
    offset: int = 0
    store: ForkStore | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> "FileData":
        return cls(data=bytes(data), size=len(data))

    def to_record(self) -> tuple:
        """What a spilled record keeps of it (``marshal`` stores tuples;
        a store is the one the reader of the record hands back)."""
        return self.path, self.data, self.size, self.offset, self.store is not None

    @classmethod
    def from_record(cls, record: tuple, store: ForkStore | None = None) -> "FileData":
        path, data, size, offset, stored = record
        return cls(path, data, size, offset, store if stored else None)

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> "FileData":
        p = os.fspath(path)
        try:
            size = os.stat(p).st_size
        except OSError as exc:
            raise InputError(f"{p}: cannot read: {exc.strerror}") from None
        return cls(path=p, size=size)


EMPTY = FileData.from_bytes(b"")


@dataclass
class FinderInfo:
    """The 32 bytes of Finder info: FileInfo/FolderInfo then the extended info.

    For files the first 8 bytes are type and creator; ``flags`` (fdFlags /
    frFlags) holds e.g. kIsInvisible 0x4000 and kHasCustomIcon 0x0400.
    """

    raw: bytes = bytes(32)

    @classmethod
    def for_file(cls, file_type: bytes = b"\0\0\0\0", creator: bytes = b"\0\0\0\0",
                 flags: int = 0) -> "FinderInfo":
        if len(file_type) != 4 or len(creator) != 4:
            raise InputError("Finder info: type and creator must be 4 bytes each")
        return cls(file_type + creator + flags.to_bytes(2, "big") + bytes(22))

    @classmethod
    def for_folder(cls, flags: int = 0) -> "FinderInfo":
        return cls(bytes(8) + flags.to_bytes(2, "big") + bytes(22))

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise InputError(f"Finder info must be 32 bytes, got {len(self.raw)}")


@dataclass(slots=True)
class Entry:
    """Common metadata.  ``mode`` holds permission bits only (0o7777) and is
    used verbatim only with ``keep_modes``; otherwise the writer normalises."""

    mode: int | None = None
    xattrs: dict[str, bytes] = field(default_factory=dict)
    finder_info: FinderInfo | None = None
    origin: str | None = None        # where it came from, for error messages
    # BSD file flags as chflags(2) takes them: UF_* in bits 0-7 (stored as
    # ownerFlags, e.g. UF_HIDDEN is not representable, UF_COMPRESSED 0x20 is),
    # SF_* in bits 16-23 (adminFlags).
    bsd_flags: int = 0


@dataclass(slots=True)
class Folder(Entry):
    """A folder.  One read from disk (``tree_from_directory``) lists its
    ``directory`` when its children are first asked for and keeps them; a
    writer walking the whole tree reads the folders nobody asked for with
    ``names()`` and ``entry()``, which do not keep them, so a large tree (or
    a large folder) is never held whole."""

    directory: str | None = None
    _children: dict[str, "Entry"] | None = field(default=None, repr=False)

    @property
    def children(self) -> dict[str, "Entry"]:
        if self._children is None:
            self._children = {} if self.directory is None else _list_directory(self.directory)
        return self._children

    def names(self) -> Iterator[str]:
        """The children's names, in no particular order: those kept, or the
        directory's as it is read, so a folder of a million files is never
        listed whole.  A directory's names that are not UTF-8 are reported
        once it has been read, the first in name order, so the error does
        not depend on the order the file system lists them in."""
        if self._children is not None or self.directory is None:
            yield from self.children
            return
        undecodable: list[str] = []
        try:
            with os.scandir(self.directory) as listing:
                for found in listing:
                    if _is_utf8(found.name):
                        yield found.name
                    else:
                        undecodable.append(found.name)
        except OSError as exc:
            raise InputError(f"{self.directory}: cannot list: {exc.strerror}") from None
        if undecodable:
            raise _not_utf8(self.directory, min(undecodable))

    def entry(self, name: str) -> "Entry":
        """The child ``name`` (one of ``names()``): kept, or read afresh and not kept."""
        if self._children is not None or self.directory is None:
            return self.children[name]
        return _entry_at(self.directory, name)


@dataclass(slots=True)
class File(Entry):
    data: FileData = EMPTY
    rsrc: FileData | None = None
    # Files sharing a link_group are hard links to one another.
    link_group: Hashable | None = None


@dataclass(slots=True)
class Symlink(Entry):
    target: str = ""                 # stored as UTF-8 (surrogateescape for raw bytes)


@dataclass
class Tree:
    root: Folder = field(default_factory=Folder)

    def add(self, path: str, entry: Entry) -> Entry:
        """Add ``entry`` at POSIX ``path`` (relative), creating parent folders."""
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            raise InputError(f"tree path {path!r}: must be relative, without '..'")
        folder = self.root
        for i, part in enumerate(parts[:-1]):
            nxt = folder.children.get(part)
            if nxt is None:
                nxt = folder.children[part] = Folder(origin="/".join(parts[:i + 1]))
            if not isinstance(nxt, Folder):
                raise InputError(f"tree path {path!r}: {'/'.join(parts[:i + 1])!r} is not a folder")
            folder = nxt
        if parts[-1] in folder.children:
            raise InputError(f"tree path {path!r}: already exists")
        if entry.origin is None:
            entry.origin = "/".join(parts)
        folder.children[parts[-1]] = entry
        return entry

    def get(self, path: str) -> Entry | None:
        node: Entry = self.root
        for part in (p for p in path.split("/") if p not in ("", ".")):
            if not isinstance(node, Folder) or part not in node.children:
                return None
            node = node.children[part]
        return node

    def walk(self) -> Iterator[tuple[str, Entry]]:
        """(path, entry) for every entry below the root, names sorted."""
        stack = [("", self.root)]
        while stack:
            prefix, folder = stack.pop()
            for name in sorted(folder.children, reverse=True):
                child = folder.children[name]
                path = prefix + name
                if isinstance(child, Folder):
                    stack.append((path + "/", child))
            for name in sorted(folder.children):
                yield prefix + name, folder.children[name]


def tree_from_directory(path: str | os.PathLike) -> Tree:
    """Model of a directory: folders, regular files, symlinks (never followed).

    Only the top folder is listed here; each folder below is listed when it
    is first needed (``Folder``), so a tree of a million files is walked by
    the writer, never held.  Files with more than one link share a
    ``link_group`` (device, inode): the writer makes HFS+ hard links of a
    group's names inside the tree, and a file whose other names are all
    outside it is just a file.  Sockets, FIFOs and device files are refused.
    """
    top = os.fspath(path)
    try:
        st = os.stat(top)       # the top folder may be given through a symlink
    except OSError as exc:
        raise InputError(f"{top}: cannot read: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(f"{top}: not a directory")
    return Tree(Folder(mode=stat.S_IMODE(st.st_mode), origin=top, directory=top))


def _list_directory(dirpath: str) -> dict[str, Entry]:
    """One directory's entries, by name; folders below it are not listed."""
    try:
        names = sorted(os.listdir(dirpath))
    except OSError as exc:
        raise InputError(f"{dirpath}: cannot list: {exc.strerror}") from None
    for name in names:
        if not _is_utf8(name):
            raise _not_utf8(dirpath, name)
    return {name: _entry_at(dirpath, name) for name in names}


def _entry_at(dirpath: str, name: str) -> Entry:
    """The entry for ``name`` (UTF-8, as checked by the caller) in ``dirpath``,
    from lstat (a folder is not listed)."""
    full = os.path.join(dirpath, name)
    try:
        st = os.lstat(full)
        target = os.readlink(full) if stat.S_ISLNK(st.st_mode) else ""
    except OSError as exc:
        raise InputError(f"{full}: cannot read: {exc.strerror}") from None
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        return Folder(mode=mode, origin=full, directory=full)
    if stat.S_ISREG(st.st_mode):
        group = (st.st_dev, st.st_ino) if st.st_nlink > 1 else None
        return File(mode=mode, origin=full, data=FileData(path=full, size=st.st_size),
                    link_group=group)
    if stat.S_ISLNK(st.st_mode):
        return Symlink(mode=mode, origin=full, target=target)
    raise InputError(f"{full}: not a file, folder or symlink "
                     "(sockets, FIFOs and devices cannot be stored)")


def _is_utf8(name: str) -> bool:
    """Whether a name read from disk was UTF-8 (undecodable bytes come back
    as surrogate escapes, which do not encode)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_utf8(dirpath: str, name: str) -> InputError:
    return InputError(f"{os.path.join(dirpath, name)!r}: file name is not valid UTF-8")
