"""Writing UDIF: our images in every format are read back identically by
independent readers (7-Zip, qemu-img, dmg2img, libmodi) and by our reader;
raw -> dmg -> raw is the identity; output never depends on worker count,
directory, time zone, umask or locale."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, require_tool
from pipeline.errors import InputError
from pipeline.imagesource import FileImageSource
from pipeline.udif.mish import CHUNK_IGNORE, CHUNK_RAW, CHUNK_ZERO, CHUNK_ZLIB
from pipeline.udif.partitions import HFS_TYPE_GUID, read_partition_map
from pipeline.udif.reader import open_udif
from pipeline.udif.writer import write_udif
from pipeline.udif.verify import verify_image

from udif_images import run, sevenzip_extract

FORMATS = ["UDRO", "UDZO", "UDBZ", "ULFO", "ULMO"]
LAYOUTS = ["none", "gpt"]


@pytest.fixture(scope="module")
def built(hfs_volume, tmp_path_factory):
    """Every format x layout of the hdiutil HFS+ volume, plus the raw disks."""
    out = tmp_path_factory.mktemp("built")
    images = {}
    with FileImageSource(hfs_volume) as src:
        for layout in LAYOUTS:
            images[("raw", layout)] = out / f"{layout}.raw"
            write_udif(src, images[("raw", layout)], format="raw", layout=layout)
            for fmt in FORMATS:
                images[(fmt, layout)] = out / f"{layout}.{fmt}.dmg"
                write_udif(src, images[(fmt, layout)], format=fmt, layout=layout)
    return images


def _sectors(path: Path) -> bytes:
    return path.read_bytes()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_raw_dmg_raw_is_identity(built, hfs_volume, fmt, layout):
    dmg = built[(fmt, layout)]
    with open_udif(dmg) as image:
        assert verify_image(image).ok
        disk = image.disk_source().read(0, image.size)
        assert disk == built[("raw", layout)].read_bytes()
        part = image.data_partition()
        # The corpus volume's free blocks are zero, so the volume comes back whole.
        assert image.partition_source(part.index).read(0, part.size) == hfs_volume.read_bytes()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_7zip_tests_clean_and_extracts_same_bytes(built, hfs_volume, fmt, layout, tmp_path):
    require_tool("7z")
    dmg = built[(fmt, layout)]
    proc = run(["7z", "t", "-tdmg", str(dmg)], text=True)
    assert "Everything is Ok" in proc.stdout
    out = sevenzip_extract(dmg, tmp_path)
    hfs = [p for p in out.iterdir() if p.name.endswith(".hfs")]
    assert len(hfs) == 1 and hfs[0].read_bytes() == hfs_volume.read_bytes()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", ["UDRO", "UDZO"])  # Debian 12's qemu: raw and zlib only
def test_qemu_img_expands_to_our_raw(built, fmt, layout, tmp_path):
    require_tool("qemu-img")
    out = tmp_path / "q.raw"
    run(["qemu-img", "convert", "-f", "dmg", "-O", "raw", str(built[(fmt, layout)]), str(out)])
    assert out.read_bytes() == built[("raw", layout)].read_bytes()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", ["UDRO", "UDZO", "UDBZ"])  # Debian's dmg2img: no lzfse, no lzma
def test_dmg2img_expands_to_our_raw(built, fmt, layout, tmp_path):
    require_tool("dmg2img")
    out = tmp_path / "d.raw"
    run(["dmg2img", "-s", "-i", str(built[(fmt, layout)]), "-o", str(out)])
    assert out.read_bytes() == built[("raw", layout)].read_bytes()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", ["UDRO", "UDZO", "UDBZ", "ULFO"])
def test_libmodi_reads_same_bytes(built, fmt, layout):
    # libmodi-python 20260902 is built without LZMA support ("missing support
    # for LZMA compression"): ULMO is checked by 7-Zip above instead.
    import pymodi
    handle = pymodi.handle()
    handle.open(str(built[(fmt, layout)]))
    try:
        size = handle.get_media_size()
        assert handle.read_buffer(size) == built[("raw", layout)].read_bytes()
    finally:
        handle.close()


def test_gpt_layout_as_hdiutil_writes_it(built, hfs_volume):
    with open_udif(built[("UDZO", "gpt")]) as image:
        names = [p.name for p in image.partitions]
        assert names == [
            "Protective Master Boot Record (MBR : 0)", "GPT Header (Primary GPT Header : 1)",
            "GPT Partition Data (Primary GPT Table : 2)", " (Apple_Free : 3)",
            "disk image (Apple_HFS : 4)", " (Apple_Free : 5)",
            "GPT Partition Data (Backup GPT Table : 6)", "GPT Header (Backup GPT Header : 7)"]
        assert [p.id for p in image.partitions] == list(range(-1, 7))
        n = hfs_volume.stat().st_size // 512
        assert image.partitions[4].first_sector == 40
        assert image.sector_count == 40 + n + 40
        assert image.koly.image_variant == 1
        scheme, entries, problems = read_partition_map(image.disk_source())
        assert (scheme, problems) == ("gpt", [])
        assert [(e.type, e.name, e.first_sector, e.sector_count) for e in entries] == \
            [("Apple_HFS", "disk image", 40, n)]


def test_gpt_read_by_7zip_partition_parser(built, hfs_volume, tmp_path):
    """7-Zip's GPT handler (-tgpt) checks the header and table CRCs."""
    require_tool("7z")
    proc = run(["7z", "l", "-slt", "-tgpt", str(built[("raw", "gpt")])], text=True)
    # 7-Zip names the partition's file system from its type GUID (its table
    # maps 48465300-0000-11AA-AA11-00306543ECAC to "HFS+") and shows where it starts.
    assert "File System = HFS+" in proc.stdout
    assert "Offset = 20480" in proc.stdout           # sector 40, as hdiutil places it
    run(["7z", "x", "-tgpt", "-y", f"-o{tmp_path}", str(built[("raw", "gpt")])])
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == hfs_volume.read_bytes()
    assert str(HFS_TYPE_GUID).upper() == "48465300-0000-11AA-AA11-00306543ECAC"


