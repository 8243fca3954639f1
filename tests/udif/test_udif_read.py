"""Reading real hdiutil images (shared/corpus/hdiutil): every file opens,
verifies, and expands to the bytes 7-Zip and qemu-img see."""

from __future__ import annotations

import hashlib
import plistlib
import struct
import zlib
from pathlib import Path

import pytest

from pipeline.errors import CorruptError, InputError
from pipeline.codecs import CodecError, adc_decode, lzfse_declared_size
from pipeline.udif.koly import KOLY_SIZE, Koly
from pipeline.udif.mish import CHUNK_IGNORE, BlkxTable
from pipeline.udif.reader import open_udif
from pipeline.udif.resources import ResourceFork
from pipeline.udif.verify import partition_crc32, verify_image

from udif_images import (COMPRESSION_DMGS, CORPUS_DMGS, HFS_DMGS, sevenzip_extract)


def test_corpus_is_present():
    assert len(CORPUS_DMGS) == 9 and len(COMPRESSION_DMGS) == 5


@pytest.mark.parametrize("dmg", CORPUS_DMGS, ids=lambda p: p.name)
def test_every_corpus_file_reads_and_verifies(dmg):
    with open_udif(dmg) as image:
        result = verify_image(image)
        assert result.ok, result.problems
        # Every stored checksum is a CRC32 that we recomputed, not skipped.
        assert all(c.expected is not None for c in result.checks)
        assert len(result.checks) == len(image.partitions) + 2


@pytest.mark.parametrize("dmg", CORPUS_DMGS, ids=lambda p: p.name)
def test_structures_round_trip_byte_exact(dmg):
    data = dmg.read_bytes()
    trailer = data[-KOLY_SIZE:]
    koly = Koly.parse(trailer)
    assert koly.pack() == trailer
    xml = data[koly.xml_offset:koly.xml_offset + koly.xml_length]
    fork = ResourceFork.parse(xml)
    assert fork.pack() == xml
    for entry in fork.blkx:
        assert BlkxTable.parse(entry.data).pack() == entry.data


@pytest.mark.parametrize("dmg", CORPUS_DMGS, ids=lambda p: p.name)
def test_checksum_rules_of_formats_md(dmg):
    """docs/formats.md §2.5: data fork CRC32, per-partition CRC32 without ignore
    chunks, master = CRC32 of the per-partition values (big-endian)."""
    data = dmg.read_bytes()
    with open_udif(dmg) as image:
        k = image.koly
        assert zlib.crc32(data[k.data_fork_offset:k.data_fork_offset + k.data_fork_length]) \
            == k.data_crc32
        values = b"".join(struct.pack(">I", p.table.crc32) for p in image.partitions)
        assert zlib.crc32(values) == k.master_crc32
        for p in image.partitions:
            assert partition_crc32(image, p) == p.table.crc32
            if all(c.type == CHUNK_IGNORE for c in p.table.chunks if c.sector_count):
                assert p.table.crc32 == 0


def test_compression_variants_expand_to_identical_bytes():
    digests = set()
    for dmg in COMPRESSION_DMGS:
        with open_udif(dmg) as image:
            disk = image.disk_source()
            digests.add(hashlib.sha256(disk.read(0, disk.size)).hexdigest())
    assert len(digests) == 1


def test_compression_disk_matches_qemu_img(mbr_disk):
    """qemu-img's expansion of the UDRO variant equals ours of every variant (incl. ADC)."""
    want = mbr_disk.read_bytes()
    for dmg in COMPRESSION_DMGS:
        with open_udif(dmg) as image:
            assert image.disk_source().read(0, image.size) == want, dmg.name


@pytest.mark.parametrize("dmg", CORPUS_DMGS, ids=lambda p: p.name)
def test_partitions_match_7zip(dmg, tmp_path):
    """7-Zip writes one file per partition: same bytes as our partition views."""
    out = sevenzip_extract(dmg, tmp_path)
    files = sorted(out.iterdir(), key=lambda p: int(p.name.split(".")[0]))
    with open_udif(dmg) as image:
        assert len(files) == len(image.partitions)
        for f, part in zip(files, image.partitions):
            src = image.partition_source(part.index)
            assert src.size == f.stat().st_size
            assert src.read(0, src.size) == f.read_bytes(), (dmg.name, part.name)


def test_random_access_matches_full_read():
    dmg = HFS_DMGS[1]
    with open_udif(dmg) as image:
        src = image.partition_source(0)
        full = src.read(0, src.size)
        for offset, length in [(0, 1), (511, 2), (1048570, 20), (src.size - 700, 700),
                               (2105000, 3 << 20), (0, src.size)]:
            assert src.read(offset, length) == full[offset:offset + length]
        with pytest.raises(InputError):
            src.read(src.size - 1, 2)


def test_partition_lookup_and_data_partition():
    with open_udif(COMPRESSION_DMGS[0]) as image:
        assert image.partition(" (Windows_FAT_16 : 3)").index == 3
        assert image.data_partition().name == " (Windows_FAT_16 : 2)"
        with pytest.raises(InputError):
            image.partition("Windows_FAT_16")      # ambiguous
        with pytest.raises(InputError):
            image.partition(17)


# -- other containers: recognised, then read (tests/udif/test_variants.py) --

