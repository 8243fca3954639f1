"""Writer options and caller-supplied metadata, checked with libfshfs
(pyfshfs) and with the raw catalog bytes parsed here by struct."""

from __future__ import annotations

import stat
import struct

import pytest

from hfs_source import BytesSource
from pipeline.errors import InputError, UnsupportedError
from pipeline.hfs.reader import HFSReader
from pipeline.hfs.tree import File, FileData, FinderInfo, Folder, Symlink, Tree, tree_from_directory
from pipeline.hfs.writer import build_volume

VH = 1024


def _write(vol, path):
    with open(path, "wb") as fh:
        vol.write_to(fh)
    return path


def _pyfshfs(path):
    import pyfshfs
    vol = pyfshfs.volume()
    vol.open(str(path))
    return vol


def test_xattrs_resource_fork_and_finder_info(tmp_path):
    tree = Tree()
    tree.add("doc.txt", File(data=FileData.from_bytes(b"text"),
                             xattrs={"com.example.tag": b"red", "com.apple.quarantine": b"q;1"},
                             rsrc=FileData.from_bytes(b"RSRC" * 3000),
                             finder_info=FinderInfo.for_file(b"TEXT", b"ttxt", 0x4000)))
    tree.add("Folder", Folder(xattrs={"com.example.dir": b"\x00\x01"},
                              finder_info=FinderInfo.for_folder(0x0400)))
    image = _write(build_volume(tree, volname="Meta", open_folder="Folder"), tmp_path / "m.hfs")

    vol = _pyfshfs(image)
    doc = vol.get_file_entry_by_path("/doc.txt")
    assert {a.name: a.read_buffer() for a in doc.extended_attributes} == \
        {"com.example.tag": b"red", "com.apple.quarantine": b"q;1"}
    assert doc.has_resource_fork()
    assert doc.get_resource_fork().read_buffer(20000) == b"RSRC" * 3000
    folder = vol.get_file_entry_by_path("/Folder")
    assert {a.name: a.read_buffer() for a in folder.extended_attributes} == \
        {"com.example.dir": b"\x00\x01"}
    data = image.read_bytes()
    # finderInfo[2] of the volume header: the folder to open on mount.
    assert struct.unpack_from(">I", data, VH + 80 + 8)[0] == folder.identifier

    with open(image, "rb") as fh:
        reader = HFSReader(BytesSource(fh.read()), "m.hfs")
    entries = {e.path: e for e in reader.entries()}
    d = entries["doc.txt"]
    assert (d.file_type, d.creator, d.finder_flags) == ("TEXT", "ttxt", 0x4000)
    assert d.flags & 0x4 and d.rsrc_size == 12000          # HasAttributes
    assert reader.open(d, "rsrc").read() == b"RSRC" * 3000
    assert entries["Folder"].finder_flags == 0x0400 and entries["Folder"].flags & 0x4


def test_symlink_records_carry_slnk_rhap(tmp_path):
    tree = Tree()
    tree.add("Applications", Symlink(target="/Applications"))
    image = _write(build_volume(tree, volname="L"), tmp_path / "l.hfs")
    raw = image.read_bytes()
    assert b"slnkrhap" in raw
    e = _pyfshfs(image).get_file_entry_by_path("/Applications")
    assert e.symbolic_link_target == "/Applications" and stat.S_ISLNK(e.file_mode)


def test_case_collision_names_both_paths(tmp_path):
    tree = Tree()
    tree.add("dir/Readme", File())
    tree.add("dir/README", File())
    with pytest.raises(InputError) as info:
        build_volume(tree, volname="C")
    msg = str(info.value)
    assert "dir/Readme" in msg and "dir/README" in msg and "--case-sensitive" in msg
    # Ignorable characters fold away too (TN1150).
    tree = Tree()
    tree.add("ab", File())
    tree.add("a\u200db", File())
    with pytest.raises(InputError):
        build_volume(tree, volname="C")


def test_name_of_only_ignorable_characters_is_refused():
    # FastUnicodeCompare (TN1150) skips U+200C etc., so this name would compare
    # equal to the thread record key (CNID of "d", "") of its own folder.
    tree = Tree()
    tree.add("d/\u200c\u200d", File())
    # repr() in the message shows the invisible characters as escapes.
    with pytest.raises(InputError, match=r"'d/\\u200c\\u200d'.*ignores"):
        build_volume(tree, volname="C")
    # HFSX compares raw units: the name is an ordinary one there.
    reader = HFSReader(build_volume(tree, volname="C", case_sensitive=True), "c")
    assert "d/\u200c\u200d" in {e.path for e in reader.entries()}