def test_free_blocks_become_ignore_chunks_and_zero_runs_zero_fill(hfs_volume, tmp_path):
    # A raw volume (here through `convert`) declares no free space: its HFS+
    # bitmap is read for it.
    from pipeline.hfs.freespace import free_byte_ranges
    from pipeline.udif.convert import convert
    with FileImageSource(hfs_volume) as src:
        free = free_byte_ranges(src, "0.hfs")
    convert(hfs_volume, tmp_path / "a.dmg", format="UDZO")
    with open_udif(tmp_path / "a.dmg") as image:
        chunks = image.partitions[0].table.chunks
        ignored = [(c.sector * 512, c.sector_count * 512) for c in chunks if c.type == CHUNK_IGNORE]
        assert ignored == free
        assert all(c.sector_count <= 2048 for c in chunks if c.type != CHUNK_IGNORE)
        zero = [c for c in chunks if c.type == CHUNK_ZERO]
        data = hfs_volume.read_bytes()
        for c in zero:
            assert data[c.sector * 512:(c.sector + c.sector_count) * 512].count(0) \
                == c.sector_count * 512
        assert zero, "the volume has zero runs outside free blocks"


def test_empty_free_ranges_store_every_sector(hfs_volume, tmp_path):
    with FileImageSource(hfs_volume) as src:
        write_udif(src, tmp_path / "a.dmg", format="UDZO", free_ranges=[])
    with open_udif(tmp_path / "a.dmg") as image:
        assert not any(c.type == CHUNK_IGNORE for c in image.partitions[0].table.chunks)


def test_incompressible_chunks_are_stored_raw(tmp_path):
    rng = random.Random(7)
    noise = rng.randbytes(3 << 20)
    vol = tmp_path / "noise.img"
    vol.write_bytes(noise)
    with FileImageSource(vol) as src:
        m = write_udif(src, tmp_path / "n.dmg", format="UDZO", free_ranges=[])
    assert m["chunks"] == {"raw": 3}
    with open_udif(tmp_path / "n.dmg") as image:
        assert {c.type for c in image.partitions[0].table.chunks if c.sector_count} == {CHUNK_RAW}
        assert image.partition_source(0).read(0, len(noise)) == noise


def _synthetic_volume(path: Path, mib: int = 24) -> None:
    """Compressible, varied data with zero runs (seeded, so always the same)."""
    rng = random.Random(2024)
    words = [rng.randbytes(rng.randrange(3, 12)) for _ in range(512)]
    with open(path, "wb") as fh:
        for i in range(mib * 4):
            if i % 7 == 3:
                fh.write(bytes(256 << 10))
            else:
                block = b" ".join(rng.choice(words) for _ in range(40000))
                fh.write(block[:256 << 10].ljust(256 << 10, b"\0"))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("syn") / "vol.img"
    _synthetic_volume(path)
    return path


def test_output_identical_for_any_worker_count(synthetic, tmp_path):
    digests = set()
    with FileImageSource(synthetic) as src:
        for workers in (1, 2, 5):
            m = write_udif(src, tmp_path / f"w{workers}.dmg", format="UDZO", workers=workers,
                           manifest_path=False)
            digests.add(hashlib.sha256((tmp_path / f"w{workers}.dmg").read_bytes()).hexdigest())
            assert m["sha256"] in digests
    assert len(digests) == 1
    with open_udif(tmp_path / "w2.dmg") as image:
        assert verify_image(image).ok
        assert image.partition_source(0).read(0, image.size) == synthetic.read_bytes()
        types = {c.type for c in image.partitions[0].table.chunks}
        assert CHUNK_ZLIB in types and CHUNK_ZERO in types


def test_identical_across_directory_tz_umask_locale(hfs_volume, tmp_path):
    outputs = []
    for i, (tz, umask, lc) in enumerate([("UTC", 0o022, "C"),
                                        ("Pacific/Kiritimati", 0o077, "C.UTF-8")]):
        work = tmp_path / f"run{i}" / ("deep" * (i + 1))
        work.mkdir(parents=True)
        vol = work / f"volume-{i}.hfs"
        vol.write_bytes(hfs_volume.read_bytes())
        env = {**os.environ, "TZ": tz, "LC_ALL": lc, "PYTHONPATH": str(REPO)}
        code = ("import os, sys; os.umask(int(sys.argv[1])); "
                "from pipeline.cli import main; sys.exit(main(sys.argv[2:]))")
        subprocess.run([sys.executable, "-c", code, str(umask), "dmg", "convert", vol.name,
                        "-o", "out.dmg", "--format", "UDZO", "--layout", "gpt",
                        "--workers", str(i + 1)], cwd=work, env=env, check=True,
                       capture_output=True)
        outputs.append(((work / "out.dmg").read_bytes(),
                        (work / "out.dmg.manifest.json").read_bytes()))
    assert outputs[0] == outputs[1]
    manifest = json.loads(outputs[0][1])
    assert str(tmp_path) not in outputs[0][1].decode()
    assert manifest["image"] == "out.dmg"


def test_manifest_records_codecs_and_digests(built):
    for fmt in FORMATS:
        dmg = built[(fmt, "none")]
        manifest = json.loads(Path(str(dmg) + ".manifest.json").read_text())
        assert manifest["sha256"] == hashlib.sha256(dmg.read_bytes()).hexdigest()
        raw = built[("raw", "none")].read_bytes()
        assert manifest["expanded_sha256"] == hashlib.sha256(raw).hexdigest()
        assert manifest["format"] == fmt
        for name, impl in manifest["codecs"].items():
            if name == "raw":      # stored chunks: no codec
                continue
            assert impl["version"] not in ("", "unknown"), (fmt, name)
        with open_udif(dmg) as image:
            import uuid
            assert manifest["segment_id"] == str(uuid.UUID(bytes=image.koly.segment_id)).upper()
    assert json.loads(Path(str(built[("UDZO", "none")]) + ".manifest.json").read_text())[
        "codecs"]["zlib"]["version"] == "0.9.0"


