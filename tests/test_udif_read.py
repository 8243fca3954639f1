"""Reading real hdiutil images (shared/corpus/hdiutil): every file opens,
verifies, and expands to the bytes 7-Zip and qemu-img see."""

from __future__ import annotations

import hashlib
import plistlib
import struct
import zlib
from pathlib import Path

import pytest

from pipeline.errors import CorruptError, InputError, UnsupportedError
from pipeline.udif.codecs import CodecError, adc_decode, lzfse_declared_size
from pipeline.udif.koly import KOLY_SIZE, Koly
from pipeline.udif.mish import CHUNK_IGNORE, BlkxTable
from pipeline.udif.reader import open_udif
from pipeline.udif.resources import ResourceFork
from pipeline.udif.verify import partition_crc32

from test_udif_helpers import (COMPRESSION_DMGS, CORPUS_DMGS, HFS_DMGS, mbr_disk,  # noqa: F401
                          sevenzip_extract)


def test_corpus_is_present():
    assert len(CORPUS_DMGS) == 9 and len(COMPRESSION_DMGS) == 5


@pytest.mark.parametrize("dmg", CORPUS_DMGS, ids=lambda p: p.name)
def test_every_corpus_file_reads_and_verifies(dmg):
    with open_udif(dmg) as image:
        result = image.verify()
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
    """FORMATS.md 2: data fork CRC32, per-partition CRC32 without ignore
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


# -- refusing other containers ---------------------------------------------

def test_encrypted_v2_is_refused(tmp_path):
    f = tmp_path / "enc.dmg"
    f.write_bytes(b"encrcdsa" + bytes(4096))
    with pytest.raises(UnsupportedError, match="encrypted"):
        open_udif(f)


def test_encrypted_v1_is_refused(tmp_path):
    f = tmp_path / "enc1.dmg"
    f.write_bytes(bytes(4096) + b"cdsaencr")
    with pytest.raises(UnsupportedError, match="encrypted"):
        open_udif(f)


def test_sparseimage_is_refused(tmp_path):
    f = tmp_path / "x.sparseimage"
    f.write_bytes(b"sprs" + bytes(4092))
    with pytest.raises(UnsupportedError, match="sparseimage"):
        open_udif(f)


def test_sparsebundle_is_refused(tmp_path):
    b = tmp_path / "x.sparsebundle"
    (b / "bands").mkdir(parents=True)
    (b / "Info.plist").write_bytes(plistlib.dumps({"band-size": 8 << 20}))
    (b / "token").write_bytes(b"")
    with pytest.raises(UnsupportedError, match="sparsebundle"):
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
