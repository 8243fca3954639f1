"""Chunk amplification (issue 18 §1): a small image whose block table lists
the same compressed bytes thousands of times is refused when opened, in
well under a second, naming both chunks; so is a table declaring far more
expansion than its data fork could hold (limit overridable)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO
from pipeline.errors import CorruptError
from pipeline.udif.koly import KOLY_SIZE, Koly
from pipeline.udif.mish import CHUNK_TERMINATOR, BlkxTable
from pipeline.udif.reader import open_udif
from pipeline.udif.resources import ResourceFork


def _image(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    (src / "f.txt").write_bytes(b"some text that compresses " * 3000)
    out = tmp / "x.dmg"
    subprocess.run([sys.executable, "-m", "pipeline", "dmg", "create", str(src), "-o", str(out),
                    "--format", "UDBZ"], check=True, capture_output=True, cwd=REPO)
    return out


def _rewrite(image: Path, out: Path, edit) -> Path:
    """``image`` with its data partition's chunk list passed through ``edit``."""
    data = image.read_bytes()
    koly = Koly.parse(data[-KOLY_SIZE:])
    fork = ResourceFork.parse(data[koly.xml_offset:koly.xml_offset + koly.xml_length])
    entry = fork.blkx[0]
    table = BlkxTable.parse(entry.data)
    table.chunks, table.sector_count = edit(table)
    fork.blkx[0] = dataclasses.replace(entry, data=table.pack())
    xml = fork.pack()
    head = data[:koly.xml_offset]
    koly.xml_offset, koly.xml_length = len(head), len(xml)
    koly.sector_count = max(koly.sector_count, table.first_sector + table.sector_count)
    out.write_bytes(head + xml + koly.pack())
    return out


def _repeat_first_data_chunk(times: int):
    def edit(table: BlkxTable):
        data_chunk = next(c for c in table.chunks if c.length and c.type != CHUNK_TERMINATOR)
        chunks, sector = [], 0
        for _ in range(times):
            chunks.append(dataclasses.replace(data_chunk, sector=sector))
            sector += data_chunk.sector_count
        chunks.append(dataclasses.replace(table.chunks[-1], sector=sector, sector_count=0))
        return chunks, sector
    return edit


def test_the_same_bytes_listed_many_times_are_refused_at_once(tmp_path):
    bomb = _rewrite(_image(tmp_path), tmp_path / "bomb.dmg", _repeat_first_data_chunk(20000))
    assert bomb.stat().st_size < 2 << 20
    start = time.monotonic()
    with pytest.raises(CorruptError, match=r"chunk 1: offset .*: its compressed bytes at \d+ "
                                           r"overlap those of .*chunk 0"):
        open_udif(bomb)
    assert time.monotonic() - start < 2
    proc = subprocess.run([sys.executable, "-m", "pipeline", "dmg", "verify", str(bomb)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "overlap" in proc.stderr


def test_declared_expansion_out_of_proportion(tmp_path, monkeypatch):
    image = _image(tmp_path)
    monkeypatch.setenv("REPRODMG_MAX_EXPANSION_RATIO", "1")
    # A real image, but the ratio allowed is 1 and the floor is 1 GiB: fine.
    open_udif(image).close()
    # 500 chunks of 4 MiB, each declared from its own single byte: no
    # overlap, 2000 MiB from a few hundred bytes.
    def edit(table: BlkxTable):
        first = next(c for c in table.chunks if c.length and c.type != CHUNK_TERMINATOR)
        chunks = [dataclasses.replace(first, sector=i * 8192, sector_count=8192,
                                      offset=i, length=1) for i in range(500)]
        end = dataclasses.replace(table.chunks[-1], sector=500 * 8192, sector_count=0)
        return chunks + [end], 500 * 8192
    bomb = _rewrite(image, tmp_path / "big.dmg", edit)
    monkeypatch.delenv("REPRODMG_MAX_EXPANSION_RATIO")
    start = time.monotonic()
    with pytest.raises(CorruptError, match=r"block tables: the data chunks declare 2097152000 "
                                           r"expanded bytes, more than 50000 times"):
        open_udif(bomb)
    assert time.monotonic() - start < 2
    # The limit is the user's to raise: then the image opens.
    monkeypatch.setenv("REPRODMG_MAX_EXPANSION_RATIO", "10000000")
    open_udif(bomb).close()
    monkeypatch.setenv("REPRODMG_MAX_EXPANSION_RATIO", "nope")
    with pytest.raises(Exception, match="REPRODMG_MAX_EXPANSION_RATIO='nope': not a whole number"):
        open_udif(image)
