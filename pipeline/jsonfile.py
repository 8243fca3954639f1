"""Canonical JSON: how every manifest, report and ``--json`` output is written.

Sorted keys, two-space indent, UTF-8 text (not ``\\u`` escapes) and a final
newline: a manifest is itself an artifact that must be reproducible, and one
spelling everywhere means a name with an accent hashes the same in every file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .atomic import atomic_write_bytes
from .errors import InputError, VerificationError


def canonical_json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as canonical JSON under a temporary name, then rename."""
    atomic_write_bytes(path, canonical_json(obj))


def read_json(path: str | os.PathLike) -> Any:
    try:
        with open(path, "rb") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from None


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    return digest.hexdigest()


def require_sha256(path: str | os.PathLike, expected: str, what: str) -> str:
    """Refuse ``path`` (VerificationError naming both hashes) unless its
    SHA-256 is the pinned one; ``what`` says what was refused and why.
    Returns the hash."""
    actual = sha256_file(path)
    if actual != expected:
        raise VerificationError(f"{path}: {what}: expected sha256 {expected}, "
                                f"actual sha256 {actual}")
    return actual


def read_sha256sums(path: str | os.PathLike) -> dict[str, str]:
    """``{name: sha256}`` from a ``sha256sum``-format file (``hex  name``
    lines, plain names); a malformed line is an error naming it."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") \
            from None
    sums = {}
    for n, line in enumerate(lines, 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or "/" in name:
            raise InputError(f"{path}: line {n}: not 'sha256  name'")
        sums[name] = digest.lower()
    return sums

