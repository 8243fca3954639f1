"""Raw HFS+ volumes taken out of the hdiutil corpus DMGs by 7-Zip (an
independent UDIF reader), shared by the HFS+ tests."""

from __future__ import annotations

import plistlib
import struct
import subprocess
from pathlib import Path

from helpers import HDIUTIL_CORPUS, require_tool

# The corpus DMGs that hold a single HFS+ volume (see corpus README).
HFS_DMGS = ("raw", "gpt", "zlib-compressed", "encrypted")


def extract_volume(name: str, dest_dir: Path) -> Path:
    """The raw HFS+ partition of corpus DMG ``name``, as 7z expands it."""
    out = dest_dir / f"{name}.hfs"
    if not out.exists():
        seven = require_tool("7z")
        with open(out, "wb") as fh:
            subprocess.run([seven, "e", "-tdmg", "-so", str(HDIUTIL_CORPUS / f"{name}.dmg"),
                            "0.hfs"], stdout=fh, stderr=subprocess.DEVNULL, check=True)
    assert out.stat().st_size > 0
    return out


def hdiutil_ignore_ranges(name: str) -> list[tuple[int, int]]:
    """Merged byte ranges hdiutil stored as `ignore` chunks in corpus DMG ``name``.

    Parsed here with plistlib and struct only, independently of pipeline/dmg.
    """
    data = (HDIUTIL_CORPUS / f"{name}.dmg").read_bytes()
    xml_offset, xml_length = struct.unpack(">QQ", data[-512 + 216:-512 + 232])
    plist = plistlib.loads(data[xml_offset:xml_offset + xml_length])
    ranges: list[tuple[int, int]] = []
    for blkx in plist["resource-fork"]["blkx"]:
        mish = blkx["Data"]
        first_sector = struct.unpack(">Q", mish[8:16])[0]
        (count,) = struct.unpack(">I", mish[200:204])
        for i in range(count):
            kind, _c, sector, nsect, _o, _l = struct.unpack(">IIQQQQ", mish[204 + 40 * i:244 + 40 * i])
            if kind != 2:
                continue
            start, length = (first_sector + sector) * 512, nsect * 512
            if ranges and sum(ranges[-1]) == start:
                ranges[-1] = (ranges[-1][0], ranges[-1][1] + length)
            else:
                ranges.append((start, length))
    return ranges
