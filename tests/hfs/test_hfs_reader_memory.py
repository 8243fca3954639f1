"""Listing a volume holds one folder's records at a time, not the catalog:
the reader's memory does not grow with the number of files (issue 18: a
million-file volume took 3.2 GB to list, 2.5 GB to extract)."""

from __future__ import annotations

import tracemalloc

from pipeline.hfs import File, FileData, HFSReader, Tree, build_volume


def _volume(files: int):
    tree = Tree()
    for i in range(files):
        tree.add(f"d{i % 10}/f{i:06d}.txt", File(data=FileData.from_bytes(b"x")))
    return build_volume(tree, volname="Many")


def _listing_peak(volume) -> tuple[int, int]:
    reader = HFSReader(volume, "many.hfs")
    tracemalloc.start()
    try:
        count = sum(1 for _ in reader.entries())
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_listing_memory_does_not_grow_with_the_file_count():
    small_count, small = _listing_peak(_volume(2_000))
    big_count, big = _listing_peak(_volume(20_000))
    assert (small_count, big_count) == (2_010, 20_010)
    # Ten times the files in the same ten folders: the walk holds a B-tree
    # node and a folder's list of subfolders, whatever the file count.
    assert big < 2 * small + (1 << 20), (small, big)
