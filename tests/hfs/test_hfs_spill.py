"""A large catalog is built in an unnamed temporary file instead of memory;
the volume's bytes must not depend on where it was built."""

from __future__ import annotations

import io
import os

from pipeline.hfs import spill
from pipeline.hfs.output import HFSVolume
from pipeline.hfs.writer import build_volume
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
