"""UDIF test fixtures: raw volumes cut out of the hdiutil corpus by
independent tools (7-Zip, qemu-img), never by our own reader; made once per
test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import HDIUTIL_CORPUS, require_tool, run
from udif_images import sevenzip_extract


@pytest.fixture(scope="session")
def hfs_volume(tmp_path_factory) -> Path:
    """A real HFS+ volume made by hdiutil (zlib-compressed.dmg), expanded by 7-Zip."""
    out = sevenzip_extract(HDIUTIL_CORPUS / "zlib-compressed.dmg",
                           tmp_path_factory.mktemp("hfs7z"))
    return out / "0.hfs"


@pytest.fixture(scope="session")
def mbr_disk(tmp_path_factory) -> Path:
    """hdiutil's MBR disk with two FAT16 partitions, expanded by qemu-img."""
    require_tool("qemu-img")
    out = tmp_path_factory.mktemp("mbr") / "mbr.raw"
    run(["qemu-img", "convert", "-f", "dmg", "-O", "raw",
         str(HDIUTIL_CORPUS / "compression-raw.dmg"), str(out)])
    return out
