"""What authoring a volume holds per file (issue 18: `dmg create` of a
million files peaked at 3 GB).  The writer needs its catalog and one record
per item; it must not also keep the directory scan beside its items, a
sorted copy of every key and name, a list of forks, or empty containers for
every file."""

from __future__ import annotations

import tracemalloc

from pipeline.hfs import build_volume

FILES = 20_000
# Measured: ~2,060 bytes a file before this was tested, ~1,090 since (a
# third of it the catalog, which this small a volume keeps in memory).
BYTES_PER_FILE = 1_300


def test_authoring_memory_per_file(tmp_path):
    src = tmp_path / "src"
    for i in range(FILES):
        folder = src / f"d{i // 1000:02d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"file-{i:06d}.txt").write_bytes(b"x")
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        volume = build_volume(str(src), volname="Many")
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert volume.stats["files"] == FILES
    assert peak < FILES * BYTES_PER_FILE, f"{peak / FILES:.0f} bytes a file"
