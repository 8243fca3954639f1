"""Reading the project's TOML files (release configurations, SDK pins) and
checking them against a schema, with errors that name the file and the dotted key."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from ..errors import InputError

# A SHA-256 as every pin in the project writes it.
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def read_toml(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """Parse ``path``; every failure is an InputError naming the file.

    ``what`` says what the file was meant to be ("release configuration").
    """
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: not UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


class Table:
    """Typed access to one TOML table; remembers which keys were consumed."""

    def __init__(self, data: dict[str, Any], prefix: str, origin: str,
                 keys: tuple[str, ...] | None = None) -> None:
        self.data = data
        self.prefix = prefix
        self.origin = origin
        self.used: set[str] = set()
        if keys is not None:
            # Unknown keys first: a typo ("nmae") must be named as such, not
            # reported as the correct key being missing.
            unknown = sorted(set(data) - set(keys))
            if unknown:
                raise self.error(unknown[0], "unknown key")

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def error(self, key: str, problem: str) -> InputError:
        return InputError(f"{self.origin}: {self._key(key)}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], *, default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise self.error(key, "missing (required)")
            return default
        value = self.data[key]
        # bool is an int subclass in Python; TOML keeps them apart, so do we.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.error(key, f"expected {_kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.error(key, f"expected {_kind_name(kind)}, got {toml_type(value)}")
        return value

    def sha256(self, key: str) -> str:
        """A required SHA-256 pin: 64 lower-case hex digits."""
        value = self.get(key, str)
        if not SHA256_RE.match(value):
            raise self.error(key, f"{value[:80]!r}: expected 64 lower-case hex digits")
        return value

    def strings(self, key: str, *, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, list, default=default)
        if value is default and default is not ...:
            return tuple(value)
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(f"{key}[{i}]", f"expected a string, got {toml_type(item)}")
        return tuple(value)

    def table(self, key: str, keys: tuple[str, ...], *, required: bool = True) -> "Table":
        """A sub-table with the given keys; an absent optional one reads as empty (all defaults)."""
        value = self.get(key, dict, default=... if required else {})
        return Table(value, f"{self._key(key)}.", self.origin, keys)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.error(unknown[0], "unknown key")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", list: "an array", dict: "a table", bool: "a boolean"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def toml_type(value: Any) -> str:
    """How TOML would name a parsed value's type, for error messages."""
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a float"),
                       (str, "a string"), (list, "an array"), (dict, "a table")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


_TABLE_HEADER_RE = re.compile(r"^\s*\[")
# [signature] and its sub-tables ([signature.dmg], the disk image's own pin).
_SIGNATURE_HEADER_RE = re.compile(r"^\s*\[\s*signature\s*(\.\s*[A-Za-z0-9_-]+\s*)*\]\s*(#.*)?$")


def without_signature(path: str | os.PathLike) -> bytes:
    """The configuration file's bytes with its ``[signature]`` table (and
    sub-tables such as ``[signature.dmg]``) removed.

    The unsigned tarball carries the release configuration for the signer;
    the signature pin is added only after signing, and must not change the
    tarball that was signed.  The table is cut textually (comments and
    formatting elsewhere are kept), and the result is parsed again: it must
    equal the original minus ``signature``, or the file is refused.
    """
    raw = Path(path).read_bytes()
    text = raw.decode("utf-8")
    original = tomllib.loads(text)
    if "signature" not in original:
        return raw
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if _SIGNATURE_HEADER_RE.match(line):
            skipping = True
            continue
        if skipping and _TABLE_HEADER_RE.match(line):
            skipping = False
        if not skipping:
            kept.append(line)
    stripped = "".join(kept).rstrip("\n") + "\n"
    expected = {k: v for k, v in original.items() if k != "signature"}
    try:
        ok = tomllib.loads(stripped) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        raise InputError(f"{path}: signature: write it as a [signature] table "
                         "(not inline or dotted keys) so it can be left out of the unsigned tarball")
    return stripped.encode("utf-8")
