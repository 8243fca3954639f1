"""Determinism: the same tree staged twice - different directories, creation
order, umask, TZ, LANG and mtimes - gives byte-identical volumes through the
`reprodmg hfs create` command; any content change changes the volume id."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path

from hfs_trees import make_zoo
from pipeline.hfs.tree import File, FileData, Tree
from pipeline.hfs.writer import build_volume

REPO = Path(__file__).resolve().parents[2]


def _create(src: Path, out: Path, cwd: Path, env_extra: dict[str, str], *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("TZ", "LANG", "LC_ALL")}
    env.update(env_extra)
    env["PYTHONPATH"] = str(REPO)
    subprocess.run([sys.executable, "-m", "pipeline", "hfs", "create", str(src), "-o", str(out),
                    "--volname", "Same", *args], cwd=cwd, env=env, check=True,
                   capture_output=True)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def test_same_tree_staged_differently_gives_identical_volumes(tmp_path):
    small = dict(folders=20, files_per_folder=5, big_files=(1024 * 1024 + 3,))
    old = os.umask(0o022)
    try:
        make_zoo(tmp_path / "one" / "stage", mtime=1_000_000_000, **small)
        os.umask(0o007)
        make_zoo(tmp_path / "elsewhere" / "deeper" / "stage", reverse=True,
                 mtime=1_600_000_000, **small)
    finally:
        os.umask(old)
    h1 = _create(tmp_path / "one" / "stage", tmp_path / "a.hfs", tmp_path,
                 {"TZ": "UTC", "LANG": "C.UTF-8", "SOURCE_DATE_EPOCH": "1700000000"})
    h2 = _create(tmp_path / "elsewhere" / "deeper" / "stage", tmp_path / "b.hfs",
                 tmp_path / "elsewhere", {"TZ": "Pacific/Kiritimati", "LANG": "de_DE.UTF-8",
                                          "LC_ALL": "tr_TR.UTF-8",
                                          "SOURCE_DATE_EPOCH": "1700000000"})
    assert h1 == h2
    # --source-date-epoch agrees with the environment variable.
    h3 = _create(tmp_path / "one" / "stage", tmp_path / "c.hfs", tmp_path, {},
                 "--source-date-epoch", "1700000000")
    assert h3 == h1
    # The environment wins over the option.
    h4 = _create(tmp_path / "one" / "stage", tmp_path / "d.hfs", tmp_path,
                 {"SOURCE_DATE_EPOCH": "1700000000"}, "--source-date-epoch", "5")
    assert h4 == h1


def _volume_id(data: bytes) -> tuple[int, int]:
    return struct.unpack_from(">II", data, 1024 + 80 + 24)


def test_volume_id_follows_content():
    def image(content: bytes) -> bytes:
        tree = Tree()
        tree.add("a/file", File(data=FileData.from_bytes(content)))
        vol = build_volume(tree, volname="V", epoch=0)
        return vol.read(0, vol.size)

    one, same, other = image(b"abc"), image(b"abc"), image(b"abd")
    assert one == same
    assert _volume_id(one) == _volume_id(same) != _volume_id(other)
    assert _volume_id(one) != (0, 0)
    # The alternate header is an exact copy of the primary.
    assert one[1024:1536] == one[-1024:-512]
