"""Write artifacts under a temporary name and rename them into place.

An interrupted build must never leave a truncated file that looks finished,
and two builders sharing an output folder (a cache) must never write into
the same temporary file.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
from pathlib import Path
from typing import IO, Iterator

from .errors import InputError

_SERIAL = itertools.count()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a fresh ``path.<pid>.<n>.partial``; rename it to ``path`` only on success.

    The temporary name never reaches an output; the file is created with
    O_EXCL and mode 0666 minus the umask, like a plain ``open``.
    """
    final = Path(path)
    try:
        existing = os.lstat(final)
    except FileNotFoundError:
        pass
    else:
        # The rename would replace a device node, a folder's link or a FIFO
        # with a regular file: an output given as /dev/sdX must never do that.
        if not stat.S_ISREG(existing.st_mode):
            raise InputError(f"{final}: exists and is not a regular file; refusing to "
                             "replace it")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}.{os.getpid()}.{next(_SERIAL)}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise InputError(f"{final}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        # A full disk (ENOSPC), a file too large for the file system (EFBIG),
        # a quota: the error has no file name of its own; say which output.
        if exc.filename is None or exc.filename == str(tmp):
            raise InputError(f"{final}: cannot write: {exc.strerror or exc}") from None
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_output(path) as fh:
        fh.write(data)
