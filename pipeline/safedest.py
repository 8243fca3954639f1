"""Writing a tree that comes from an untrusted file into a destination folder.

The HFS+ extractor and the tarball extractor share these rules: nothing is
ever written outside the destination (every parent folder is resolved and
checked, so a symbolic link made earlier in the same extraction cannot
redirect a later write); files are created with O_EXCL and O_NOFOLLOW, so
nothing already there is overwritten or followed; and when extraction fails
half-way, what it created is removed again, so the destination is left as
it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Callable, Iterator, BinaryIO

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


class SafeDestination:
    """A destination folder being filled; use as a context manager.

    ``outside(rel)`` makes the error raised when ``rel`` would land outside
    the destination (each extractor names its own input and field).
    """

    def __init__(self, root: str | os.PathLike, outside: Callable[[str], Exception], *,
                 must_not_exist: bool = False) -> None:
        self.root = Path(root)
        self._outside = outside
        self._must_not_exist = must_not_exist
        self._made_root = False
        self._created: list[str] = []        # top-level names this extraction created
        self._real_root = ""
        # Folders already resolved to inside the root.  Only a symbolic link
        # made here can change where a folder resolves (folders are made with
        # mkdir, which never follows or replaces one), so making a link of
        # either kind forgets them all; a million files in a thousand
        # folders resolve a thousand folders, not a million paths.
        self._inside: set[str] = set()

    def __enter__(self) -> "SafeDestination":
        exists = self.root.exists() or self.root.is_symlink()
        if exists and self._must_not_exist:
            raise FileExistsError(17, "destination already exists", os.fspath(self.root))
        self._made_root = not exists
        self.root.mkdir(parents=True, exist_ok=True)
        self._real_root = os.path.realpath(self.root)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._undo()

    def target(self, rel: str) -> str:
        """The absolute path for ``rel``, after checking where its folder resolves."""
        target = os.path.join(self._real_root, rel)
        folder = os.path.dirname(target)
        if folder not in self._inside:
            parent = os.path.realpath(folder)
            if os.path.commonpath([parent, self._real_root]) != self._real_root:
                raise self._outside(rel)
            self._inside.add(folder)
        return target

    def _made(self, rel: str) -> None:
        # Only what this extraction created is undone: a name that was
        # already there (and made a creation fail) is never touched.
        if "/" not in rel and rel not in self._created:
            self._created.append(rel)

    def mkdir(self, rel: str, mode: int = 0o700, *, exist_ok: bool = False) -> str:
        target = self.target(rel)
        try:
            os.mkdir(target, mode)
        except FileExistsError:
            if not (exist_ok and os.path.isdir(target) and not os.path.islink(target)):
                raise
            return target
        self._made(rel)
        return target

    def makedirs(self, rel: str, mode: int = 0o755) -> None:
        """``rel`` and its missing ancestors, each checked before it is made."""
        parts = [p for p in rel.split("/") if p]
        for i in range(1, len(parts) + 1):
            ancestor = "/".join(parts[:i])
            # Something already there (a link made earlier) is left as it
            # is: the next target() check resolves it and refuses an escape.
            if not os.path.lexists(self.target(ancestor)):
                self.mkdir(ancestor, mode)

    def symlink(self, rel: str, link_target: str) -> str:
        target = self.target(rel)
        self._inside.clear()
        os.symlink(link_target, target)
        self._made(rel)
        return target

    def hard_link(self, rel: str, existing: str) -> str:
        target = self.target(rel)
        self._inside.clear()                 # a hard link to a symbolic link is one too
        os.link(existing, target)
        self._made(rel)
        return target

    @contextlib.contextmanager
    def new_file(self, rel: str, mode: int = 0o600) -> Iterator[BinaryIO]:
        """A new regular file at ``rel``; removed again if writing it fails."""
        target = self.target(rel)
        fd = os.open(target, _CREATE, mode)
        self._made(rel)
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
        except BaseException:
            os.unlink(target)            # ours (O_EXCL): never a file that was there
            raise

    def _undo(self) -> None:
        if self._made_root:
            remove_tree(self.root)
            return
        for name in reversed(self._created):
            path = self.root / name
            if path.is_dir() and not path.is_symlink():
                remove_tree(path)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def remove_tree(path: Path) -> None:
    """Remove an extracted tree, read-only folders included (nothing there: nothing done)."""
    for dirpath, _dirs, _files in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(dirpath, 0o700)         # extracted read-only folders
    shutil.rmtree(path, ignore_errors=True)
