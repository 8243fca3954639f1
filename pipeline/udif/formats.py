"""UDIF image formats (hdiutil's names) and the codec of each chunk type.

The codecs themselves live in ``pipeline.codecs``, keyed by name; this
module is UDIF's table from chunk types and format names to those codecs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import codecs
from ..errors import InputError
from .mish import (CHUNK_ADC, CHUNK_BZIP2, CHUNK_LZFSE, CHUNK_LZMA, CHUNK_RAW,
                   CHUNK_ZLIB)

# Chunk type -> codec name (pipeline.codecs).
CHUNK_CODECS: dict[int, str] = {
    CHUNK_RAW: "raw",
    CHUNK_ZLIB: "zlib",
    CHUNK_BZIP2: "bzip2",
    CHUNK_LZFSE: "lzfse",
    CHUNK_LZMA: "lzma",
    CHUNK_ADC: "adc",
}


@dataclass(frozen=True)
class Format:
    name: str                  # hdiutil's format name
    chunk_type: int            # chunk type of compressed chunks
    codec: str                 # codec name in manifests
    default_level: int | None  # None: the codec has no level
    levels: tuple[int, int] | None


# UDZO default level 1: hdiutil's documented default for `-imagekey
# zlib-level` (hdiutil(1): "zlib-level=<1..9>", default 1, fast).  libdeflate
# levels go to 12; we accept 1..12.
# UDBZ: bzip2 with 900k blocks (the bzip2 default).  ULMO: xz preset 6 (the
# xz default), CRC64 check; ULFO: LZFSE has no level.
FORMATS: dict[str, Format] = {
    "UDRO": Format("UDRO", CHUNK_RAW, "raw", None, None),
    "UDZO": Format("UDZO", CHUNK_ZLIB, "zlib", 1, (1, 12)),
    "UDBZ": Format("UDBZ", CHUNK_BZIP2, "bzip2", 9, (1, 9)),
    "ULFO": Format("ULFO", CHUNK_LZFSE, "lzfse", None, None),
    "ULMO": Format("ULMO", CHUNK_LZMA, "lzma", 6, (0, 9)),
}
FORMAT_ALIASES = {"ULZF": "ULFO"}
# Read/write images as hdiutil and Disk Utility write them: the disk itself,
# sector for sector, with no trailer (checked on Disk Utility's own UDRW
# images), so that a Mac can attach and modify them in place.
RAW_FORMATS = ("raw", "udrw")
# Names hdiutil's imageinfo would show for images we only read.
READ_ONLY_FORMATS = {CHUNK_ADC: "UDCO"}


def lookup_format(name: str) -> Format:
    key = name.upper()
    key = FORMAT_ALIASES.get(key, key)
    try:
        return FORMATS[key]
    except KeyError:
        known = ", ".join(sorted([*FORMATS, *FORMAT_ALIASES, "raw", "UDRW", "UDSP", "UDSB"]))
        raise InputError(f"unknown image format {name!r} (known: {known})") from None


def check_level(fmt: Format, level: int | None) -> int | None:
    if level is None:
        return fmt.default_level
    if fmt.levels is None:
        raise InputError(f"format {fmt.name} has no compression level")
    lo, hi = fmt.levels
    if not lo <= level <= hi:
        raise InputError(f"format {fmt.name}: level {level} outside {lo}..{hi}")
    return level


def decode_chunk(chunk_type: int, data: bytes, size: int) -> bytes:
    """Expand one chunk's bytes, or raise ``codecs.CodecError``."""
    try:
        codec = CHUNK_CODECS[chunk_type]
    except KeyError:
        raise codecs.CodecError(f"unknown chunk type {chunk_type:#010x}") from None
    return codecs.decode(codec, data, size)
