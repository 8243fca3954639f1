"""HFS+ file names: Apple's decomposition and the catalog key order.

Names are stored as UTF-16BE in Apple's canonical decomposition: Unicode
3.2 canonical decomposition (and canonical ordering of combining marks),
except the code points TN1150 lists as never decomposed (U+2000-U+2FFF,
U+F900-U+FAFF, U+2F800-U+2FAFF); characters outside the BMP are kept as
they are.  Python ships the Unicode 3.2 database as
``unicodedata.ucd_3_2_0`` for exactly this kind of frozen-version need.

Case-insensitive HFS+ orders catalog keys with TN1150's FastUnicodeCompare:
each UTF-16 unit goes through the "lower-case table" (gLowerCaseTable in
TN1150, Apple's CaseFolding.h, Linux fs/hfsplus/tables.c); units that map to
0 are ignorable and skipped; U+0000 maps to 0xFFFF so that NUL sorts after
every other character.  HFSX (case-sensitive) compares raw UTF-16 units.
"""

from __future__ import annotations

import unicodedata

_UCD = unicodedata.ucd_3_2_0

# TN1150 lower-case table, as data: (first unit, count, step, delta): units
# first, first+step, ... fold to unit + delta.  Derived from gLowerCaseTable
# and checked against it entry for entry; characters with a canonical
# decomposition are absent because names are decomposed before folding.
_FOLD_RUNS = (
    (0x0041, 26, 1, 32), (0x00C6, 1, 1, 32), (0x00D0, 1, 1, 32), (0x00D8, 1, 1, 32),
    (0x00DE, 1, 1, 32), (0x0110, 1, 1, 1), (0x0126, 1, 1, 1), (0x0132, 1, 1, 1),
    (0x013F, 2, 2, 1), (0x014A, 1, 1, 1), (0x0152, 1, 1, 1), (0x0166, 1, 1, 1),
    (0x0181, 1, 1, 210), (0x0182, 2, 2, 1), (0x0186, 1, 1, 206), (0x0187, 1, 1, 1),
    (0x0189, 2, 1, 205), (0x018B, 1, 1, 1), (0x018E, 1, 1, 79), (0x018F, 1, 1, 202),
    (0x0190, 1, 1, 203), (0x0191, 1, 1, 1), (0x0193, 1, 1, 205), (0x0194, 1, 1, 207),
    (0x0196, 1, 1, 211), (0x0197, 1, 1, 209), (0x0198, 1, 1, 1), (0x019C, 1, 1, 211),
    (0x019D, 1, 1, 213), (0x019F, 1, 1, 214), (0x01A2, 2, 2, 1), (0x01A7, 1, 1, 1),
    (0x01A9, 1, 1, 218), (0x01AC, 1, 1, 1), (0x01AE, 1, 1, 218), (0x01B1, 2, 1, 217),
    (0x01B3, 2, 2, 1), (0x01B7, 1, 1, 219), (0x01B8, 1, 1, 1), (0x01BC, 1, 1, 1),
    (0x01C4, 1, 1, 2), (0x01C5, 1, 1, 1), (0x01C7, 1, 1, 2), (0x01C8, 1, 1, 1),
    (0x01CA, 1, 1, 2), (0x01CB, 1, 1, 1), (0x01E4, 1, 1, 1), (0x01F1, 1, 1, 2),
    (0x01F2, 1, 1, 1), (0x0391, 17, 1, 32), (0x03A3, 7, 1, 32), (0x03E2, 7, 2, 1),
    (0x0402, 2, 2, 80), (0x0405, 2, 1, 80), (0x0408, 4, 1, 80), (0x040F, 1, 1, 80),
    (0x0410, 9, 1, 32), (0x041A, 22, 1, 32), (0x0460, 11, 2, 1), (0x0478, 5, 2, 1),
    (0x0490, 24, 2, 1), (0x04C3, 1, 1, 1), (0x04C7, 1, 1, 1), (0x04CB, 1, 1, 1),
    (0x0531, 38, 1, 48), (0x10A0, 38, 1, 48), (0x2160, 16, 1, 16), (0xFF21, 26, 1, 32),
)

# TN1150: zero-width joiners/non-joiners, directional marks and overrides,
# deprecated format characters and the BOM are ignored when comparing.
IGNORABLE = (tuple(range(0x200C, 0x2010)) + tuple(range(0x202A, 0x202F))
             + tuple(range(0x206A, 0x2070)) + (0xFEFF,))

NUL_FOLD = 0xFFFF


def lower_case_table() -> dict[int, int]:
    """Every UTF-16 unit whose folded value differs from itself (TN1150)."""
    table = {0: NUL_FOLD}
    for first, count, step, delta in _FOLD_RUNS:
        for k in range(count):
            table[first + k * step] = first + k * step + delta
    for unit in IGNORABLE:
        table[unit] = 0
    return table


# str.translate map: ignorables deleted, everything else folded.
_TRANSLATE = {u: (None if v == 0 else v) for u, v in lower_case_table().items()}

MAX_NAME_UNITS = 255

_NEVER_DECOMPOSED = ((0x2000, 0x2FFF), (0xF900, 0xFAFF), (0x2F800, 0x2FAFF))


def _decomposable(ch: str) -> bool:
    cp = ord(ch)
    if cp > 0xFFFF:
        return False
    return not any(lo <= cp <= hi for lo, hi in _NEVER_DECOMPOSED)


def decompose(name: str) -> str:
    """Apple's canonical decomposition of ``name`` (see module docstring)."""
    if name.isascii():
        return name
    parts = [(_UCD.normalize("NFD", ch) if _decomposable(ch) else ch) for ch in name]
    chars = list("".join(parts))
    # Canonical ordering: stable sort of each run of non-starters by class.
    i = 0
    while i < len(chars):
        if _UCD.combining(chars[i]) == 0:
            i += 1
            continue
        j = i
        while j < len(chars) and _UCD.combining(chars[j]) != 0:
            j += 1
        chars[i:j] = sorted(chars[i:j], key=_UCD.combining)
        i = j
    return "".join(chars)


def to_hfs_name(posix_name: str) -> str:
    """A POSIX file name as HFS+ stores it: ':' becomes '/', decomposed.

    (The BSD layer of macOS swaps '/' and ':' between HFS+ and POSIX names.)
    """
    return decompose(posix_name.replace(":", "/"))


def to_posix_name(hfs_name: str) -> str:
    return hfs_name.replace("/", ":")


def utf16_units(name: str) -> int:
    return len(name.encode("utf-16-be", "surrogatepass")) // 2


def encode_name(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def decode_name(raw: bytes) -> str:
    return raw.decode("utf-16-be", "surrogatepass")


def fold_key(name: str) -> bytes:
    """Sort key for case-insensitive HFS+: folded UTF-16BE, ignorables dropped.

    Comparing these byte strings gives exactly FastUnicodeCompare's order:
    big-endian UTF-16 compares unit by unit as unsigned numbers, and a
    proper prefix sorts first (end of string acts as the sentinel 0).
    """
    return name.translate(_TRANSLATE).encode("utf-16-be", "surrogatepass")


def binary_key(name: str) -> bytes:
    """Sort key for HFSX (case-sensitive): raw UTF-16 units (TN1150 HFSX)."""
    return name.encode("utf-16-be", "surrogatepass")


def name_key(name: str, case_sensitive: bool) -> bytes:
    return binary_key(name) if case_sensitive else fold_key(name)


def compare_names(a: str, b: str, case_sensitive: bool = False) -> int:
    """-1, 0 or 1, as the catalog orders two names under the same parent."""
    ka, kb = name_key(a, case_sensitive), name_key(b, case_sensitive)
    return (ka > kb) - (ka < kb)