def test_encrypted_images_ask_for_their_passphrase(tmp_path):
    for name, data, magic in (("enc.dmg", b"encrcdsa" + bytes(4096), "encrcdsa, v2"),
                              ("enc1.dmg", bytes(4096) + b"cdsaencr", "cdsaencr, v1")):
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(InputError, match=rf"encrypted disk image \({magic}\); give its passphrase"):
            open_udif(f)


def test_damaged_sparse_containers_name_the_field(tmp_path):
    f = tmp_path / "x.sparseimage"
    f.write_bytes(b"sprs" + bytes(4092))
    with pytest.raises(CorruptError, match="sparse image header.version"):
        open_udif(f)
    b = tmp_path / "x.sparsebundle"
    (b / "bands").mkdir(parents=True)
    (b / "Info.plist").write_bytes(plistlib.dumps({"band-size": 8 << 20}))
    (b / "token").write_bytes(b"")
    with pytest.raises(CorruptError, match="Info.plist.diskimage-bundle-type"):
        open_udif(b)


def test_raw_file_is_not_udif(mbr_disk):
    with pytest.raises(CorruptError, match="koly.signature"):
        open_udif(mbr_disk)


# -- codecs -------------------------------------------------------------------

def test_adc_decoder_op_codes():
    # literal "abc", then 2-byte copy (len 3, dist 3), then 3-byte copy (len 4, dist 1)
    stream = bytes([0x82]) + b"abc" + bytes([0x00, 0x02]) + bytes([0x40, 0x00, 0x00])
    assert adc_decode(stream, 10) == b"abcabccccc"
    with pytest.raises(CodecError):
        adc_decode(bytes([0x00, 0x05]), 3)          # copy before the start
    with pytest.raises(CodecError):
        adc_decode(bytes([0x82]) + b"abc", 4)       # short


def test_lzfse_block_walk_matches_reference_encoder():
    import lzfse
    for data in [b"", b"x" * 10, bytes(range(256)) * 4000, b"hello world " * 50000]:
        assert lzfse_declared_size(lzfse.compress(data)) == len(data)
    bomb = b"bvx-" + struct.pack("<I", 1 << 30) + b"bvx$"
    with pytest.raises(CodecError):
        lzfse_declared_size(bomb)


# -- partition maps, checked against 7-Zip's MBR and APM handlers ---------------

def _sevenzip_slt(kind: str, path: Path) -> list[dict[str, str]]:
    from udif_images import run
    text = run(["7z", "l", "-slt", f"-t{kind}", str(path)], text=True).stdout
    body = text.split("----------\n", 1)[1]
    return [dict(line.partition(" = ")[::2] for line in block.splitlines())
            for block in body.strip().split("\n\n")]


def test_mbr_map_matches_7zip(mbr_disk):
    from pipeline.imagesource import FileImageSource
    from pipeline.udif.partitions import read_partition_map
    with FileImageSource(mbr_disk) as src:
        scheme, entries, problems = read_partition_map(src)
    theirs = [(int(r["Offset"]) // 512, int(r["Size"]) // 512)
              for r in _sevenzip_slt("mbr", mbr_disk) if r.get("Primary") == "+"]
    assert (scheme, problems) == ("mbr", [])
    assert [(e.first_sector, e.sector_count) for e in entries] == theirs


def _apm_disk(path: Path) -> None:
    """A 2 MiB disk with an Apple Partition Map (Inside Macintosh: Devices,
    'Partition Map Entry'): DDM, the map itself, one Apple_HFS partition."""
    sectors = 4096
    disk = bytearray(sectors * 512)
    struct.pack_into(">2sHI", disk, 0, b"ER", 512, sectors)
    entries = [(b"Apple", b"Apple_partition_map", 1, 63),
               (b"disk image", b"Apple_HFS", 64, sectors - 64)]
    for i, (name, ptype, start, count) in enumerate(entries):
        struct.pack_into(">2s2xIII32s32sII", disk, 512 * (1 + i), b"PM", len(entries),
                         start, count, name, ptype, 0, count)
    disk[64 * 512 + 1024:64 * 512 + 1026] = b"H+"
    path.write_bytes(bytes(disk))


def test_apm_map_matches_7zip(tmp_path):
    from pipeline.imagesource import FileImageSource
    from pipeline.udif.partitions import read_partition_map
    disk = tmp_path / "apm.img"
    _apm_disk(disk)
    with FileImageSource(disk) as src:
        scheme, entries, problems = read_partition_map(src)
    assert (scheme, problems) == ("apm", [])
    assert [(e.name, e.type, e.first_sector, e.sector_count) for e in entries] == [
        ("Apple", "Apple_partition_map", 1, 63), ("disk image", "Apple_HFS", 64, 4032)]
    theirs = _sevenzip_slt("apm", disk)
    assert [int(r["Offset"]) // 512 for r in theirs if "Offset" in r] == [1, 64]


def test_gpt_map_problems_are_reported(tmp_path):
    from pipeline.udif.partitions import BytesSource, read_partition_map
    disk = bytearray(64 * 512)
    disk[510:512] = b"\x55\xaa"
    disk[512:520] = b"EFI PART"
    struct.pack_into("<IIII", disk, 520, 0x10000, 92, 0xDEAD, 0)
    struct.pack_into("<QII", disk, 512 + 72, 2, 100000, 128)   # absurd entry count
    scheme, entries, problems = read_partition_map(BytesSource(bytes(disk)))
    assert scheme == "gpt" and entries == []
    assert any("CRC32" in p for p in problems) and any("out of bounds" in p for p in problems)
