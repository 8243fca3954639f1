"""Acceptance: a generated tree (>= 2000 files, >= 200 folders, the name zoo,
every kind of symlink, hard links, empty and multi-MiB files, executable
bits) written by our HFS+ writer is seen exactly by readers someone else
wrote: libfshfs (pyfshfs), 7-Zip, and by our own reader."""

from __future__ import annotations

import datetime
import os
import stat
import subprocess
from pathlib import Path

import pytest

from helpers import require_tool
from hfs_trees import Expect, make_zoo, nfd
from pipeline.hfs.extract import extract
from pipeline.hfs.reader import HFSReader
from pipeline.hfs.writer import build_volume
from pipeline.imagesource import FileImageSource

EPOCH_DT = datetime.datetime.fromtimestamp(1_700_000_000, datetime.timezone.utc).replace(tzinfo=None)
PRIVATE_ROOT_NAMES = {"\0\0\0\0HFS+ Private Data", "\u2400" * 4 + "HFS+ Private Data",
                      "[HFS+ Private Data]"}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    base = tmp_path_factory.mktemp("zoo")
    expect = make_zoo(base / "src")
    vol = build_volume(base / "src", volname="Zoo Vol", epoch=1_700_000_000)
    image = base / "zoo.hfs"
    with open(image, "wb") as fh:
        vol.write_to(fh)
    return base, expect, image


def _key(path: str) -> str:
    return nfd(path)


def _expected_by_nfd(expect: dict[str, Expect]) -> dict[str, Expect]:
    return {_key(p): e for p, e in expect.items()}


def _with_parents(expect: dict[str, Expect]) -> set[str]:
    """Every path including the implicit parent folders."""
    out = set()
    for p in expect:
        parts = p.split("/")
        for i in range(1, len(parts) + 1):
            out.add(_key("/".join(parts[:i])))
    return out


def test_zoo_is_big_enough(zoo):
    _base, expect, _image = zoo
    assert sum(1 for e in expect.values() if e.kind == "file") >= 2000
    assert sum(1 for e in expect.values() if e.kind == "dir") >= 200


def test_zoo_seen_exactly_by_libfshfs(zoo):
    import pyfshfs
    _base, expect, image = zoo
    want = _expected_by_nfd(expect)
    vol = pyfshfs.volume()
    vol.open(str(image))
    assert vol.name == "Zoo Vol"
    seen: dict[str, object] = {}
    link_ids: dict[str, set[int]] = {}

    def walk(entry, prefix: str) -> None:
        for i in range(entry.number_of_sub_file_entries):
            sub = entry.get_sub_file_entry(i)
            if not prefix and sub.name in PRIVATE_ROOT_NAMES:
                continue
            path = prefix + sub.name
            seen[_key(path)] = sub
            if stat.S_ISDIR(sub.file_mode):
                walk(sub, path + "/")

    walk(vol.get_root_directory(), "")
    assert set(seen) == _with_parents(expect)
    for path, sub in seen.items():
        exp = want.get(path, Expect("dir", 0o755))
        mode = sub.file_mode
        assert stat.S_IMODE(mode) == exp.mode, path
        assert (sub.owner_identifier, sub.group_identifier) == (0, 0), path
        if exp.kind == "dir":
            assert stat.S_ISDIR(mode), path
        elif exp.kind == "symlink":
            assert stat.S_ISLNK(mode), path
            assert sub.symbolic_link_target == exp.target, path
        else:
            assert stat.S_ISREG(mode), path
            assert sub.size == len(exp.data), path
            assert (sub.read() if exp.data else b"") == exp.data, path
            if exp.link_group:
                assert sub.number_of_links == {"pair": 2, "triple": 3}[exp.link_group]
                link_ids.setdefault(exp.link_group, set()).add(sub.identifier)
        # Every date is SOURCE_DATE_EPOCH.
        assert sub.modification_time == EPOCH_DT and sub.creation_time == EPOCH_DT, path
    assert len(link_ids) == 2 and all(len(ids) == 1 for ids in link_ids.values())