def test_hfsx_keeps_case_variants(tmp_path):
    tree = Tree()
    tree.add("Readme", File(data=FileData.from_bytes(b"upper")))
    tree.add("readme", File(data=FileData.from_bytes(b"lower")))
    tree.add("sub/x", File())
    image = _write(build_volume(tree, volname="X", case_sensitive=True), tmp_path / "x.hfs")
    raw = image.read_bytes()
    assert raw[VH:VH + 4] == b"HX\x00\x05"
    vol = _pyfshfs(image)
    assert vol.get_file_entry_by_path("/Readme").read() == b"upper"
    assert vol.get_file_entry_by_path("/readme").read() == b"lower"
    # Precomposed and decomposed spellings are the same name even on HFSX.
    tree = Tree()
    tree.add("caf\u00e9", File())
    tree.add("cafe\u0301", File())
    with pytest.raises(InputError) as info:
        build_volume(tree, volname="X", case_sensitive=True)
    assert "--case-sensitive" not in str(info.value)


def test_hfsx_folders_have_folder_count(tmp_path):
    tree = Tree()
    tree.add("a/b/c", File())
    tree.add("a/d", Folder())
    vol = build_volume(tree, volname="X", case_sensitive=True)
    reader = HFSReader(vol, "x")
    entries = {e.path: e for e in reader.entries()}
    assert entries["a"].flags & 0x10 and entries["a/b"].flags & 0x10   # kHFSHasFolderCount
    rec = dict(reader._children(2))["a"]
    assert rec.folderCount == 2 and rec.valence == 2


def test_name_length_limit():
    tree = Tree()
    tree.add("x" * 255, File())
    build_volume(tree, volname="N")
    tree = Tree()
    tree.root.children["y" * 256] = File()
    with pytest.raises(InputError, match="255"):
        build_volume(tree, volname="N")


def test_size_and_headroom():
    tree = Tree()
    tree.add("f", File(data=FileData.from_bytes(bytes(3 * 1024 * 1024))))
    assert build_volume(tree, volname="S").header.freeBlocks * 4096 < 1 << 20
    roomy = build_volume(tree, volname="S", headroom_bytes=8 << 20)
    assert roomy.header.freeBlocks * 4096 >= 8 << 20
    pct = build_volume(tree, volname="S", headroom_percent=50)
    assert pct.header.freeBlocks * 4096 >= (3 << 20) // 2
    exact = build_volume(tree, volname="S", size=16 << 20)
    assert exact.size == 16 << 20
    assert exact.read(exact.size - 1024, 512) == exact.read(1024, 512)
    with pytest.raises(InputError, match="too small"):
        build_volume(tree, volname="S", size=1 << 20)
    with pytest.raises(InputError, match="multiple"):
        build_volume(tree, volname="S", size=1000000)


def test_owner_and_modes(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "secret").write_bytes(b"s")
    (src / "secret").chmod(0o600)
    (src / "tool").write_bytes(b"t")
    (src / "tool").chmod(0o700)
    norm = _write(build_volume(src, volname="M", uid=501, gid=20), tmp_path / "n.hfs")
    vol = _pyfshfs(norm)
    s, t = vol.get_file_entry_by_path("/secret"), vol.get_file_entry_by_path("/tool")
    assert stat.S_IMODE(s.file_mode) == 0o644 and stat.S_IMODE(t.file_mode) == 0o755
    assert (s.owner_identifier, s.group_identifier) == (501, 20)
    kept = _write(build_volume(src, volname="M", keep_modes=True), tmp_path / "k.hfs")
    vol = _pyfshfs(kept)
    assert stat.S_IMODE(vol.get_file_entry_by_path("/secret").file_mode) == 0o600
    assert stat.S_IMODE(vol.get_file_entry_by_path("/tool").file_mode) == 0o700


def test_hard_links_as_copies(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "one").write_bytes(b"shared")
    (src / "two").hardlink_to(src / "one")
    image = _write(build_volume(src, volname="H", hard_links="copy"), tmp_path / "h.hfs")
    vol = _pyfshfs(image)
    one, two = vol.get_file_entry_by_path("/one"), vol.get_file_entry_by_path("/two")
    assert one.read() == two.read() == b"shared"
    assert one.number_of_links == two.number_of_links == 1
    assert one.identifier != two.identifier
    assert b"HFS+ Private Data".decode().encode("utf-16-be") not in image.read_bytes()


def test_hard_links_with_different_metadata_are_refused(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "one").write_bytes(b"shared")
    (src / "sub" / "two").hardlink_to(src / "one")
    # Metadata for one name of a linked pair would land on the shared inode
    # (or be dropped): refused, naming both names.
    for extra in ({"xattrs": {"sub/two": {"user.k": b"v"}}},
                  {"resource_forks": {"sub/two": b"R" * 10}},
                  {"finder_info": {"one": FinderInfo.for_file(b"TEXT", b"ttxt")}}):
        with pytest.raises(InputError, match="'one' and 'sub/two' are hard links"):
            build_volume(src, volname="H", **extra)
        build_volume(src, volname="H", hard_links="copy", **extra)
    # The same metadata on every name is kept on the inode, seen through each name.
    both = {"one": {"user.k": b"v"}, "sub/two": {"user.k": b"v"}}
    reader = HFSReader(build_volume(src, volname="H", xattrs=both), "h")
    entries = {e.path: e for e in reader.entries()}
    assert entries["one"].hardlink_inode == entries["sub/two"].hardlink_inode
    assert entries["one"].to_json()["xattrs"] == entries["sub/two"].to_json()["xattrs"] \
        == {"user.k": {"size": 1, "hex": "76"}}


