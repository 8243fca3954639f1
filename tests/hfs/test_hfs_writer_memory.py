"""What authoring a volume holds per file (issue 18: `dmg create` of a
million files peaked at 3 GB).  Below ``SPILL_RECORDS`` items the writer
holds one record per item and nothing more (no directory scan beside its
items, no sorted copy of every key and name, no empty containers for every
file); past it, its items, the list of forks and the catalog go to
temporary files, and memory stops growing with the number of files."""

from __future__ import annotations

import os
import tracemalloc

import pytest

from pipeline.hfs import build_volume, spill
from pipeline.hfs.writer import _Builder

FILES = 20_000
# Measured: ~2,060 bytes a file before this was tested, ~1,090 once the scan
# was let go as items were made, ~1,040 since folders are listed as the walk
# reaches them (a third of it the catalog, which this small a volume keeps
# in memory).
BYTES_PER_FILE = 1_200


def _files(src, count, per_folder=1_000, groups=100):
    """``count`` files, ``per_folder`` to a folder, ``groups`` folders to a
    group (no folder has more than 1,000 entries by default)."""
    for i in range(count):
        folder = src / f"g{i // per_folder // groups:03d}" / f"d{i // per_folder:05d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True)
        (folder / f"file-{i:06d}.txt").write_bytes(b"x")
    return src


def _peak(src) -> int:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        volume = build_volume(str(src), volname="Many")
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert volume.stats["files"] == sum(1 for p in src.rglob("*") if p.is_file())
    return peak


def test_authoring_memory_per_file(tmp_path, monkeypatch):
    monkeypatch.setattr(spill, "SPILL_RECORDS", FILES + 1_000)      # all held
    peak = _peak(_files(tmp_path / "src", FILES))
    assert peak < FILES * BYTES_PER_FILE, f"{peak / FILES:.0f} bytes a file"


# Measured with everything spilled (1 KB windows), 2,000 files then 8,000:
# in folders of 1,000, 0.51 MB and 0.49 MB; in a folder each, 0.39 MB and
# 0.54 MB, 25 bytes a file and folder more (every 16th fork's offset, the
# catalog's per-node counts); all in one folder, 0.46 MB and 0.49 MB (its
# names sorted in runs of 500 merged through 1 KB windows); in a folder
# each, all in one folder, 0.38 MB and 0.53 MB (subfolders past the first 50
# are read back from the folder's records when their turn comes).  Before
# the last two were made flat they grew 625 and 809 bytes a file (the
# folder's listing, then its subfolders' items, were held whole).  Held,
# items cost ~1,000 bytes a file and ~1,700 a file with its own folder.
GROWTH_PER_FILE = 60


@pytest.mark.parametrize("per_folder, groups", [(1_000, 100), (1, 100), (10_000, 100),
                                               (1, 10_000)])
def test_authoring_memory_stops_growing_once_spilled(tmp_path, monkeypatch, per_folder, groups):
    """With many files in a few folders, with a folder for every file, with
    every file in one folder, and with a folder for every file all in one
    folder."""
    _spill_everything(monkeypatch)
    small = _peak(_files(tmp_path / "small", 2_000, per_folder, groups))
    large = _peak(_files(tmp_path / "large", 8_000, per_folder, groups))
    growth = (large - small) / 6_000
    assert growth < GROWTH_PER_FILE, f"{small} -> {large} bytes: {growth:.0f} a file"


def _spill_everything(monkeypatch):
    monkeypatch.setattr(spill, "SPILL_RECORDS", 500)
    monkeypatch.setattr(_Builder, "HELD_SUBFOLDERS", 50)
    monkeypatch.setattr(spill, "SPILL_BYTES", 0)
    monkeypatch.setattr(spill, "_WINDOW", 1 << 10)  # both sizes past the read windows
    monkeypatch.setattr(spill, "SMALL_WINDOW", 1 << 10)


def _linked(src, count):
    """``count`` files, each with a second name in another folder."""
    for i in range(count):
        first, second = src / f"a{i // 1_000:03d}", src / f"b{i // 1_000:03d}"
        if i % 1_000 == 0:
            first.mkdir(parents=True)
            second.mkdir()
        (first / f"f{i:06d}").write_bytes(b"x")
        os.link(first / f"f{i:06d}", second / f"g{i:06d}")
    return src


def test_authoring_memory_with_hard_links_stops_growing(tmp_path, monkeypatch):
    """Every file hard-linked twice: the names, their groups and the inodes
    go to temporary files too.  Measured: 1,000 files (2,000 names) then
    4,000 (8,000 names) peak at 0.76 MB and 0.73 MB; the writer that held
    each group's names and inodes until the tree was walked grew ~920 bytes
    a name."""
    _spill_everything(monkeypatch)
    peaks = []
    for count in (1_000, 4_000):
        src = _linked(tmp_path / str(count), count)
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            volume = build_volume(str(src), volname="Linked")
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
        finally:
            tracemalloc.stop()
        assert volume.stats["files"] == 3 * count            # two names and an inode each
    growth = (peaks[1] - peaks[0]) / 6_000
    assert growth < GROWTH_PER_FILE, f"{peaks} bytes: {growth:.0f} a name"
