"""A large catalog is built in an unnamed temporary file instead of memory;
the volume's bytes must not depend on where it was built."""

from __future__ import annotations

import io
import os

import pytest

from hfs_trees import make_zoo
from pipeline.hfs import spill
from pipeline.hfs.output import HFSVolume
from pipeline.hfs.tree import File, FileData, FinderInfo, Folder, tree_from_directory
from pipeline.hfs.writer import _Builder, assign_cnids, build_volume
from pipeline.udif.writer import write_udif


def _tree(root):
    for i in range(300):
        folder = root / f"d{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file {i:04d}.txt").write_bytes(os.urandom(i % 50) * 3)
    return root


def _raw(volume: HFSVolume) -> bytes:
    buf = io.BytesIO()
    volume.write_to(buf)                  # streamed: not a regular file
    return buf.getvalue()


def test_spilled_catalog_gives_the_same_bytes(tmp_path, monkeypatch):
    src = _tree(tmp_path / "src")
    held = build_volume(str(src), volname="Spill")
    monkeypatch.setattr(spill, "SPILL_BYTES", 0)
    spilled = build_volume(str(src), volname="Spill")
    kinds = {type(payload) for _, payload in spilled._segments}
    assert spill.SpilledBytes in kinds
    assert spill.SpilledBytes not in {type(p) for _, p in held._segments}
    assert _raw(spilled) == _raw(held)
    # Written at offsets into a regular file, and read back by windows.
    with open(tmp_path / "held.hfs", "wb") as fh:
        held.write_to(fh)
    with open(tmp_path / "spilled.hfs", "wb") as fh:
        spilled.write_to(fh)
    assert (tmp_path / "held.hfs").read_bytes() == (tmp_path / "spilled.hfs").read_bytes()
    for offset in range(0, held.size, 12_800):
        assert spilled.read(offset, 4_608) == held.read(offset, 4_608)
    write_udif(held, tmp_path / "held.dmg", format="UDZO")
    write_udif(spilled, tmp_path / "spilled.dmg", format="UDZO")
    assert (tmp_path / "held.dmg").read_bytes() == (tmp_path / "spilled.dmg").read_bytes()


def test_spill_file_errors_name_it(monkeypatch):
    import errno
    import pytest
    from pipeline.errors import InputError

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr("tempfile.TemporaryFile", full)
    with pytest.raises(InputError, match="temporary file for the catalog B-tree in .*: No space"):
        spill.SpilledBytes(8192, "catalog B-tree")


def _zoo_tree(src):
    """Hard links, symlinks, attributes inline and in blocks (on the root
    too), a resource fork, Finder info, folders at several depths."""
    tree = tree_from_directory(src)
    big = bytes(range(256)) * 40
    tree.add("meta/doc", File(data=FileData.from_bytes(b"text"), rsrc=FileData.from_bytes(b"R" * 5000),
                              xattrs={"com.example.big": big, "com.example.tag": b"red"},
                              finder_info=FinderInfo.for_file(b"TEXT", b"ttxt")))
    tree.add("meta/sub", Folder(xattrs={"com.example.dir": big[::-1]}))
    tree.root.xattrs["com.example.rootbig"] = big[:5000]
    return tree


@pytest.mark.parametrize("hold", [0, 37])
def test_spilled_records_give_the_same_bytes(tmp_path, monkeypatch, hold):
    """Past SPILL_RECORDS the writer's catalog objects and the volume's list
    of forks live in temporary files; nothing about the volume may change,
    whichever of them are held."""
    src = tmp_path / "zoo"
    make_zoo(src, folders=12, files_per_folder=6, big_files=(70_000,))
    options = dict(volname="Zoo", open_folder="meta/sub", headroom_percent=10)
    held = build_volume(_zoo_tree(src), **options)
    held_cnids = assign_cnids(_zoo_tree(src))
    assert not held._segments._forks.spilled
    monkeypatch.setattr(spill, "SPILL_RECORDS", hold)
    # Subfolders past the first few are read back when the walk reaches them.
    monkeypatch.setattr(_Builder, "HELD_SUBFOLDERS", hold)
    spilled = build_volume(_zoo_tree(src), **options)
    assert spilled._segments._forks.spilled
    assert held.stats["files"] > hold and held.stats == spilled.stats
    assert _raw(spilled) == _raw(held)
    for offset in [*range(0, held.size - 9_216, 3_584), held.size - 9_216]:
        assert spilled.read(offset, 9_216) == held.read(offset, 9_216)
    assert assign_cnids(_zoo_tree(src)) == held_cnids
    write_udif(held, tmp_path / "held.dmg", format="UDZO")
    write_udif(spilled, tmp_path / "spilled.dmg", format="UDZO")
    assert (tmp_path / "held.dmg").read_bytes() == (tmp_path / "spilled.dmg").read_bytes()


