"""Hostile and damaged images: only the project's errors (or correct
reads) come out; sizes are checked before anything is allocated; no hang."""

from __future__ import annotations

import plistlib
import random
import struct
import zlib
from pathlib import Path

import pytest

from helpers import HDIUTIL_CORPUS
from pipeline.errors import CorruptError, ReprodmgError
from pipeline.udif.koly import KOLY_SIZE, Koly
from pipeline.udif.mish import CHUNK_ZERO, CHUNK_ZLIB, BlkxTable, Chunk
from pipeline.udif.reader import MAX_CHUNK_BYTES, open_udif
from pipeline.udif.checksum import crc32_zeros
from pipeline.udif.verify import verify_image

from udif_images import CORPUS_DMGS

READ_LIMIT = 64 << 20      # the test reads at most this much of an image


def _rebuild(original: bytes, mutate_plist=None, mutate_koly=None) -> bytes:
    """The same image with its property list and/or trailer edited."""
    koly = Koly.parse(original[-KOLY_SIZE:])
    fork = original[:koly.xml_offset]
    xml = original[koly.xml_offset:koly.xml_offset + koly.xml_length]
    if mutate_plist:
        root = plistlib.loads(xml)
        mutate_plist(root)
        xml = plistlib.dumps(root)
    koly.xml_length = len(xml)
    if mutate_koly:
        mutate_koly(koly)
    return fork + xml + koly.pack()


def _exercise(path: Path) -> None:
    """Everything a user can do with an image; only ReprodmgError may escape."""
    try:
        with open_udif(path) as image:
            verify_image(image)
            disk = image.disk_source()
            for offset in range(0, min(disk.size, READ_LIMIT), 1 << 20):
                disk.read(offset, min(1 << 20, disk.size - offset))
            from pipeline.udif.info import image_info
            image_info(image)
    except ReprodmgError:
        pass


def _mutations(data: bytes, rng: random.Random):
    koly = Koly.parse(data[-KOLY_SIZE:])
    regions = {
        "koly": (len(data) - KOLY_SIZE, len(data)),
        "plist": (koly.xml_offset, koly.xml_offset + koly.xml_length),
        "data": (0, koly.data_fork_length),
    }
    for name, (lo, hi) in regions.items():
        for _ in range(12):
            buf = bytearray(data)
            for _ in range(rng.randrange(1, 4)):
                buf[rng.randrange(lo, hi)] ^= 1 << rng.randrange(8)
            yield f"flip-{name}", bytes(buf)
    for _ in range(6):
        yield "truncate", data[:rng.randrange(0, len(data))]

    # mish tables: flip bits inside the decoded Data of one blkx entry,
    # then write a well-formed plist around it, so the table checks run.
    def flip_mish(root):
        entries = root["resource-fork"]["blkx"]
        e = entries[rng.randrange(len(entries))]
        d = bytearray(e["Data"])
        for _ in range(rng.randrange(1, 3)):
            d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
        e["Data"] = bytes(d)
    for _ in range(16):
        yield "flip-mish", _rebuild(data, mutate_plist=flip_mish)

    def truncate_mish(root):
        e = root["resource-fork"]["blkx"][0]
        e["Data"] = e["Data"][:rng.randrange(len(e["Data"]))]
    for _ in range(3):
        yield "truncate-mish", _rebuild(data, mutate_plist=truncate_mish)


@pytest.mark.parametrize("dmg", CORPUS_DMGS, ids=lambda p: p.name)
def test_seeded_mutations_raise_only_project_errors(dmg, tmp_path):
    data = dmg.read_bytes()
    rng = random.Random(f"udif-mutations-{dmg.name}")
    target = tmp_path / dmg.name
    for kind, mutated in _mutations(data, rng):
        target.write_bytes(mutated)
        _exercise(target)