def _run7z(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([require_tool("7z"), *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "LC_ALL": "C.UTF-8"})


def test_zoo_7z_test_is_clean(zoo):
    _base, _expect, image = zoo
    res = _run7z("t", str(image))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Everything is Ok" in res.stdout


def test_zoo_7z_extract_identical(zoo):
    """7z x gives the same tree, with 7-Zip's documented conventions on Linux:
    the volume name is the top folder; ':' (stored '/') comes out as '_';
    absolute symlink targets are re-rooted under the output folder; hard
    links come out as the 0-byte link records plus the iNode file in
    "[HFS+ Private Data]" (7-Zip does not resolve HFS+ hard links)."""
    base, expect, image = zoo
    out = base / "x7"
    res = _run7z("x", "-y", "-snld", f"-o{out}", str(image))
    assert res.returncode == 0, res.stdout + res.stderr
    top = out / "Zoo Vol"
    got: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        for name in dirnames + filenames:
            path = name if rel == "." else f"{rel}/{name}"
            got[_key(path)] = Path(dirpath) / name
    inode_dir = top / "[HFS+ Private Data]"
    inodes = sorted(p.read_bytes() for p in inode_dir.iterdir())
    got = {k: v for k, v in got.items() if not k.startswith("[HFS+ Private Data]")}
    want = {_key(p).replace(":", "_"): e for p, e in expect.items()}
    assert set(got) == {p.replace(":", "_") for p in _with_parents(expect)}
    groups = {}
    for path, p in got.items():
        exp = want.get(path, Expect("dir", 0o755))
        st = os.lstat(p)
        if exp.kind == "dir":
            assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o755, path
        elif exp.kind == "symlink":
            target = os.readlink(p)
            if exp.target.startswith("/"):
                assert target == str(out) + exp.target, path
            else:
                assert target == exp.target, path
        elif exp.link_group:
            assert st.st_size == 0, path
            groups[exp.link_group] = exp.data
        else:
            assert p.read_bytes() == exp.data, path
            assert stat.S_IMODE(st.st_mode) == exp.mode, path
    assert inodes == sorted(groups.values())


def test_zoo_seen_exactly_by_our_reader(zoo):
    base, expect, image = zoo
    want = _expected_by_nfd(expect)
    with FileImageSource(image) as src:
        reader = HFSReader(src, str(image))
        entries = {_key(e.path): e for e in reader.entries()}
        assert set(entries) == _with_parents(expect)
        inodes = {}
        for path, e in entries.items():
            exp = want.get(path, Expect("dir", 0o755))
            assert e.kind == exp.kind, path
            assert stat.S_IMODE(e.mode) == exp.mode, path
            assert e.modify_date == 1_700_000_000 and e.create_date == 1_700_000_000
            if exp.kind == "symlink":
                assert e.link_target == exp.target
            elif exp.kind == "file":
                with reader.open(e) as fh:
                    assert fh.read() == exp.data, path
                if exp.link_group:
                    inodes.setdefault(exp.link_group, set()).add(e.hardlink_inode)
                    assert e.nlink == {"pair": 2, "triple": 3}[exp.link_group]
        assert all(len(v) == 1 and None not in v for v in inodes.values())
        # Extraction reproduces the tree, hard links included.
        dest = base / "ours"
        extract(reader, dest)
    on_disk = {}
    for dirpath, dirnames, filenames in os.walk(dest):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            on_disk[_key(str(full.relative_to(dest)))] = full
    assert set(on_disk) == _with_parents(expect)
    for path, exp in expect.items():
        p = on_disk[_key(path)]
        if exp.kind == "symlink":
            assert os.readlink(p) == exp.target
        elif exp.kind == "file":
            assert p.read_bytes() == exp.data
            assert stat.S_IMODE(p.stat().st_mode) == exp.mode
    assert os.path.samefile(dest / "hard/pair-1", dest / "hard/a/pair-2")