def test_segment_id_follows_content(hfs_volume, synthetic, tmp_path):
    ids = []
    for i, vol in enumerate([hfs_volume, hfs_volume, synthetic]):
        with FileImageSource(vol) as src:
            ids.append(write_udif(src, tmp_path / f"{i}.dmg", format="ULFO")["segment_id"])
    assert ids[0] == ids[1] != ids[2]


def test_bad_options_are_input_errors(hfs_volume, tmp_path):
    with FileImageSource(hfs_volume) as src:
        with pytest.raises(InputError, match="unknown image format"):
            write_udif(src, tmp_path / "x.dmg", format="UDXX")
        with pytest.raises(InputError, match="level"):
            write_udif(src, tmp_path / "x.dmg", format="UDZO", level=13)
        with pytest.raises(InputError, match="layout"):
            write_udif(src, tmp_path / "x.dmg", format="UDZO", layout="apm")
    assert not (tmp_path / "x.dmg").exists()


def test_ulzf_is_accepted_as_ulfo(hfs_volume, tmp_path):
    with FileImageSource(hfs_volume) as src:
        assert write_udif(src, tmp_path / "z.dmg", format="ULZF")["format"] == "ULFO"


def test_convert_preserves_partitions_of_an_mbr_image(tmp_path, mbr_disk):
    from pipeline.udif.convert import convert
    from helpers import HDIUTIL_CORPUS
    src = HDIUTIL_CORPUS / "compression-adc.dmg"
    convert(src, tmp_path / "c.dmg", format="UDBZ")
    with open_udif(src) as a, open_udif(tmp_path / "c.dmg") as b:
        assert [(p.name, p.id, p.first_sector, p.sector_count, p.table.crc32)
                for p in a.partitions] == \
               [(p.name, p.id, p.first_sector, p.sector_count, p.table.crc32)
                for p in b.partitions]
        assert a.koly.master_crc32 == b.koly.master_crc32
        assert b.disk_source().read(0, b.size) == mbr_disk.read_bytes()
    convert(mbr_disk, tmp_path / "m.dmg", format="UDZO")
    with open_udif(tmp_path / "m.dmg") as image:
        assert image.disk_source().read(0, image.size) == mbr_disk.read_bytes()


def test_convert_rewraps_whole_disk_image_as_gpt(tmp_path):
    """A hdiutil whole-disk image re-wrapped with a GPT keeps its volume
    bytes and its ignore chunks; 7-Zip's GPT parser agrees."""
    from helpers import HDIUTIL_CORPUS
    from pipeline.udif.convert import convert
    src = HDIUTIL_CORPUS / "gpt.dmg"
    convert(src, tmp_path / "g.dmg", format="UDZO", layout="gpt")
    with open_udif(src) as a, open_udif(tmp_path / "g.dmg") as b:
        vol_a = a.partition_source(0).read(0, a.size)
        part = b.data_partition()
        assert part.name == "disk image (Apple_HFS : 4)"
        assert b.partition_source(part.index).read(0, part.size) == vol_a
        ign = lambda t: [(c.sector, c.sector_count) for c in t.chunks if c.type == CHUNK_IGNORE]
        assert ign(b.partitions[part.index].table) == ign(a.partitions[0].table)
        assert verify_image(b).ok
    convert(tmp_path / "g.dmg", tmp_path / "g.raw", format="raw")
    run(["7z", "x", "-tgpt", "-y", f"-o{tmp_path / 'x'}", str(tmp_path / "g.raw")])
    (only,) = list((tmp_path / "x").iterdir())
    assert only.read_bytes() == vol_a


