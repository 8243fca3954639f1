"""Shared fixtures for the UDIF tests: raw volumes cut out of the hdiutil
corpus by independent tools (7-Zip, qemu-img), never by our own reader."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import HDIUTIL_CORPUS, require_tool

CORPUS_DMGS = sorted(HDIUTIL_CORPUS.glob("*.dmg"))
COMPRESSION_DMGS = sorted(HDIUTIL_CORPUS.glob("compression-*.dmg"))
HFS_DMGS = [HDIUTIL_CORPUS / n for n in ("gpt.dmg", "zlib-compressed.dmg", "encrypted.dmg",
                                          "raw.dmg")]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def sevenzip_extract(dmg: Path, dest: Path) -> Path:
    """7-Zip's view of a .dmg: one file per blkx partition (``-tdmg``)."""
    require_tool("7z")
    dest.mkdir(parents=True, exist_ok=True)
    run(["7z", "x", "-tdmg", "-y", f"-o{dest}", str(dmg)])
    return dest


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
