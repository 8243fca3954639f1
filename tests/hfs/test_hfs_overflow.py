"""A fragmented file whose extents continue in the extents-overflow B-tree.

Our writer never fragments, so the test fragments a built volume: the
file's 12 blocks are described as 8 one-block extents in the catalog plus an
overflow record for the rest, in a new extents B-tree placed in free space.
libfshfs (pyfshfs) reading the same bytes confirms the construction; our
reader and free_byte_ranges must follow it."""

from __future__ import annotations

import struct

from hfs_source import BytesSource
from pipeline.hfs.btree import BT_BIG_KEYS, build_tree
from pipeline.hfs.freespace import free_byte_ranges
from pipeline.hfs.reader import HFSReader
from pipeline.hfs.tree import File, FileData, Tree
from pipeline.hfs.writer import build_volume

VH = 1024
BS = 4096


def _set_bit(data: bytearray, bitmap_off: int, block: int, used: bool) -> None:
    byte = bitmap_off + block // 8
    mask = 0x80 >> (block % 8)
    data[byte] = (data[byte] | mask) if used else (data[byte] & ~mask)


def fragmented_volume() -> tuple[bytes, bytes]:
    content = b"".join(bytes([i]) * BS for i in range(12))
    tree = Tree()
    tree.add("frag.bin", File(data=FileData.from_bytes(content)))
    tree.add("other.txt", File(data=FileData.from_bytes(b"unrelated")))
    vol = build_volume(tree, volname="Frag", headroom_bytes=1 << 20)
    data = bytearray(vol.read(0, vol.size))
    free_first = free_byte_ranges(vol, "frag")[0][0] // BS

    name = "frag.bin".encode("utf-16-be")
    rec = data.find(struct.pack(">H", len(name) // 2) + name) + 2 + len(name)
    assert struct.unpack_from(">h", data, rec)[0] == 2
    file_id = struct.unpack_from(">I", data, rec + 8)[0]
    fork = rec + 88                                    # dataFork
    start, count = struct.unpack_from(">II", data, fork + 16)
    assert count == 12
    for i in range(8):
        struct.pack_into(">II", data, fork + 16 + 8 * i, start + i, 1)
    key = struct.pack(">HBBII", 10, 0, 0, file_id, 8)
    ext = struct.pack(">IIII", start + 8, 2, start + 10, 2) + bytes(48)
    tree_bytes = build_tree([(key, ext)], node_size=BS, max_key_length=10,
                            attributes=BT_BIG_KEYS).data
    assert len(tree_bytes) == 2 * BS

    bitmap_off = struct.unpack_from(">I", data, VH + 112 + 16)[0] * BS
    old_ext_block = struct.unpack_from(">I", data, VH + 192 + 16)[0]
    data[free_first * BS:(free_first + 2) * BS] = tree_bytes
    data[old_ext_block * BS:(old_ext_block + 1) * BS] = bytes(BS)
    _set_bit(data, bitmap_off, old_ext_block, False)
    _set_bit(data, bitmap_off, free_first, True)
    _set_bit(data, bitmap_off, free_first + 1, True)
    struct.pack_into(">QII", data, VH + 192, 2 * BS, 2 * BS, 2)
    struct.pack_into(">II", data, VH + 192 + 16, free_first, 2)
    free_blocks = struct.unpack_from(">I", data, VH + 48)[0]
    struct.pack_into(">I", data, VH + 48, free_blocks - 1)
    data[-1024:-512] = data[VH:VH + 512]
    return bytes(data), content


def test_overflow_extents_read_by_libfshfs_and_us(tmp_path):
    import pyfshfs
    data, content = fragmented_volume()
    image = tmp_path / "frag.hfs"
    image.write_bytes(data)
    vol = pyfshfs.volume()
    vol.open(str(image))
    entry = vol.get_file_entry_by_path("/frag.bin")
    assert entry.number_of_extents == 10
    assert entry.read() == content

    reader = HFSReader(BytesSource(data), "frag.hfs")
    entries = {e.path: e for e in reader.entries()}
    stream = reader.open(entries["frag.bin"])
    assert stream.read() == content
    stream.seek(8 * BS + 5)
    assert stream.read(3) == bytes([8]) * 3
    assert reader.open(entries["other.txt"]).read() == b"unrelated"


def test_free_ranges_after_fragmentation():
    data, _ = fragmented_volume()
    ranges = free_byte_ranges(BytesSource(data), "frag.hfs")
    free_blocks = struct.unpack_from(">I", data, VH + 48)[0]
    assert sum(n for _, n in ranges) == free_blocks * BS
    old_ext_block = 1 + 1          # block 0 header, block 1 bitmap, then the old extents tree
    assert ranges[0] == (old_ext_block * BS, BS)


def test_bitmap_overflow_lookup_reads_the_extents_tree():
    """free_byte_ranges consults the extents-overflow tree for a fragmented
    allocation file; the lookup it uses finds records by (fileID, fork, start)."""
    from pipeline.hfs.freespace import _overflow_for
    from pipeline.hfs.volume import read_volume_header
    data, _ = fragmented_volume()
    src = BytesSource(data)
    vh = read_volume_header(src, "frag.hfs")
    name = "frag.bin".encode("utf-16-be")
    rec = data.find(struct.pack(">H", len(name) // 2) + name) + 2 + len(name)
    file_id = struct.unpack_from(">I", data, rec + 8)[0]
    lookup = _overflow_for(src, "frag.hfs", vh)
    assert [e for e in lookup(file_id, 0, 8) if e[1]] == [
        (struct.unpack_from(">I", data, rec + 88 + 16)[0] + 8, 2),
        (struct.unpack_from(">I", data, rec + 88 + 16)[0] + 10, 2)]
    assert lookup(6, 0, 1) == []