def test_tree_model_mixes_disk_and_memory(tmp_path):
    src = tmp_path / "stage"
    (src / "App.app").mkdir(parents=True)
    (src / "App.app" / "bin").write_bytes(b"\x7fELF")
    tree = tree_from_directory(src)
    tree.add("Applications", Symlink(target="/Applications"))
    tree.add(".background/bg.png", File(data=FileData.from_bytes(b"PNG")))
    vol = build_volume(tree, volname="App")
    reader = HFSReader(vol, "in-memory")
    assert [e.path for e in reader.entries()] == [
        ".background", "App.app", "Applications", ".background/bg.png", "App.app/bin"]


def test_large_xattrs_use_fork_data_records(tmp_path, monkeypatch):
    big = bytes(range(256)) * 40                     # 10240 bytes: above the inline limit
    tree = Tree()
    tree.add("f", File(data=FileData.from_bytes(b"x"), xattrs={"com.example.big": big,
                                                              "small": b"s"}))
    tree.root.xattrs["com.example.rootbig"] = big[::-1]
    image = _write(build_volume(tree, volname="B"), tmp_path / "b.hfs")
    vol = _pyfshfs(image)
    f = vol.get_file_entry_by_path("/f")
    assert {a.name: a.read_buffer(20000) for a in f.extended_attributes} == \
        {"com.example.big": big, "small": b"s"}
    reader = HFSReader(BytesSource(image.read_bytes()), "b.hfs")
    assert next(e for e in reader.entries() if e.path == "f").xattrs["com.example.big"] == big
    assert reader._xattrs(2)["com.example.rootbig"] == big[::-1]
    import pipeline.hfs.writer as writer
    monkeypatch.setattr(writer, "MAX_ATTR_SIZE", 5000)
    with pytest.raises(UnsupportedError, match="com.example.rootbig.*at most 5000"):
        build_volume(tree, volname="B")


def test_file_shrinking_after_the_scan_is_an_error(tmp_path):
    import io
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"x" * 10000)
    (src / "g").write_bytes(b"y" * 10000)
    vol = build_volume(src, volname="S")
    (src / "f").write_bytes(b"x" * 100)
    # Every way out of the writer - a stream, a file (pwrite/copy_file_range),
    # a random read - refuses instead of leaving stale bytes in the volume.
    with pytest.raises(InputError, match="f: file shrank"):
        vol.write_to(io.BytesIO())
    with pytest.raises(InputError, match="f: file shrank"):
        _write(vol, tmp_path / "v.hfs")
    f = next(e for e in HFSReader(vol, "s").entries() if e.path == "f")
    start = HFSReader(vol, "s").fork_runs(f)[0][0]
    with pytest.raises(InputError, match="f: file shrank"):
        vol.read(start, 10000)
    # ... and so does building when it happens between the scan and the hash pass.
    tree = tree_from_directory(src)
    assert tree.get("g").data.size         # the top folder is listed (scanned) here
    (src / "g").write_bytes(b"")
    with pytest.raises(InputError, match="g: file shrank"):
        build_volume(tree, volname="S")


def test_wrong_size_finder_info_names_the_path():
    tree = Tree()
    tree.add("a/f", File())
    with pytest.raises(InputError, match="a/f: com.apple.FinderInfo: 1 bytes"):
        build_volume(tree, volname="F", xattrs={"a/f": {"com.apple.FinderInfo": b"x"}})
    with pytest.raises(InputError, match="a/f: Finder info: 2 bytes"):
        build_volume(tree, volname="F", finder_info={"a/f": b"xx"})


def test_every_name_clash_is_reported_in_one_error():
    # Fix-rerun-next-clash is no way to clean a tree: one error lists them all.
    tree = Tree()
    tree.add("dir/Readme", File())
    tree.add("dir/README", File())
    tree.add("dir/readme", File())
    tree.add("other/Caf\u00e9", File())
    tree.add("other/cafe\u0301", File())
    tree.add("deep/er/X", Folder())
    tree.add("deep/er/x", File())
    tree.add("odd/\u200c", File())
    with pytest.raises(InputError) as info:
        build_volume(tree, volname="C")
    msg = str(info.value)
    assert msg.startswith("4 names cannot be stored")
    assert "'dir/README' and 'dir/Readme' and 'dir/readme'" in msg
    assert "'other/Caf\u00e9' and 'other/cafe\u0301'" in msg
    assert "'deep/er/X' and 'deep/er/x'" in msg
    assert "'odd/\\u200c'" in msg and "--case-sensitive" in msg
    # Many clashes: the first ones by path, then a count.
    tree = Tree()
    for i in range(30):
        tree.add(f"f{i:02d}", File())
        tree.add(f"F{i:02d}", File())
    with pytest.raises(InputError) as info:
        build_volume(tree, volname="C")
    msg = str(info.value)
    assert msg.startswith("30 names cannot be stored")
    assert "'F00' and 'f00'" in msg and "'F19' and 'f19'" in msg and "'F20'" not in msg
    assert msg.endswith("... and 10 more")