@pytest.mark.parametrize("dmg", CORPUS_DMGS, ids=lambda p: p.name)
def test_damaged_chunk_data_fails_verify(dmg, tmp_path):
    """One flipped byte in the data fork is always caught by verify."""
    data = bytearray(dmg.read_bytes())
    koly = Koly.parse(bytes(data[-KOLY_SIZE:]))
    data[koly.data_fork_length // 2] ^= 0x40
    target = tmp_path / dmg.name
    target.write_bytes(bytes(data))
    with open_udif(target) as image:
        result = verify_image(image)
    assert not result.ok
    assert any("data fork" in p for p in result.problems)
    if "raw" in dmg.name:
        # Raw chunks: the flipped byte is in the expanded partition too.
        # (A flipped bit inside a deflate stream can decode to the same
        # bytes - it happens for gpt.dmg - so only the data fork CRC is
        # certain to catch it there.)
        assert any("partition blkx" in p for p in result.problems)


# -- one hand-made hostile image per check ------------------------------------

BASE = HDIUTIL_CORPUS / "gpt.dmg"


def _with_table(edit) -> bytes:
    def mutate(root):
        e = root["resource-fork"]["blkx"][0]
        table = BlkxTable.parse(e["Data"])
        edit(table)
        e["Data"] = table.pack()
    return _rebuild(BASE.read_bytes(), mutate_plist=mutate)


def _open_bytes(tmp_path: Path, data: bytes):
    p = tmp_path / "hostile.dmg"
    p.write_bytes(data)
    return open_udif(p)


def test_huge_xml_length_is_refused_before_reading(tmp_path):
    data = _rebuild(BASE.read_bytes(), mutate_koly=lambda k: setattr(k, "xml_length", 1 << 40))
    with pytest.raises(CorruptError, match="xmlLength"):
        _open_bytes(tmp_path, data)


def test_plist_outside_file_is_refused(tmp_path):
    data = _rebuild(BASE.read_bytes(), mutate_koly=lambda k: setattr(k, "xml_offset", 1 << 33))
    with pytest.raises(CorruptError, match="xmlOffset"):
        _open_bytes(tmp_path, data)


def test_huge_chunk_is_refused_before_allocation(tmp_path):
    def edit(t):
        t.chunks[0].sector_count = (MAX_CHUNK_BYTES // 512) + 1
        t.sector_count = 1 << 40
    data = _with_table(edit)
    data = data[:-KOLY_SIZE] + _patched_koly(data, sector_count=1 << 40)
    with pytest.raises(CorruptError, match="chunk 0.*bound"):
        _open_bytes(tmp_path, data)


def _patched_koly(data: bytes, **fields) -> bytes:
    k = Koly.parse(data[-KOLY_SIZE:])
    for key, value in fields.items():
        setattr(k, key, value)
    return k.pack()


def test_chunk_outside_data_fork_is_refused(tmp_path):
    def edit(t):
        t.chunks[1].offset = 1 << 45
    with pytest.raises(CorruptError, match="chunk 1.*outside the data fork"):
        _open_bytes(tmp_path, _with_table(edit))


def test_chunk_count_beyond_table_is_refused(tmp_path):
    def mutate(root):
        e = root["resource-fork"]["blkx"][0]
        d = bytearray(e["Data"])
        struct.pack_into(">I", d, 200, 0xFFFFFFFF)
        e["Data"] = bytes(d)
    with pytest.raises(CorruptError, match="numberOfBlockChunks"):
        _open_bytes(tmp_path, _rebuild(BASE.read_bytes(), mutate_plist=mutate))


def test_overlapping_chunks_are_refused(tmp_path):
    def edit(t):
        t.chunks[1].sector = 10
    with pytest.raises(CorruptError, match="chunk 1.*overlapping"):
        _open_bytes(tmp_path, _with_table(edit))


def test_partition_past_image_is_refused(tmp_path):
    def edit(t):
        t.sector_count += 1
    with pytest.raises(CorruptError, match="run past the image"):
        _open_bytes(tmp_path, _with_table(edit))


def test_zlib_bomb_chunk_is_a_corrupt_error(tmp_path):
    """A chunk declaring 1 sector whose stream expands to 1 MiB."""
    data = BASE.read_bytes()
    koly = Koly.parse(data[-KOLY_SIZE:])
    bomb = zlib.compress(bytes(1 << 20), 9)
    fork = data[:koly.data_fork_length] + bomb

    def edit(t):
        t.chunks[0] = Chunk(type=CHUNK_ZLIB, sector=0, sector_count=1,
                            offset=koly.data_fork_length, length=len(bomb))
        t.chunks[1].type = CHUNK_ZERO
        t.chunks[1].sector, t.chunks[1].sector_count = 1, 4095
    def mutate(root):
        e = root["resource-fork"]["blkx"][0]
        table = BlkxTable.parse(e["Data"])
        edit(table)
        e["Data"] = table.pack()
    xml = plistlib.dumps(_loaded(data, koly, mutate))
    koly.data_fork_length = len(fork)
    koly.xml_offset, koly.xml_length = len(fork), len(xml)
    with _open_bytes(tmp_path, fork + xml + koly.pack()) as image:
        with pytest.raises(CorruptError, match=r"chunk 0 \(zlib\)"):
            image.partition_source(0).read(0, 512)
        result = verify_image(image)
        assert not result.ok and any("chunk 0" in p for p in result.problems)


def _loaded(data: bytes, koly: Koly, mutate) -> dict:
    root = plistlib.loads(data[koly.xml_offset:koly.xml_offset + koly.xml_length])
    mutate(root)
    return root


def test_huge_zero_fill_chunk_verifies_without_touching_its_bytes(tmp_path):
    """Zero-fill and ignore chunks may be any size: CRC32 of zeros is O(log n)."""
    n = 1 << 40  # sectors: 512 TiB of zeros

    def edit(t):
        t.chunks = [Chunk(type=CHUNK_ZERO, sector=0, sector_count=n),
                    Chunk(type=0xFFFFFFFF, sector=n, sector_count=0)]
        t.sector_count = n
        t.set_crc32(crc32_zeros(0, n * 512))
    data = _with_table(edit)
    k = Koly.parse(data[-KOLY_SIZE:])
    k.sector_count = n
    master = zlib.crc32(struct.pack(">I", crc32_zeros(0, n * 512)))
    k.master_checksum = struct.pack(">I", master) + bytes(124)
    data = data[:-KOLY_SIZE] + k.pack()
    with _open_bytes(tmp_path, data) as image:
        result = verify_image(image)
        problems = [p for p in result.problems if "data fork" not in p]
        assert problems == []
        assert image.partition_source(0).read((n - 1) * 512, 512) == bytes(512)


def test_crc32_of_zeros_matches_zlib():
    import pipeline.udif.checksum as v
    for crc in (0, 0x12345678):
        for n in (0, 1, 513, 9 << 20):
            assert crc32_zeros(crc, n) == zlib.crc32(bytes(n), crc)
    saved = v._DIRECT_LIMIT
    try:
        v._DIRECT_LIMIT = 0
        for n in (1, 7, 4096, (1 << 20) + 3):
            assert crc32_zeros(0xCAFE, n) == zlib.crc32(bytes(n), 0xCAFE)
    finally:
        v._DIRECT_LIMIT = saved


def test_zlib_chunk_of_zero_sectors_is_not_expanded():
    import tracemalloc

    from pipeline.codecs import CodecError
    from pipeline.udif.formats import decode_chunk as decode
    bomb = zlib.compress(bytes(200 << 20), 9)
    tracemalloc.start()
    try:
        with pytest.raises(CodecError, match="does not expand to exactly 0 bytes"):
            decode(CHUNK_ZLIB, bomb, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak
