"""Real HFS+ volumes made by macOS that dfVFS publishes (tests/data/dfvfs-hfsplus):
a raw volume hdiutil created and macOS filled, and a UDZO image of it made
by ``hdiutil create -srcfolder``.

Oracles: libfshfs (pyfshfs) reads every entry of both volumes (the DMG's
partition taken out by 7-Zip, not by us); our reader, ``dmg ls --json``,
``dmg verify`` and both extract commands must say what it says: kind, mode,
owner, modification date, link count, sizes, link target, extended
attributes, resource fork and data.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, require_tool
from pipeline.hfs.reader import HFSReader
from pipeline.imagesource import FileImageSource

DATA = REPO / "tests" / "data" / "dfvfs-hfsplus"
DMG = DATA / "hfsplus_zlib.dmg"
HFS_EPOCH_OFFSET = 2082844800          # seconds from 1904-01-01 to 1970-01-01
# What libfshfs calls the two private folders; our listings leave them out.
LIBFSHFS_PRIVATE = {"\u2400\u2400\u2400\u2400HFS+ Private Data", ".HFS+ Private Directory Data\r"}
ENV = {**os.environ, "REPRODMG_PROGRESS": "0", "LC_ALL": "C.UTF-8"}


@pytest.fixture(scope="module")
def volumes(tmp_path_factory) -> dict[str, Path]:
    """{"raw": dfVFS's raw volume, "dmg": the DMG's HFS+ partition as 7-Zip expands it}."""
    out = tmp_path_factory.mktemp("dfvfs")
    raw = out / "hfsplus.raw"
    raw.write_bytes(gzip.decompress((DATA / "hfsplus.raw.gz").read_bytes()))
    part = out / "hfsplus_zlib.hfs"
    with open(part, "wb") as fh:
        subprocess.run([require_tool("7z"), "e", "-tdmg", "-so", str(DMG), "4.hfs"],
                       stdout=fh, stderr=subprocess.DEVNULL, check=True)
    assert part.stat().st_size == 3744 * 512          # the Apple_HFS partition, whole
    return {"raw": raw, "dmg": part}


def libfshfs_view(path: Path) -> tuple[str, dict[str, dict]]:
    """(volume name, {path: what libfshfs says of it}) for every entry but the private folders."""
    import pyfshfs
    vol = pyfshfs.volume()
    vol.open(str(path))
    out: dict[str, dict] = {}

    def walk(folder, prefix: str) -> None:
        for entry in folder.sub_file_entries:
            if not prefix and entry.name in LIBFSHFS_PRIVATE:
                continue
            rel = prefix + entry.name
            mode = entry.file_mode
            rsrc = entry.get_resource_fork() if entry.has_resource_fork() else None
            out[rel] = {
                "mode": mode, "uid": entry.owner_identifier, "gid": entry.group_identifier,
                "modify_date": entry.get_modification_time_as_integer() - HFS_EPOCH_OFFSET,
                "nlink": entry.number_of_links,
                "size": entry.size if not stat.S_ISDIR(mode) else 0,
                "link_target": entry.symbolic_link_target,
                "xattrs": {a.name: a.read_buffer(a.get_size()) for a in entry.extended_attributes},
                "rsrc": rsrc.read_buffer(rsrc.get_size()) if rsrc is not None else b"",
                "data": entry.read_buffer(entry.size) if stat.S_ISREG(mode) and entry.size
                else b"",
            }
            if stat.S_ISDIR(mode):
                walk(entry, rel + "/")

    try:
        walk(vol.get_root_directory(), "")
        return vol.name, out
    finally:
        vol.close()


def test_the_samples_are_what_their_notice_says(volumes):
    name, view = libfshfs_view(volumes["raw"])
    assert name == "hfsplus_test"
    assert view["a_directory/a_file"]["xattrs"] == {"myxattr": b"My extended attribute"}
    assert view["a_directory/a_resourcefork"]["rsrc"] == b"My resource fork\n"
    assert view["a_link"]["link_target"] == "a_directory/another_file"
    assert any(p.startswith(".fseventsd/") for p in view)
    assert not any(p.startswith(".fseventsd") for p in libfshfs_view(volumes["dmg"])[1])


@pytest.mark.parametrize("which", ["raw", "dmg"])
def test_our_reader_says_what_libfshfs_says(volumes, which):
    volname, expected = libfshfs_view(volumes[which])
    with FileImageSource(volumes[which]) as src:
        reader = HFSReader(src, which)
        assert reader.volume_name == volname
        seen = {}
        for e in reader.entries():
            seen[e.path] = {
                "mode": e.mode, "uid": e.uid, "gid": e.gid, "modify_date": e.modify_date,
                "nlink": e.nlink,
                "size": e.data_size if e.kind != "dir" else 0,
                "link_target": e.link_target,
                "xattrs": dict(e.xattrs),
                "rsrc": reader.open(e, "rsrc").read() if e.rsrc_size else b"",
                "data": reader.open(e).read() if e.kind == "file" and e.data_size else b"",
            }
    assert seen == expected


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True,
                          text=True, env=ENV, cwd=REPO)


def test_dmg_verify_and_ls_of_the_hdiutil_image(volumes):
    verified = _cli("dmg", "verify", str(DMG))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # hdiutil stored no data-fork checksum here; every partition and the master one check out.
    assert "no CRC32 stored (type 0)" in verified.stdout
    assert "master : ok CRC32 $13BE34B8" in verified.stdout
    listed = _cli("dmg", "ls", "--json", str(DMG))
    assert listed.returncode == 0, listed.stderr
    volname, expected = libfshfs_view(volumes["dmg"])
    listing = json.loads(listed.stdout)
    assert listing["volume_name"] == volname
    ours = {e["path"]: e for e in listing["entries"]}
    assert set(ours) == set(expected)
    for path, want in expected.items():
        e = ours[path]
        assert int(e["mode"], 8) == want["mode"], path
        assert (e["uid"], e["gid"], e["nlink"]) == (want["uid"], want["gid"], want["nlink"]), path
        assert e["modify_date"] == want["modify_date"], path
        assert e["link_target"] == want["link_target"], path
        assert sorted(e["xattrs"]) == sorted(want["xattrs"]), path
        assert e["rsrc_size"] == len(want["rsrc"]), path
        if e["kind"] != "dir":
            assert e["data_size"] == want["size"], path


@pytest.mark.parametrize("which", ["raw", "dmg"])
def test_extracted_files_hold_what_libfshfs_reads(volumes, which, tmp_path):
    out = tmp_path / "out"
    if which == "raw":
        done = _cli("hfs", "extract", str(volumes["raw"]), str(out))
    else:
        done = _cli("dmg", "extract", str(DMG), str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    _, expected = libfshfs_view(volumes[which])
    found = {str(p.relative_to(out)) for p in out.rglob("*")}
    assert found == set(expected)
    for path, want in expected.items():
        p = out / path
        st = p.lstat()
        assert stat.S_IFMT(st.st_mode) == stat.S_IFMT(want["mode"]), path
        if stat.S_ISLNK(st.st_mode):
            assert os.readlink(p) == want["link_target"], path
            continue
        if stat.S_ISREG(st.st_mode):
            assert p.read_bytes() == want["data"], path
            assert int(st.st_mtime) == want["modify_date"], path
        for name, value in want["xattrs"].items():
            assert os.getxattr(p, "user." + name) == value, path
        if want["rsrc"]:
            assert os.getxattr(p, "user.com.apple.ResourceFork") == want["rsrc"], path