def test_spilled_records_read_back_by_index_and_range(monkeypatch):
    records = spill.SpilledRecords("test records", list, tuple, hold=3)
    values = [(i, "n" * (i % 300), b"v" * (i % 7)) for i in range(5_000)]
    values.append((-1, "large", b"x" * (3 << 20)))      # one record larger than a read window
    for value in values:
        records.append(value)
    assert records.spilled and len(records) == len(values)
    assert list(records) == values
    for start, stop in [(0, 0), (2, 5), (3, 4), (100, 2_000), (4_990, 5_001), (5_000, 5_001)]:
        assert list(records.iter_range(start, stop)) == values[start:stop]
    assert records[1] == values[1] and records[4_000] == values[4_000]
    one, two = records.iter_range(10, 20), records.iter_range(4_000, 4_010)
    assert [next(one), next(two), next(one)] == [values[10], values[4_000], values[11]]
    records.append((7, "after reading", b""))
    assert records[len(values)] == (7, "after reading", b"")


def test_spilled_table_reads_back_what_was_set():
    table = spill.SpilledTable("test table", "<IIII", hold=10)
    assert table[3] == (0, 0, 0, 0)                    # never set: zeros
    table[2] = (1, 2, 3, 4)
    assert not table.spilled
    table[25] = (5, 6, 7, 8)                           # past the held ones: to the file
    assert table.spilled
    assert (table[2], table[25], table[24], table[40]) == \
        ((1, 2, 3, 4), (5, 6, 7, 8), (0, 0, 0, 0), (0, 0, 0, 0))
    table[2] = (9, 9, 9, 9)
    assert table[2] == (9, 9, 9, 9)


def test_record_spill_errors_name_it(monkeypatch):
    import errno
    from pipeline.errors import InputError

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    records = spill.SpilledRecords("catalog objects", list, tuple, hold=1)
    records.append((1,))
    monkeypatch.setattr("tempfile.TemporaryFile", full)
    with pytest.raises(InputError, match="temporary file for the catalog objects in .*: No space"):
        records.append((2,))


@pytest.mark.parametrize("run", [1, 7, 100, 999, 1_000, 1_001, 5_000])
def test_sorted_spilled_sorts_in_runs(monkeypatch, run):
    """A folder's names past SPILL_RECORDS are sorted in runs parked in a
    temporary file and merged; the order is sorted()'s, duplicates kept."""
    import random
    import tempfile
    rng = random.Random(run)
    items = [(rng.randbytes(rng.randrange(0, 4)), f"n{rng.randrange(50)}", "x" * (i % 3))
             for i in range(1_000)]
    opened = []
    real = tempfile.TemporaryFile
    monkeypatch.setattr("tempfile.TemporaryFile", lambda: opened.append(1) or real())
    assert list(spill.sorted_spilled(iter(items), "test names", run=run)) == sorted(items)
    assert bool(opened) == (run <= len(items))       # held only when all fit one run
    assert list(spill.sorted_spilled([], "test names", run=run)) == []


def _names_folder(root):
    """A folder whose catalog order (case folded, decomposed) is not the
    order of its names as Python sorts them."""
    folder = root / "names"
    folder.mkdir(parents=True)
    for i in range(120):
        for name in (f"Item {i:03d}", f"item {i:03d}b", f"\u00e9t\u00e9 {i:03d}", f"_{i:03d}"):
            (folder / name).write_bytes(name.encode())
    os.symlink("Item 000", folder / "link")
    return root


@pytest.mark.parametrize("hold", [0, 7, 100])
def test_a_large_folder_sorted_in_runs_gives_the_same_volume(tmp_path, monkeypatch, hold):
    src = _names_folder(tmp_path / "src")
    for case_sensitive in (False, True):
        held = _raw(build_volume(str(src), volname="N", case_sensitive=case_sensitive))
        with monkeypatch.context() as patch:
            patch.setattr(spill, "SPILL_RECORDS", hold)
            spilled = build_volume(str(src), volname="N", case_sensitive=case_sensitive)
        assert _raw(spilled) == held


def test_clashes_and_bad_names_in_a_folder_sorted_in_runs(tmp_path, monkeypatch):
    """Names that clash land in different runs and are still found; of names
    that cannot be stored, the first by name is reported, whatever order the
    file system lists them in."""
    from pipeline.errors import InputError
    src = _names_folder(tmp_path / "src")
    (src / "names" / "ITEM 042").write_bytes(b"clash")
    errors = []
    for hold in (20_000, 5):
        monkeypatch.setattr(spill, "SPILL_RECORDS", hold)
        with pytest.raises(InputError) as info:
            build_volume(str(src), volname="N")
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert "'names/ITEM 042' and 'names/Item 042' have the same name" in errors[0]
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in (b"z\xff", b"b\xfe", b"m\xfd", b"ok"):
        (bad / os.fsdecode(name)).write_bytes(b"")
    for hold in (20_000, 1):
        monkeypatch.setattr(spill, "SPILL_RECORDS", hold)
        with pytest.raises(InputError, match=r"/bad/b\\udcfe': file name is not valid UTF-8$"):
            build_volume(str(bad), volname="N")


def test_a_folder_that_changed_while_waiting_to_be_walked_is_an_error(tmp_path, monkeypatch):
    """A subfolder the walk did not hold is read back and asked of its parent
    again when its turn comes; if it is no longer a folder, that is said."""
    from pipeline.errors import InputError
    from pipeline.hfs import tree as tree_module
    (tmp_path / "src" / "a" / "b").mkdir(parents=True)
    (tmp_path / "src" / "z").mkdir()
    monkeypatch.setattr(_Builder, "HELD_SUBFOLDERS", 0)
    real, asked = tree_module._entry_at, []

    def entry_at(dirpath, name):
        asked.append(name)
        if asked.count(name) > 1 and name == "a":          # replaced by a file meanwhile
            return File(origin=os.path.join(dirpath, name))
        return real(dirpath, name)
    monkeypatch.setattr(tree_module, "_entry_at", entry_at)
    with pytest.raises(InputError, match=r"src/a: no longer a folder"):
        build_volume(str(tmp_path / "src"), volname="C")


def _linked_tree():
    """Hard-link groups with attributes: a pair and a triple whose names
    are far apart in CNID order, a name whose other names are outside the
    tree (a plain file), and enough other files to spill."""
    from pipeline.hfs.tree import Tree
    tree = Tree()
    big = bytes(range(256)) * 20                      # stored in blocks, on the inode
    for i in range(60):
        tree.add(f"d{i % 4}/f{i:03d}", File(data=FileData.from_bytes(b"f" * i)))
    for path in ("d0/pair", "d3/z/pair"):
        tree.add(path, File(data=FileData.from_bytes(b"pair data"), link_group="pair",
                            xattrs={"com.example.pair": b"p", "com.example.big": big}))
    for path in ("a-triple", "d1/triple", "d2/triple"):
        tree.add(path, File(data=FileData.from_bytes(b"t" * 5000), link_group=("t", 3)))
    tree.add("d2/solo", File(data=FileData.from_bytes(b"solo data"), link_group=(7, 7),
                             xattrs={"com.example.solo": b"s"}))
    return tree


@pytest.mark.parametrize("hold", [0, 3])
def test_hard_links_read_back_from_temporary_files_give_the_same_volume(monkeypatch, hold):
    """A hard-link group's names are recorded as files and made links as
    they are read back; the inodes, their name order and their forks' places
    come from temporary files too.  Nothing about the volume may change."""
    from pipeline.hfs.reader import HFSReader
    held = build_volume(_linked_tree(), volname="L")
    monkeypatch.setattr(spill, "SPILL_RECORDS", hold)
    monkeypatch.setattr(_Builder, "HELD_SUBFOLDERS", hold)
    spilled = build_volume(_linked_tree(), volname="L")
    assert spilled._segments._forks.spilled and held.stats == spilled.stats
    assert _raw(spilled) == _raw(held)
    entries = {e.path: e for e in HFSReader(spilled, "l").entries()}
    assert entries["d0/pair"].hardlink_inode == entries["d3/z/pair"].hardlink_inode != 0
    assert entries["a-triple"].nlink == 3
    assert entries["d2/solo"].hardlink_inode is None and entries["d2/solo"].nlink == 1
    assert entries["d2/solo"].xattrs == {"com.example.solo": b"s"}
    assert set(entries["d3/z/pair"].xattrs) == {"com.example.pair", "com.example.big"}


def test_inodes_whose_names_cross_a_power_of_ten_are_listed_in_name_order(monkeypatch):
    """The private folder lists iNode97..iNode106 as "iNode100".."iNode106",
    "iNode97".."iNode99": merged from one read in CNID order per count of
    digits, held or spilled, and in the key order the catalog requires."""
    from pipeline.hfs.reader import HFSReader
    from pipeline.hfs.tree import Tree
    from pipeline.hfs.writer import PRIVATE_DATA_NAME, _same_digit_ranges
    assert list(_same_digit_ranges(97, 107)) == [(97, 100), (100, 107)]
    assert list(_same_digit_ranges(5, 1_001)) == [(5, 10), (10, 100), (100, 1_000),
                                                  (1_000, 1_001)]

    def tree():
        t = Tree()
        for i in range(57):             # 80 names in all: the private folder is CNID 96
            t.add(f"plain/{i:02d}", File(data=FileData.from_bytes(b"p" * i)))
        for g in range(10):
            for side in ("a", "b"):
                t.add(f"{side}/{g}", File(data=FileData.from_bytes(b"g%d" % g), link_group=g))
        return t
    held = build_volume(tree(), volname="P")
    monkeypatch.setattr(spill, "SPILL_RECORDS", 0)
    spilled = build_volume(tree(), volname="P")
    assert _raw(spilled) == _raw(held)
    reader = HFSReader(spilled, "p")
    private = dict(reader._children(2))[PRIVATE_DATA_NAME]
    names = [name for name, _ in reader._children(private.folderID)]
    assert names == [f"iNode{n}" for n in range(100, 107)] + ["iNode97", "iNode98", "iNode99"]
