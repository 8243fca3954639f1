"""Corrupt and hostile volumes: every case gives a CorruptError naming the
structure and the byte offset; never a traceback, hang or huge allocation.
The volumes are built by our writer and then damaged at offsets found
with the struct layouts; the damage is independent of the reader code."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hfs_source import BytesSource
from pipeline.errors import CorruptError, ReprodmgError
from pipeline.hfs.listing import format_entries
from pipeline.hfs.extract import extract
from pipeline.hfs.reader import HFSReader
from pipeline.hfs.tree import File, FileData, Symlink, Tree
from pipeline.hfs.writer import build_volume

VH = 1024


def _tree(files: int = 0) -> Tree:
    tree = Tree()
    tree.add("hello.txt", File(data=FileData.from_bytes(b"hello\n" * 2000),
                               xattrs={"com.example.k": b"v" * 40}))
    tree.add("ab", File(data=FileData.from_bytes(b"ab")))
    tree.add("dir/link", Symlink(target="../hello.txt"))
    for i in range(files):
        tree.add(f"many/{'n' * 200}{i:04d}", File(data=FileData.from_bytes(b"x")))
    return tree


def _image(tree: Tree) -> bytearray:
    vol = build_volume(tree, volname="Damaged")
    return bytearray(vol.read(0, vol.size))


@pytest.fixture(scope="module")
def small() -> bytes:
    return bytes(_image(_tree()))


@pytest.fixture(scope="module")
def multi_leaf() -> bytes:
    return bytes(_image(_tree(files=60)))


def _read_all(data: bytes, name: str = "vol.hfs") -> None:
    """Everything `hfs ls [--json]` does, plus reading every file."""
    reader = HFSReader(BytesSource(data), name)
    entries = list(reader.entries())
    json.dumps([e.to_json() for e in entries], ensure_ascii=False).encode("utf-8")
    format_entries(entries).encode("utf-8")
    for e in entries:
        if e.kind == "file":
            reader.open(e).read()


def _catalog(data: bytes) -> tuple[int, int]:
    """(byte offset of the catalog file, node size) from the volume header."""
    block_size = struct.unpack_from(">I", data, VH + 40)[0]
    start_block = struct.unpack_from(">I", data, VH + 272 + 16)[0]
    base = start_block * block_size
    node_size = struct.unpack_from(">H", data, base + 14 + 18)[0]
    return base, node_size


def _leaf_nodes(data: bytes) -> list[int]:
    base, ns = _catalog(data)
    first = struct.unpack_from(">I", data, base + 14 + 10)[0]
    out, n = [], first
    while n:
        out.append(n)
        n = struct.unpack_from(">I", data, base + n * ns)[0]
    return out


def _expect_corrupt(data, *words, offset=None):
    with pytest.raises(CorruptError) as info:
        _read_all(data)
    msg = str(info.value)
    assert "vol.hfs" in msg
    for w in words:
        assert w in msg, msg
    if offset is not None:
        assert info.value.offset == offset, msg
    return info.value


def test_intact_volume_reads(small):
    _read_all(small)


def test_truncated_volume(small):
    err = _expect_corrupt(small[:len(small) // 3], "volume header.totalBlocks", "truncated",
                          offset=VH + 44)
    assert err.where == "volume header.totalBlocks"


def test_wrong_signature(small):
    data = bytearray(small)
    data[VH:VH + 2] = b"XY"
    _expect_corrupt(data, "volume header.signature", offset=VH)


def test_signature_version_mismatch(small):
    data = bytearray(small)
    data[VH:VH + 2] = b"HX"            # HFSX signature with version 4
    _expect_corrupt(data, "volume header.version", offset=VH + 2)


def test_bad_record_offset(small):
    data = bytearray(small)
    base, ns = _catalog(data)
    leaf = _leaf_nodes(data)[0]
    node = base + leaf * ns
    struct.pack_into(">H", data, node + ns - 2, 7)           # record 0 at byte 7
    _expect_corrupt(data, f"catalog B-tree node {leaf} record offset 0",
                    offset=node + ns - 2)


def test_record_offsets_not_increasing(small):
    data = bytearray(small)
    base, ns = _catalog(data)
    leaf = _leaf_nodes(data)[0]
    node = base + leaf * ns
    struct.pack_into(">H", data, node + ns - 4, 14)          # record 1 == record 0
    _expect_corrupt(data, f"catalog B-tree node {leaf} record offset 1", offset=node + ns - 4)


def test_huge_record_count(small):
    data = bytearray(small)
    base, ns = _catalog(data)
    leaf = _leaf_nodes(data)[0]
    struct.pack_into(">H", data, base + leaf * ns + 10, 0xFFFF)
    _expect_corrupt(data, "numRecords", offset=base + leaf * ns + 10)


def test_cyclic_leaf_chain(multi_leaf):
    data = bytearray(multi_leaf)
    base, ns = _catalog(data)
    leaves = _leaf_nodes(data)
    assert len(leaves) >= 3
    # The reader walks one folder's key range at a time: a link inside the
    # 60-file folder's range leads back to the first leaf.  (The last
    # leaves hold only the files' thread records, which listing never reads.)
    last = leaves[5]
    struct.pack_into(">I", data, base + last * ns, leaves[0])     # fLink back to the first
    _expect_corrupt(data, "cyclic", f"catalog B-tree node {last}.fLink", offset=base + last * ns)


def test_self_linked_leaf(multi_leaf):
    data = bytearray(multi_leaf)
    base, ns = _catalog(data)
    first = _leaf_nodes(data)[0]
    struct.pack_into(">I", data, base + first * ns, first)
    _expect_corrupt(data, "cyclic")


def test_tree_larger_than_its_file(small):
    data = bytearray(small)
    base, _ns = _catalog(data)
    struct.pack_into(">I", data, base + 14 + 22, 0x7FFFFFFF)       # totalNodes
    _expect_corrupt(data, "catalog B-tree header node.totalNodes", offset=base + 14 + 22)


def _file_record_offset(data: bytes, name: bytes) -> int:
    """Byte offset of the catalog record data for the file named ``name``."""
    key_name = name.decode().encode("utf-16-be")
    pos = bytes(data).find(struct.pack(">H", len(name)) + key_name)
    assert pos > 0
    return pos + 2 + len(key_name)


def test_extent_past_end_of_volume(small):
    data = bytearray(small)
    rec = _file_record_offset(data, b"hello.txt")
    assert struct.unpack_from(">h", data, rec)[0] == 2                   # a file record
    data_fork_extent = rec + 88 + 16                                     # dataFork.extents[0]
    struct.pack_into(">I", data, data_fork_extent, 0x00FFFFFF)
    _expect_corrupt(data, "hello.txt", "dataFork.extents[0]", "past the end of the volume")


def test_catalog_extent_past_end(small):
    data = bytearray(small)
    struct.pack_into(">I", data, VH + 272 + 16, 0x0FFFFFFF)
    _expect_corrupt(data, "volume header.catalogFile.extents[0]")


def test_key_length_beyond_record(small):
    data = bytearray(small)
    rec = _file_record_offset(data, b"ab")
    key_start = rec - len("ab".encode("utf-16-be")) - 2 - 4 - 2   # name, nameLength, parentID, keyLength
    struct.pack_into(">H", data, key_start, 600)
    _expect_corrupt(data, "keyLength")


def test_dot_dot_name_is_refused_and_nothing_escapes(small, tmp_path):
    data = bytearray(small)
    pos = bytes(data).find(struct.pack(">H", 2) + "ab".encode("utf-16-be"))
    data[pos + 2:pos + 6] = "..".encode("utf-16-be")
    dest = tmp_path / "dest"
    with pytest.raises(CorruptError):
        extract(HFSReader(BytesSource(data), "vol.hfs"), dest)
    # Nothing outside dest, and dest itself (made by extract) is taken back.
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 64 * 1024 - 1), st.integers(0, 255)),
                min_size=1, max_size=8))
def test_random_metadata_damage_never_escapes_the_error_family(small, damage):
    data = bytearray(small)
    for offset, value in damage:
        data[offset] = value
    try:
        _read_all(data)
    except ReprodmgError:
        pass


def test_unpaired_surrogate_in_a_name(small):
    data = bytearray(small)
    pos = bytes(data).find(struct.pack(">H", 2) + "ab".encode("utf-16-be"))
    data[pos + 4:pos + 6] = b"\xdc\x00"                 # 'a' + lone low surrogate
    _expect_corrupt(data, "not valid UTF-16")


def test_nul_in_a_symlink_target(small, tmp_path):
    data = bytearray(small)
    pos = bytes(data).find(b"../hello.txt")
    data[pos + 2] = 0
    _expect_corrupt(data, "'dir/link'", "NUL")
    with pytest.raises(CorruptError):
        extract(HFSReader(BytesSource(data), "vol.hfs"), tmp_path / "dest")


def test_attribute_data_is_bounded_in_total(monkeypatch):
    # Fork-data attribute records can all point at the same blocks, so the
    # volume size does not bound what listing would hold in memory.
    import pipeline.hfs.reader as reader_module
    tree = Tree()
    for i in range(3):
        tree.add(f"f{i}", File(xattrs={"big": bytes([i]) * 100_000}))
    data = _image(tree)
    assert len(list(HFSReader(BytesSource(data), "vol.hfs").entries())) == 3
    monkeypatch.setattr(reader_module, "MAX_ATTRIBUTES_TOTAL", 250_000)
    with pytest.raises(CorruptError, match=r"vol.hfs: attributes B-tree node \d+ record 2: .*"
                                           "more than 250000 bytes in total"):
        list(HFSReader(BytesSource(data), "vol.hfs").entries())


def test_failed_extract_leaves_dest_as_it_was(tmp_path):
    # "bad" is an HFS+-compressed file whose zlib data is garbage: extraction
    # fails after "aaa/..." and "abc" were written, and takes them back.
    tree = Tree()
    tree.add("aaa/deep/x", File(data=FileData.from_bytes(b"x" * 5000)))
    tree.add("aaa/link", Symlink(target="deep/x"))
    tree.add("abc", File(data=FileData.from_bytes(b"abc")))
    tree.add("bad", File(bsd_flags=0x20, xattrs={
        "com.apple.decmpfs": b"fpmc" + struct.pack("<IQ", 3, 100) + b"\x78\x9cgarbage"}))
    tree.add("top-link", Symlink(target="abc"))
    reader = HFSReader(BytesSource(_image(tree)), "vol.hfs")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "mine.txt").write_bytes(b"keep me")
    with pytest.raises(CorruptError, match="'bad'"):
        extract(reader, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["mine.txt"]
    assert (dest / "mine.txt").read_bytes() == b"keep me"
    with pytest.raises(CorruptError):
        extract(reader, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]


def test_paths_longer_than_path_max_are_refused_while_listing():
    from pipeline.errors import UnsupportedError
    # 17 nested folders with 255-unit names: a path of 4351 characters.  (A
    # few KB of catalog; listing 4096 levels of them held ~2 GB of paths.)
    tree = Tree()
    tree.add("/".join(f"{i:02d}" + "n" * 253 for i in range(17)) + "/f", File())
    reader = HFSReader(BytesSource(_image(tree)), "deep.hfs")
    with pytest.raises(UnsupportedError, match=r"deep.hfs: .*4351 characters long.*4096"):
        list(reader.entries())
    tree = Tree()
    tree.add("/".join(f"{i:02d}" + "n" * 253 for i in range(15)) + "/" + "f" * 255, File())
    entries = list(HFSReader(BytesSource(_image(tree)), "ok.hfs").entries())
    assert len(entries) == 16 and len(entries[-1].path) == 4095


@pytest.mark.parametrize("name, error, message", [
    ("com.example.a\0b", CorruptError, "contains a NUL character"),
    ("\u20ac" * 127, "UnsupportedError", "381 bytes of UTF-8"),
])
def test_attribute_names_no_host_can_hold_are_errors(tmp_path, name, error, message):
    # Found by the hfs-extract fuzz target: setxattr raised ValueError on a
    # NUL in a name; a 381-byte name failed too (AppleDouble's name length is
    # a byte).  (The reader refuses a name that is not UTF-16 for every mode.)
    from pipeline.errors import UnsupportedError
    error = UnsupportedError if error == "UnsupportedError" else error
    tree = Tree()
    tree.add("f", File(data=FileData.from_bytes(b"x"), xattrs={name: b"v"}))
    volume = build_volume(tree, volname="X")
    for mode in ("linux", "appledouble"):
        dest = tmp_path / mode
        with pytest.raises(error, match=message):
            extract(HFSReader(volume, "vol.hfs"), dest, metadata=mode)
        assert not dest.exists()
    extract(HFSReader(volume, "vol.hfs"), tmp_path / "none", metadata="none")
    assert (tmp_path / "none" / "f").read_bytes() == b"x"
