"""`reprodmg hfs create | ls | extract` end to end, and the ImageSource view
of a built volume (what the UDIF writer consumes) against the streamed file."""

from __future__ import annotations

import io
import json
import os
import random
import struct

import pytest

from pipeline.cli import main
from pipeline.hfs.freespace import free_byte_ranges
from pipeline.hfs.tree import File, FileData, Tree
from pipeline.hfs.writer import build_volume
from pipeline.imagesource import FileImageSource


@pytest.fixture()
def src(tmp_path):
    s = tmp_path / "src"
    (s / "App.app" / "Contents" / "MacOS").mkdir(parents=True)
    exe = s / "App.app" / "Contents" / "MacOS" / "App"
    exe.write_bytes(b"\xcf\xfa\xed\xfe" + bytes(10000))
    exe.chmod(0o755)
    (s / "README:notes.txt").write_text("read me\n")
    os.symlink("/Applications", s / "Applications")
    return s


def test_create_ls_extract(src, tmp_path, capsys):
    out = tmp_path / "vol.hfs"
    assert main(["hfs", "create", str(src), "-o", str(out), "--volname", "My App",
                 "--open-folder", "App.app", "--headroom", "1M", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["size"] == out.stat().st_size and summary["volume_name"] == "My App"
    assert not list(tmp_path.glob("*.partial"))

    assert main(["hfs", "ls", str(out)]) == 0
    text = capsys.readouterr().out
    assert "App.app/Contents/MacOS/App" in text and "Applications -> /Applications" in text
    assert "-rwxr-xr-x" in text and "README:notes.txt" in text

    assert main(["hfs", "ls", str(out), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["volume_name"] == "My App" and listing["signature"] == "H+"
    by_path = {e["path"]: e for e in listing["entries"]}
    assert by_path["Applications"]["link_target"] == "/Applications"
    assert by_path["App.app/Contents/MacOS/App"]["mode"] == "100755"

    dest = tmp_path / "out"
    assert main(["hfs", "extract", str(out), str(dest)]) == 0
    assert (dest / "App.app/Contents/MacOS/App").read_bytes() == \
        (src / "App.app/Contents/MacOS/App").read_bytes()
    assert os.readlink(dest / "Applications") == "/Applications"
    assert (dest / "README:notes.txt").read_text() == "read me\n"


def test_errors_are_one_line_and_nonzero(src, tmp_path, capsys):
    bogus = tmp_path / "bogus.hfs"
    bogus.write_bytes(bytes(64 * 1024))
    assert main(["hfs", "ls", str(bogus)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bogus.hfs" in err and "signature" in err
    assert main(["hfs", "create", str(src), "-o", str(tmp_path / "x.hfs"), "--size", "16K"]) != 0
    assert "too small" in capsys.readouterr().err
    assert not (tmp_path / "x.hfs").exists() and not list(tmp_path.glob("*.partial"))
    assert main(["hfs", "create", str(tmp_path / "missing"), "-o", str(tmp_path / "y.hfs")]) != 0


def test_imagesource_reads_match_the_streamed_volume(tmp_path):
    rng = random.Random(5)
    tree = Tree()
    for i in range(40):
        tree.add(f"d{i % 4}/f{i}", File(data=FileData.from_bytes(rng.randbytes(rng.randrange(0, 70000)))))
    disk = tmp_path / "big.bin"
    disk.write_bytes(rng.randbytes(300000))
    tree.add("disk/big.bin", File(data=FileData.from_path(disk)))
    vol = build_volume(tree, volname="R", headroom_bytes=2 << 20)
    path = tmp_path / "r.hfs"
    with open(path, "wb") as fh:
        vol.write_to(fh)
    data = path.read_bytes()
    assert len(data) == vol.size
    stream = io.BytesIO()                   # no fileno: the sequential path
    vol.write_to(stream)
    assert stream.getvalue() == data
    for _ in range(200):
        off = rng.randrange(0, vol.size)
        n = rng.randrange(0, min(200000, vol.size - off) + 1)
        assert vol.read(off, n) == data[off:off + n]
    # Free ranges read back from the volume are exactly the unused blocks.
    ranges = free_byte_ranges(vol, "r.hfs")
    assert sum(n for _, n in ranges) == vol.header.freeBlocks * 4096 >= 2 << 20
    for off, n in ranges:
        assert data[off:off + n] == bytes(n)
    with FileImageSource(path) as src:
        assert free_byte_ranges(src, "r.hfs") == ranges
    # The last free block is followed by the used block holding the alternate header.
    assert ranges[-1][0] + ranges[-1][1] == vol.size - 4096
    assert struct.unpack_from(">2s", data, vol.size - 1024)[0] == b"H+"


def test_extract_never_overwrites_or_follows_what_is_in_dest(src, tmp_path, capsys):
    out = tmp_path / "vol.hfs"
    assert main(["hfs", "create", str(src), "-o", str(out)]) == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside, dest / "App.app")          # planted: the volume has App.app/
    assert main(["hfs", "extract", str(out), str(dest)]) != 0
    err = capsys.readouterr().err
    assert "App.app" in err and err.count("\n") == 1
    assert list(outside.iterdir()) == []
    # Extracting twice into the same folder is refused the same way.
    again = tmp_path / "again"
    assert main(["hfs", "extract", str(out), str(again)]) == 0
    assert main(["hfs", "extract", str(out), str(again)]) != 0


def test_binary_symlink_target_lists_without_crashing(tmp_path, capsys):
    from pipeline.hfs.tree import Symlink
    tree = Tree()
    tree.add("odd", Symlink(target=b"caf\xe9".decode("utf-8", "surrogateescape")))
    vol = build_volume(tree, volname="S")
    image = tmp_path / "s.hfs"
    with open(image, "wb") as fh:
        vol.write_to(fh)
    assert main(["hfs", "ls", str(image)]) == 0
    assert "odd -> caf\\xe9" in capsys.readouterr().out
    assert main(["hfs", "ls", "--json", str(image)]) == 0
    assert json.loads(capsys.readouterr().out)["entries"][0]["link_target"] == "caf\\xe9"
    dest = tmp_path / "x"
    assert main(["hfs", "extract", str(image), str(dest)]) == 0
    assert os.readlink(os.fsencode(dest / "odd")) == b"caf\xe9"


def test_text_listing_escapes_control_characters(tmp_path, capsys):
    from pipeline.hfs.tree import File, Symlink, Tree
    from pipeline.hfs.writer import build_volume
    # Names may hold any character but NUL; a listing line must stay one line
    # and never carry a terminal escape sequence.
    tree = Tree()
    tree.add("evil\nfake line", File(xattrs={"x\x1b[2J": b"v"}))
    tree.add("esc\x1b]0;title\x07", Symlink(target="t\x9b1m"))
    image = tmp_path / "c.hfs"
    with open(image, "wb") as fh:
        build_volume(tree, volname="C").write_to(fh)
    assert main(["hfs", "ls", str(image)]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 2
    assert not any(c in out for c in "\x1b\x07\x9b")
    assert "evil\\x0afake line" in out and "esc\\x1b]0;title\\x07 -> t\\x9b1m" in out
    assert "xattrs x\\x1b[2J" in out


def test_extract_keeps_attributes_finder_info_and_resource_forks(tmp_path, capsys):
    # Never dropped silently: user.* attributes where the destination takes
    # them, AppleDouble ._name files on request, counted when left out.
    import os
    from pipeline.hfs import FinderInfo
    from pipeline.hfs.appledouble import parse_appledouble
    tree = Tree()
    tree.add("doc.txt", File(data=FileData.from_bytes(b"text")))
    tree.add("plain.txt", File(data=FileData.from_bytes(b"plain")))
    finder = b"TEXTttxt\x40\x00" + bytes(22)
    vol = build_volume(tree, volname="Meta", xattrs={"doc.txt": {"com.example.tag": b"red"}},
                       finder_info={"doc.txt": FinderInfo(finder)},
                       resource_forks={"doc.txt": b"RSRC" * 100})
    image = tmp_path / "meta.hfs"
    with open(image, "wb") as fh:
        vol.write_to(fh)
    linux = tmp_path / "linux"
    assert main(["hfs", "extract", str(image), str(linux), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["metadata"] == {"linux_xattrs": 3, "appledouble_files": 0, "dropped": 0}
    doc = str(linux / "doc.txt")
    assert os.getxattr(doc, "user.com.example.tag") == b"red"
    assert os.getxattr(doc, "user.com.apple.FinderInfo") == finder
    assert os.getxattr(doc, "user.com.apple.ResourceFork") == b"RSRC" * 100
    assert os.listxattr(str(linux / "plain.txt")) == []
    double = tmp_path / "double"
    assert main(["hfs", "extract", str(image), str(double), "--xattrs", "appledouble"]) == 0
    assert sorted(p.name for p in double.iterdir()) == ["._doc.txt", "doc.txt", "plain.txt"]
    assert parse_appledouble((double / "._doc.txt").read_bytes()) == (
        finder, {"com.example.tag": b"red"}, b"RSRC" * 100)
    capsys.readouterr()
    assert main(["hfs", "extract", str(image), str(tmp_path / "none"), "--xattrs", "none"]) == 0
    err = capsys.readouterr().err
    assert "1 item(s) were left out" in err
    assert os.listxattr(str(tmp_path / "none" / "doc.txt")) == []


def test_extract_leaves_holes_where_a_file_is_zeros(tmp_path, capsys):
    # A 512 MiB sparse file and one with data between holes: extraction
    # gives the same bytes, and disk blocks only where there is data.
    s = tmp_path / "src"
    s.mkdir()
    with open(s / "zeros", "wb") as fh:
        fh.truncate(512 << 20)
    with open(s / "mixed", "wb") as fh:
        fh.write(b"x" * 5000)
        fh.seek(10 << 20)
        fh.write(b"y" * 100)
        fh.truncate(20 << 20)
    vol = tmp_path / "vol.hfs"
    assert main(["hfs", "create", str(s), "-o", str(vol), "--volname", "Sparse"]) == 0
    out = tmp_path / "out"
    assert main(["hfs", "extract", str(vol), str(out)]) == 0
    capsys.readouterr()
    for name in ("zeros", "mixed"):
        assert (out / name).read_bytes() == (s / name).read_bytes()
    allocated = sum((out / n).stat().st_blocks * 512 for n in ("zeros", "mixed"))
    assert allocated <= 4 << 20, allocated


def _bytes_read() -> int:
    with open("/proc/self/io") as fh:
        return int(next(line for line in fh if line.startswith("rchar:")).split()[1])


def test_holes_in_input_files_are_not_read(tmp_path):
    # A 256 MiB sparse file goes into a volume (and through the volume id's
    # pass over all content) without its holes being read: reading a hole
    # costs what reading data costs; lseek(SEEK_DATA) says where they are.
    from pipeline.hfs.allocation import volume_id
    s = tmp_path / "src"
    s.mkdir()
    with open(s / "sparse", "wb") as fh:
        fh.write(b"head")
        fh.seek(128 << 20)
        fh.write(b"middle")
        fh.truncate(256 << 20)
    before = _bytes_read()
    vol = build_volume(str(s), volname="Sparse")
    volume_id(b"", vol._segments)
    data = b"".join(vol.read(off, min(1 << 20, vol.size - off))
                    for off in range(0, vol.size, 1 << 20))
    assert _bytes_read() - before < 16 << 20
    start = data.index(b"head")
    assert data[start + (128 << 20):start + (128 << 20) + 6] == b"middle"
