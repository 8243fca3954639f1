"""Real volumes made by macOS (the hdiutil corpus): our reader lists them
exactly as 7-Zip does, and our catalog comparator accepts their order."""

from __future__ import annotations

import datetime
import os
import stat
import struct
import subprocess

import pytest

from helpers import require_tool
from hfs_corpus import HFS_DMGS
from pipeline.hfs.reader import HFSReader
from pipeline.hfs.unicode import compare_names
from pipeline.imagesource import FileImageSource


def seven_zip_listing(path) -> tuple[str, dict[str, dict[str, str]]]:
    """7z l -slt of a raw volume: (volume name, {path below the volume: fields})."""
    res = subprocess.run([require_tool("7z"), "l", "-slt", str(path)], capture_output=True,
                         text=True, check=True, env={**os.environ, "TZ": "UTC", "LC_ALL": "C.UTF-8"})
    blocks = res.stdout.split("----------\n", 1)[1].strip().split("\n\n")
    items = []
    for block in blocks:
        fields = dict(line.split(" = ", 1) for line in block.splitlines() if " = " in line)
        items.append(fields)
    volname = items[0]["Path"]
    assert items[0]["Folder"] == "+"
    out = {}
    for fields in items[1:]:
        prefix = volname + "/"
        assert fields["Path"].startswith(prefix)
        out[fields["Path"][len(prefix):]] = fields
    return volname, out


# 7-Zip shows the hard-link private folder under a display name and drops
# the trailing CR of the directory-hard-link folder's name.
SEVEN_ZIP_NAMES = {"\0\0\0\0HFS+ Private Data": "[HFS+ Private Data]",
                   ".HFS+ Private Directory Data\r": ".HFS+ Private Directory Data"}


@pytest.mark.parametrize("name", HFS_DMGS)
def test_corpus_listed_exactly_as_7zip(volumes, name):
    volname, listing = seven_zip_listing(volumes[name])
    with FileImageSource(volumes[name]) as src:
        reader = HFSReader(src, name)
        entries = list(reader.entries(include_private=True))
        assert reader.volume_name == volname
    ours = {}
    for e in entries:
        top, _, rest = e.path.partition("/")
        ours["/".join(filter(None, [SEVEN_ZIP_NAMES.get(top, top), rest]))] = e
    assert set(ours) == set(listing)
    for path, e in ours.items():
        fields = listing[path]
        assert (fields["Folder"] == "+") == (e.kind == "dir"), path
        assert fields["Mode"] == stat.filemode(e.mode), path
        modified = datetime.datetime.fromtimestamp(e.modify_date, datetime.timezone.utc)
        assert fields["Modified"] == modified.strftime("%Y-%m-%d %H:%M:%S"), path
        if e.kind != "dir":
            assert int(fields["Size"]) == e.data_size, path


@pytest.mark.parametrize("name", HFS_DMGS)
def test_corpus_catalog_order_accepted_by_our_comparator(volumes, name):
    with FileImageSource(volumes[name]) as src:
        reader = HFSReader(src, name)
        keys = list(reader.catalog_keys())
    assert len(keys) > 10
    for (p1, n1), (p2, n2) in zip(keys, keys[1:]):
        assert p1 < p2 or (p1 == p2 and compare_names(n1, n2) < 0), (p1, n1, p2, n2)


@pytest.mark.parametrize("name", HFS_DMGS)
def test_corpus_file_data_matches_7zip(volumes, name, tmp_path):
    """File bytes our reader streams equal what 7-Zip extracts."""
    out = tmp_path / "x"
    subprocess.run([require_tool("7z"), "x", "-y", f"-o{out}", str(volumes[name])],
                   capture_output=True, check=True)
    with FileImageSource(volumes[name]) as src:
        reader = HFSReader(src, name)
        top = out / reader.volume_name
        checked = 0
        for e in reader.entries():
            if e.kind == "file":
                with reader.open(e) as fh:
                    assert fh.read() == (top / e.path).read_bytes(), e.path
                checked += 1
    assert checked >= 3


@pytest.mark.parametrize("name", HFS_DMGS)
def test_corpus_journals_are_clean_and_a_dirty_one_is_reported(volumes, name):
    data = bytearray(volumes[name].read_bytes())

    class Source:
        size = len(data)

        def read(self, offset, length):
            return bytes(data[offset:offset + length])

    reader = HFSReader(Source(), name)
    assert reader.journal == "clean"         # macOS unmounted these volumes cleanly
    # Move the journal's end past its start: transactions waiting for replay.
    jib = struct.unpack_from(">I", data, 1024 + 12)[0] * 4096
    offset = struct.unpack_from(">Q", data, jib + 36)[0]
    start = struct.unpack_from("<q", data, offset + 8)[0]
    struct.pack_into("<q", data, offset + 16, start + 512)
    assert HFSReader(Source(), name).journal == "dirty"


@pytest.mark.parametrize("name", HFS_DMGS)
def test_default_listing_hides_what_macos_hides(volumes, name):
    with FileImageSource(volumes[name]) as src:
        everything = {e.path for e in HFSReader(src, name).entries(include_private=True)}
        default = {e.path for e in HFSReader(src, name).entries()}
        as_macos = {e.path for e in HFSReader(src, name).entries(hide_journal=True)}
    private = {"\0\0\0\0HFS+ Private Data", ".HFS+ Private Directory Data\r"}
    assert everything - default == private
    assert default - as_macos == {".journal", ".journal_info_block"}
