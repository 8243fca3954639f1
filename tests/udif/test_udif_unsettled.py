"""`dmg create` compresses a volume's chunks while its volume id (a hash of
every file) is still being computed: the chunks holding the id wait, the
others do not, and the image is the same bytes whatever the worker count."""

from __future__ import annotations

import hashlib
import random

import pytest

from pipeline.hfs.writer import build_volume
from pipeline.udif import writer as udif_writer
from pipeline.udif.writer import write_udif


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("unsettled") / "tree"
    rng = random.Random(7)
    for i in range(12):
        folder = root / f"d{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        # About 12 MiB, part compressible: a dozen chunks and more.
        data = rng.randbytes(600_000) + bytes(rng.choice(b"ab\n") for _ in range(400_000))
        (folder / f"f{i:02d}.bin").write_bytes(data)
    return root


def test_volume_id_is_read_only_when_its_bytes_are(tree):
    volume = build_volume(str(tree), volname="Unsettled")
    (id_start, id_len), _ = volume.unsettled()
    assert volume.read(1024, 2) == b"H+" and volume.unsettled()      # the signature
    provisional = volume.read_unsettled(id_start, id_len)
    assert provisional == bytes(8) and volume.unsettled()
    settled = volume.read(id_start, id_len)
    assert settled != bytes(8) and not volume.unsettled()
    assert volume.header.finderInfo[6:8] == [int.from_bytes(settled[:4], "big"),
                                            int.from_bytes(settled[4:], "big")]


def test_chunks_are_compressed_before_the_volume_id(tree, tmp_path, monkeypatch):
    monkeypatch.setattr(udif_writer, "UNSETTLED_BACKLOG", 4)
    planned_at_settle = []
    done = {"sectors": 0}

    def progress(label, sectors, total):
        done["sectors"] = sectors

    digests = set()
    for workers in (2, 1, 3):
        volume = build_volume(str(tree), volname="Unsettled")
        settle = volume.settle

        def watched_settle(settle=settle):
            if volume.unsettled():
                planned_at_settle.append((workers, done["sectors"]))
            settle()
        monkeypatch.setattr(volume, "settle", watched_settle)
        done["sectors"] = 0
        out = tmp_path / f"w{workers}.dmg"
        write_udif(volume, out, format="UDZO", workers=workers, manifest_path=False,
                   progress=progress)
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1
    by_workers = dict(planned_at_settle)
    # With workers to spare the chunks behind the header's were planned (and
    # handed to the workers) first; one worker settles before it plans.
    assert by_workers[2] >= 4 * 2048 and by_workers[3] >= 4 * 2048
    assert by_workers[1] == 0