def test_ignore_chunk_beyond_qemu_chunk_bound_is_read_by_all(tmp_path):
    """Free space is one ignore chunk, as hdiutil writes it, even when it
    is larger than QEMU's 64 MiB bound for chunks that carry data."""
    vol = tmp_path / "sparse.img"
    with open(vol, "wb") as fh:
        fh.write(b"head" * 256)
        fh.truncate(80 << 20)
        fh.seek((80 << 20) - 4096)
        fh.write(b"tail" * 1024)
    free = [(1 << 20, 72 << 20)]
    with FileImageSource(vol) as src:
        write_udif(src, tmp_path / "s.dmg", format="UDZO", free_ranges=free)
        write_udif(src, tmp_path / "s.raw", format="raw", free_ranges=free)
    with open_udif(tmp_path / "s.dmg") as image:
        big = [c for c in image.partitions[0].table.chunks if c.type == CHUNK_IGNORE]
        assert [(c.sector, c.sector_count) for c in big] == [(2048, 147456)]
    want = (tmp_path / "s.raw").read_bytes()
    assert want == vol.read_bytes()
    run(["qemu-img", "convert", "-f", "dmg", "-O", "raw", str(tmp_path / "s.dmg"),
         str(tmp_path / "q.raw")])
    assert (tmp_path / "q.raw").read_bytes() == want
    run(["dmg2img", "-s", "-i", str(tmp_path / "s.dmg"), "-o", str(tmp_path / "d.raw")])
    assert (tmp_path / "d.raw").read_bytes() == want
    # (The volume is not HFS+, so 7-Zip is asked for the UDIF level only; it
    # names the partition's file after the partition, "whole disk (unknown : 0)".)
    out = sevenzip_extract(tmp_path / "s.dmg", tmp_path / "7z")
    (only,) = list(out.iterdir())
    assert only.read_bytes() == want


def test_small_hfs_free_ranges_stay_in_data_chunks(tmp_path):
    """Free runs under MIN_IGNORE_RUN sectors are not worth a chunk entry (a
    fragmented bitmap would otherwise bloat the tables past QEMU's bound)."""
    from pipeline.hfs.freespace import free_byte_ranges
    from pipeline.hfs.structs import ForkData, VolumeHeader
    from pipeline.udif.writer import MIN_IGNORE_RUN
    ranges = [(0, 4096), (8192, MIN_IGNORE_RUN * 512), (1 << 19, 8192)]
    # A 1 MiB volume of 4 KiB blocks whose bitmap (block 1) is free exactly there.
    bs, total = 4096, 256
    bitmap = bytearray(b"\xff" * (total // 8))
    for off, length in ranges:
        for block in range(off // bs, (off + length) // bs):
            bitmap[block // 8] &= ~(0x80 >> (block % 8))
    vh = VolumeHeader(signature=b"H+", version=4, blockSize=bs, totalBlocks=total,
                      freeBlocks=11, allocationFile=ForkData(bs, 0, 1, [(1, 1)] + [(0, 0)] * 7))
    volume = bytearray(total * bs)
    volume[1024:1024 + 512] = vh.pack()
    volume[bs:bs + len(bitmap)] = bitmap

    class Source:
        size = len(volume)

        def read(self, offset, length):
            return bytes(volume[offset:offset + length])
    assert free_byte_ranges(Source(), "x") == ranges
    assert free_byte_ranges(Source(), "x", MIN_IGNORE_RUN * 512) == [(8192, MIN_IGNORE_RUN * 512)]

    class Declaring(Source):
        # A volume writer's output declares every free run, short ones too.
        def free_ranges(self):
            return ranges
    write_udif(Declaring(), tmp_path / "d.dmg", format="UDRO", manifest_path=False)
    with open_udif(tmp_path / "d.dmg") as image:
        ignored = [(c.sector * 512, c.sector_count * 512)
                   for c in image.partitions[0].table.chunks if c.type == CHUNK_IGNORE]
    assert ignored == [(8192, MIN_IGNORE_RUN * 512)]
