"""The project's one exception family.

Every error a user can cause (bad input file, wrong option, hash mismatch)
is a ``ReprodmgError``; the command line prints its message without a
traceback and exits non-zero.  Messages name the file and, for format
errors, the structure and the field or byte offset.
"""

from __future__ import annotations

import os


class ReprodmgError(Exception):
    """Base class of every error the project raises on purpose."""

    exit_code = 2


class InputError(ReprodmgError):
    """A file, option or configuration value that cannot be used."""


class CorruptError(ReprodmgError):
    """A structure in an input file is malformed or inconsistent.

    ``where`` names the structure and field; ``offset`` is the byte offset in
    the file when one is known.
    """

    def __init__(self, path: str | os.PathLike | None, where: str, problem: str,
                 offset: int | None = None) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.where = where
        self.problem = problem
        self.offset = offset
        parts = [self.path or "<input>", where]
        if offset is not None:
            parts.append(f"offset {offset:#x}")
        super().__init__(": ".join(parts) + ": " + problem)


class UnsupportedError(ReprodmgError):
    """A valid input this version deliberately does not handle (yet)."""


class VerificationError(ReprodmgError):
    """A checksum, hash or signature did not match."""

    exit_code = 1
