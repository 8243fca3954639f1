"""Deterministic tarball writing and hostile-tarball refusal (pipeline.tarball)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pipeline.errors import CorruptError, InputError
from pipeline.tarball import pack_members, pack_tree, read_members, safe_extract

REPO = Path(__file__).resolve().parents[2]


def _make_tree(root: Path, reverse: bool) -> None:
    files = {
        "b/z.txt": b"zed\n",
        "a/run.sh": b"#!/bin/sh\n",
        "a/sub/\u00e9t\u00e9.txt": b"summer\n",
        "top.bin": bytes(range(256)) * 40,
    }
    items = sorted(files.items(), reverse=reverse)
    for name, data in items:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (1234567 if reverse else 7654321,) * 2)
    os.chmod(root / "a/run.sh", 0o700 if reverse else 0o755)
    os.chmod(root / "top.bin", 0o600 if reverse else 0o664)
    os.symlink("../top.bin", root / "a/link")


def _pack_in_subprocess(src: Path, out: Path, umask: int, tz: str) -> None:
    code = (f"import os; os.umask({umask}); from pipeline.tarball import pack_tree; "
            f"pack_tree({str(src)!r}, {str(out)!r}, prefix='x', mtime=1700000000)")
    env = {"PATH": os.environ.get("PATH", ""), "TZ": tz, "LANG": "C", "PYTHONPATH": str(REPO),
           "SOURCE_DATE_EPOCH": "1700000000"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=src.parent)


def test_pack_tree_is_identical_under_different_conditions(tmp_path: Path) -> None:
    one, two = tmp_path / "one" / "src", tmp_path / "elsewhere" / "deeper" / "src"
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    _make_tree(one, reverse=False)
    _make_tree(two, reverse=True)
    _pack_in_subprocess(one, tmp_path / "one.tar", 0o022, "UTC")
    _pack_in_subprocess(two, tmp_path / "two.tar", 0o077, "Asia/Tokyo")
    a, b = (tmp_path / "one.tar").read_bytes(), (tmp_path / "two.tar").read_bytes()
    assert hashlib.sha256(a).hexdigest() == hashlib.sha256(b).hexdigest()

    with tarfile.open(tmp_path / "one.tar") as tar:
        infos = tar.getmembers()
    names = [i.name for i in infos]
    assert names == sorted(names)
    assert names[0] == "x"
    by_name = {i.name: i for i in infos}
    assert by_name["x/a/run.sh"].mode == 0o755
    assert by_name["x/top.bin"].mode == 0o644
    assert by_name["x/a/link"].linkname == "../top.bin"
    assert all(i.mtime == 1700000000 and i.uid == 0 and i.uname == "" for i in infos)


def test_round_trip_through_safe_extract(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _make_tree(src, reverse=False)
    pack_tree(src, tmp_path / "t.tar", mtime=0)
    names = safe_extract(tmp_path / "t.tar", tmp_path / "out")
    assert "a/sub/\u00e9t\u00e9.txt" in names
    assert (tmp_path / "out/top.bin").read_bytes() == (src / "top.bin").read_bytes()
    assert os.readlink(tmp_path / "out/a/link") == "../top.bin"
    assert os.stat(tmp_path / "out/a/run.sh").st_mode & 0o777 == 0o755


def test_pack_members_and_read_members(tmp_path: Path) -> None:
    pack_members({"b/c.sign": b"\x01\x02", "a.sign": b""}, tmp_path / "m.tar", mtime=0)
    assert read_members(tmp_path / "m.tar") == {"a.sign": b"", "b/c.sign": b"\x01\x02"}


def _hostile(tmp_path: Path, *members: tarfile.TarInfo, data: bytes = b"x") -> Path:
    path = tmp_path / "hostile.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for info in members:
            if info.isreg():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize("members, message", [
    ([_info("../evil")], "'..'"),
    ([_info("/etc/evil")], "absolute path"),
    ([_info("ok/../../evil")], "'..'"),
    ([_info("abs", tarfile.SYMTYPE, "/etc/passwd")], "leaves the destination"),
    ([_info("a/up", tarfile.SYMTYPE, "../../x")], "leaves the destination"),
    ([_info("hl", tarfile.LNKTYPE, "nowhere")], "hard link"),
    ([_info("dev", tarfile.CHRTYPE)], "special file"),
    ([_info("dup"), _info("dup")], "appears twice"),
])
def test_hostile_tarball_is_refused_before_writing(tmp_path: Path, members, message) -> None:
    path = _hostile(tmp_path, *members)
    with pytest.raises(InputError, match=message) as err:
        safe_extract(path, tmp_path / "dest")
    assert str(path) in str(err.value)
    assert not (tmp_path / "dest").exists()


def test_symlink_chain_escaping_through_folder_is_refused(tmp_path: Path) -> None:
    # d -> . is harmless alone; "d/../x" is caught by the name check, so the
    # trick is a link to a folder that itself escapes - refused at the link.
    path = _hostile(tmp_path, _info("d", tarfile.SYMTYPE, ".."), _info("d/x"))
    with pytest.raises(InputError, match="leaves the destination"):
        safe_extract(path, tmp_path / "dest")


def test_write_through_inner_symlink_stays_inside(tmp_path: Path) -> None:
    path = _hostile(tmp_path, _info("real", tarfile.DIRTYPE),
                    _info("alias", tarfile.SYMTYPE, "real"), _info("alias/f"))
    safe_extract(path, tmp_path / "dest")
    assert (tmp_path / "dest/real/f").read_bytes() == b"x"


def test_oversized_member_is_refused(tmp_path: Path) -> None:
    path = _hostile(tmp_path, _info("big"), data=b"y" * 100)
    with pytest.raises(InputError, match="exceeds the limit"):
        read_members(path, max_member=99)


def test_truncated_and_garbage_tarballs_are_corrupt_errors(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(os.urandom(5000))
    pack_tree(src, tmp_path / "t.tar", mtime=0)
    whole = (tmp_path / "t.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(whole[:1500])
    with pytest.raises((CorruptError, InputError)):
        read_members(tmp_path / "cut.tar")
    (tmp_path / "junk.tar").write_bytes(b"not a tar" * 100)
    with pytest.raises(CorruptError, match="junk.tar"):
        read_members(tmp_path / "junk.tar")


def test_symlink_chain_leaving_through_other_links_is_refused(tmp_path: Path) -> None:
    # Each target is harmless read alone ('..' never outnumbers the folders
    # above the link), but x resolves to sub/s2/.. -> the parent of dest.
    path = _hostile(tmp_path, _info("sub", tarfile.DIRTYPE),
                    _info("sub/s2", tarfile.SYMTYPE, ".."),
                    _info("lnk", tarfile.SYMTYPE, "sub/s2"),
                    _info("x", tarfile.SYMTYPE, "lnk/.."))
    with pytest.raises(InputError, match="'x'.*leaves the destination"):
        safe_extract(path, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    # A loop of links is refused too (the kernel would say ELOOP).
    path = _hostile(tmp_path, _info("a", tarfile.SYMTYPE, "b/.."),
                    _info("b", tarfile.SYMTYPE, "a/.."))
    with pytest.raises(InputError, match="leaves the destination"):
        safe_extract(path, tmp_path / "dest")
    # Links resolving through other links but staying inside are fine.
    path = _hostile(tmp_path, _info("sub", tarfile.DIRTYPE),
                    _info("sub/s2", tarfile.SYMTYPE, "."),
                    _info("lnk", tarfile.SYMTYPE, "sub/s2/s2/s2"),
                    _info("x", tarfile.SYMTYPE, "lnk/.."))
    safe_extract(path, tmp_path / "ok")
    assert os.path.realpath(tmp_path / "ok/x") == os.path.realpath(tmp_path / "ok")


@pytest.mark.parametrize("members, message", [
    ([_info("a/f"), _info("a", tarfile.SYMTYPE, "b")], "uses it as a folder"),
    ([_info("a"), _info("a/f")], "not a folder"),
    ([_info("a"), _info("h", tarfile.LNKTYPE, "a"), _info("h/f")], "not a folder"),
])
def test_name_used_as_file_and_folder_is_refused_before_writing(tmp_path: Path, members,
                                                                 message) -> None:
    path = _hostile(tmp_path, *members)
    with pytest.raises(InputError, match=message):
        safe_extract(path, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_what_the_file_system_refuses_is_an_input_error_leaving_nothing(tmp_path: Path) -> None:
    # A folder reached through a link to a file: only the kernel can tell.
    path = _hostile(tmp_path, _info("f"), _info("alias", tarfile.SYMTYPE, "f"),
                    _info("alias/x"))
    with pytest.raises(InputError, match="member 'alias/x'.*cannot extract"):
        safe_extract(path, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_atomic_output_uses_a_fresh_temporary_per_writer(tmp_path: Path) -> None:
    # Two writers of one artifact (builders sharing a cache) must not write
    # into the same temporary file; a failed write leaves nothing behind.
    from pipeline.atomic import atomic_output
    target = tmp_path / "shared.tar"
    with atomic_output(target) as first, atomic_output(target) as second:
        assert len(list(tmp_path.glob("shared.tar.*.partial"))) == 2
        first.write(b"one")
        second.write(b"two")
    assert target.read_bytes() in (b"one", b"two")
    with pytest.raises(RuntimeError):
        with atomic_output(tmp_path / "broken.bin") as fh:
            fh.write(b"partial")
            raise RuntimeError("interrupted")
    assert not (tmp_path / "broken.bin").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.tar"]
