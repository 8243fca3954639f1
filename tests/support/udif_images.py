"""The hdiutil corpus images by kind, and 7-Zip's view of an image (an
independent reader, never our own)."""

from __future__ import annotations

from pathlib import Path

from helpers import HDIUTIL_CORPUS, require_tool, run

CORPUS_DMGS = sorted(HDIUTIL_CORPUS.glob("*.dmg"))
COMPRESSION_DMGS = sorted(HDIUTIL_CORPUS.glob("compression-*.dmg"))
HFS_DMGS = [HDIUTIL_CORPUS / n for n in ("gpt.dmg", "zlib-compressed.dmg", "encrypted.dmg",
                                          "raw.dmg")]


def sevenzip_extract(dmg: Path, dest: Path) -> Path:
    """7-Zip's view of a .dmg: one file per blkx partition (``-tdmg``)."""
    require_tool("7z")
    dest.mkdir(parents=True, exist_ok=True)
    run(["7z", "x", "-tdmg", "-y", f"-o{dest}", str(dmg)])
    return dest
