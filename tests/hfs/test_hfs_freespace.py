"""free_byte_ranges against the free-block count macOS wrote and the
`ignore` chunks hdiutil wrote (oracle: the hdiutil corpus, read via 7z)."""

from __future__ import annotations

import struct

import pytest

from hfs_corpus import HFS_DMGS, hdiutil_ignore_ranges
from hfs_source import BytesSource
from pipeline.errors import CorruptError
from pipeline.hfs.freespace import free_byte_ranges
from pipeline.imagesource import FileImageSource


@pytest.mark.parametrize("name", HFS_DMGS)
def test_free_ranges_match_macos_free_count_and_hdiutil_ignore(volumes, name):
    path = volumes[name]
    header = path.read_bytes()[1024:1536]
    block_size, total_blocks, free_blocks = struct.unpack(">III", header[40:52])
    with FileImageSource(path) as src:
        ranges = free_byte_ranges(src, name)
    assert ranges is not None
    # freeBlocks was computed by macOS when it unmounted the volume.
    assert sum(length for _, length in ranges) == free_blocks * block_size
    for (a, alen), (b, _) in zip(ranges, ranges[1:]):
        assert a + alen < b, "ranges must be sorted and merged"
    assert all(off % block_size == 0 and length % block_size == 0 for off, length in ranges)
    # hdiutil's ignore chunks, outside the last block (alternate header), are free.
    last_block = (total_blocks - 1) * block_size
    for start, length in hdiutil_ignore_ranges(name):
        end = min(start + length, last_block)
        if end <= start:
            continue
        assert any(off <= start and end <= off + ln for off, ln in ranges), (start, end)


def test_not_hfs_gives_none():
    assert free_byte_ranges(BytesSource(bytes(8192)), "zeros") is None
    assert free_byte_ranges(BytesSource(bytes(100)), "tiny") is None


def test_truncated_volume_is_corrupt(volumes):
    data = volumes["raw"].read_bytes()
    with pytest.raises(CorruptError) as info:
        free_byte_ranges(BytesSource(data[:len(data) // 2]), "half.hfs")
    assert "totalBlocks" in str(info.value) and "half.hfs" in str(info.value)
    assert info.value.offset == 1024 + 44


def test_bad_block_size_is_corrupt(volumes):
    data = bytearray(volumes["raw"].read_bytes())
    data[1024 + 40:1024 + 44] = struct.pack(">I", 3000)
    with pytest.raises(CorruptError) as info:
        free_byte_ranges(BytesSource(data), "bs.hfs")
    assert "blockSize" in str(info.value) and info.value.offset == 1024 + 40


def test_bitmap_extent_past_end_is_corrupt(volumes):
    data = bytearray(volumes["raw"].read_bytes())
    # allocationFile fork at 1024+112; first extent startBlock at +16.
    data[1024 + 112 + 16:1024 + 112 + 20] = struct.pack(">I", 0xFFFFFF)
    with pytest.raises(CorruptError) as info:
        free_byte_ranges(BytesSource(data), "ext.hfs")
    assert "allocationFile.extents[0]" in str(info.value)


def test_alternating_bitmap_keeps_memory_bounded_when_short_runs_are_dropped():
    import tracemalloc

    from pipeline.hfs.structs import ForkData, VolumeHeader
    from pipeline.hfs import free_byte_ranges
    from pipeline.udif.koly import SECTOR
    from pipeline.udif.writer import MIN_IGNORE_RUN
    # A 512K-block volume (2 GiB, served sparsely) whose 64 KiB bitmap
    # alternates free and used blocks: 256K free runs of one block each.
    # `dmg convert` of such a raw image stores no ignore chunk for them, and
    # must not hold a list of all of them on the way.
    total, bs = 1 << 19, 4096
    bitmap_bytes = total // 8
    vh = VolumeHeader(signature=b"H+", version=4, blockSize=bs, totalBlocks=total,
                      freeBlocks=total // 2,
                      allocationFile=ForkData(bitmap_bytes, 0, bitmap_bytes // bs,
                                              [(1, bitmap_bytes // bs)] + [(0, 0)] * 7))
    header = vh.pack()

    class Sparse:
        size = total * bs

        def read(self, offset: int, length: int) -> bytes:
            out = bytearray(length)
            lo, hi = max(offset, bs), min(offset + length, bs + bitmap_bytes)
            if lo < hi:
                out[lo - offset:hi - offset] = b"\x55" * (hi - lo)
            lo, hi = max(offset, 1024), min(offset + length, 1024 + len(header))
            if lo < hi:
                out[lo - offset:hi - offset] = header[lo - 1024:hi - 1024]
            return bytes(out)

    tracemalloc.start()
    try:
        ranges = free_byte_ranges(Sparse(), "alt.hfs", MIN_IGNORE_RUN * SECTOR) or []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ranges == []
    assert peak < 8 << 20, peak


def test_a_written_volume_declares_the_free_ranges_its_bitmap_holds():
    # The UDIF writer takes free space from the volume writer instead of
    # parsing the volume again: both views must agree, block for block.
    from pipeline.hfs import File, FileData, Tree, build_volume, free_byte_ranges
    tree = Tree()
    for i in range(40):
        tree.add(f"d{i % 3}/f{i}", File(data=FileData.from_bytes(bytes([i]) * (i * 997))))
    for headroom in (0, 3 << 20):
        vol = build_volume(tree, volname="Free", headroom_bytes=headroom)
        assert vol.free_ranges() == free_byte_ranges(vol, "free.hfs")
    assert vol.free_ranges() and vol.free_ranges()[0][1] >= 3 << 20
