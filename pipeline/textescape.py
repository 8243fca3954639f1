"""Text from untrusted files, made safe to print.

Names, identifiers and paths come from the images and binaries being read:
undecodable bytes (kept as surrogate escapes) and control characters are
shown as ``\\xNN``, so a hostile name cannot add lines to a listing or send
escape sequences to a terminal (what ``ls -b`` does).
"""

from __future__ import annotations

# C0 and C1 controls and DEL.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def printable(text: str) -> str:
    """``text`` with undecodable bytes (kept as surrogate escapes) shown as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def shown(text: str) -> str:
    """``text`` for a terminal: surrogate escapes and control characters as \\xNN."""
    return printable(text).translate(_CONTROLS)
