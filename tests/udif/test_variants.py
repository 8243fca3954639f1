"""Every image variant (issue 17): sparse images (UDSP), sparse bundles
(UDSB) and encrypted images (encrcdsa v2 written; v1 and v2 read), through
`dmg create/convert/info/ls/verify`.

Oracles: 7-Zip and libmodi read our .sparseimage files; round trips raw ->
variant -> raw give the same bytes; holes stay holes.  The reader was also run on
hdiutil's own encrypted images (AES-128/256, v1/v2, .dmg, .sparseimage and
.sparsebundle from openwall/john-samples, passphrase "vilefault"): all
decrypt to disks whose GPT CRC32s check out; those files carry no licence,
so they are not in this repository (docs/testing.md).
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO, require_tool
from pipeline.cli import main
from pipeline.errors import CorruptError, InputError, ReprodmgError
from pipeline.udif import encrypted, sparse
from pipeline.udif.container import open_container

EPOCH = 1700000000


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def work(tmp_path):
    src = tmp_path / "src"
    (src / "App.app" / "Contents").mkdir(parents=True)
    (src / "App.app" / "Contents" / "Info.plist").write_text("<plist/>\n" * 100)
    (src / "data.bin").write_bytes(bytes(range(256)) * 400)
    (tmp_path / "pw").write_text("correct horse\n")
    (tmp_path / "seed").write_bytes(b"reproducible seed for the tests")
    return tmp_path


def test_sparse_round_trips_keep_bytes_and_holes(work, capsys):
    raw = work / "disk.raw"
    assert cli(capsys, "dmg", "create", str(work / "src"), "-o", str(raw), "--format", "raw",
               "--epoch", str(EPOCH), "--size", "4M")[0] == 0
    for fmt, name in (("UDSP", "x.sparseimage"), ("sparseimage", "y.sparseimage"),
                      ("UDSB", "x.sparsebundle"), ("sparsebundle", "y.sparsebundle")):
        out = work / name
        code, _o, err = cli(capsys, "dmg", "convert", str(raw), "-o", str(out), "--format", fmt)
        assert code == 0, err
        back = work / f"{name}.raw"
        assert cli(capsys, "dmg", "convert", str(out), "-o", str(back), "--format", "raw")[0] == 0
        assert back.read_bytes() == raw.read_bytes(), name
    # Holes: a 4 MiB disk with data in its first band only.
    with open_container(work / "x.sparseimage") as c:
        assert c.layers[0]["bands_stored"] < 4
    assert (work / "x.sparseimage").stat().st_size < raw.stat().st_size
    # An empty 64 MiB disk stores no band at all.
    empty = work / "empty.raw"
    with open(empty, "wb") as fh:
        fh.truncate(64 << 20)
    assert cli(capsys, "dmg", "convert", str(empty), "-o", str(work / "e.sparsebundle"),
               "--format", "UDSB")[0] == 0
    assert list((work / "e.sparsebundle" / "bands").iterdir()) == []
    assert cli(capsys, "dmg", "convert", str(empty), "-o", str(work / "e.sparseimage"),
               "--format", "UDSP")[0] == 0
    assert (work / "e.sparseimage").stat().st_size == sparse.NODE_SIZE


def test_7zip_reads_our_sparse_image(work, capsys):
    image = work / "x.sparseimage"
    assert cli(capsys, "dmg", "create", str(work / "src"), "-o", str(image), "--format", "UDSP",
               "--epoch", str(EPOCH))[0] == 0
    listing = subprocess.run([require_tool("7z"), "l", str(image)], capture_output=True,
                             text=True).stdout
    assert "App.app/Contents/Info.plist" in listing and "data.bin" in listing
    # And ours lists the same volume.
    code, out, _ = cli(capsys, "dmg", "ls", str(image))
    assert code == 0 and "App.app/Contents/Info.plist" in out


def test_libmodi_reads_our_sparse_image(work, capsys):
    # libmodi (libyal), an independent reader of .sparseimage files.  (Its
    # Python build reads sparse bundles as zeros, hdiutil's as well as ours,
    # so bundles are checked by the round trips above.)
    import pymodi
    raw = work / "disk.raw"
    assert cli(capsys, "dmg", "create", str(work / "src"), "-o", str(raw), "--format", "raw",
               "--epoch", str(EPOCH), "--size", "3M")[0] == 0
    image = work / "x.sparseimage"
    assert cli(capsys, "dmg", "convert", str(raw), "-o", str(image), "--format", "UDSP")[0] == 0
    handle = pymodi.handle()
    handle.open(str(image))
    try:
        assert handle.get_media_size() == raw.stat().st_size
        assert handle.read_buffer_at_offset(handle.get_media_size(), 0) == raw.read_bytes()
    finally:
        handle.close()


def test_many_bands_use_index_nodes(work):
    # More than 1008 bands: the header's table, then index nodes.
    band_sectors = 8
    size = 1100 * band_sectors * 512
    read = lambda o, n: bytes([(o // 4096) % 251 + 1]) * n      # noqa: E731 - no holes
    out = work / "big.sparseimage"
    with open(out, "wb") as fh:
        info = sparse.write_sparseimage(read, size, fh.write, band_sectors=band_sectors)
    assert info["bands"] == 1100
    with open_container(out) as c:
        assert c.size == size and c.pread(size - 512, 512) == read(size - 512, 512)
        assert c.pread(1050 * 4096, 16) == read(1050 * 4096, 16)


def test_encrypted_create_is_reproducible_with_a_seed(work, capsys):
    args = ["dmg", "create", str(work / "src"), "--epoch", str(EPOCH), "--encryption", "AES-256",
            "--passphrase-file", str(work / "pw"), "--iterations", "2000"]
    assert cli(capsys, *args, "-o", str(work / "a.dmg"), "--seed-file", str(work / "seed"))[0] == 0
    assert cli(capsys, *args, "-o", str(work / "b.dmg"), "--seed-file", str(work / "seed"))[0] == 0
    assert (work / "a.dmg").read_bytes() == (work / "b.dmg").read_bytes()
    assert (work / "a.dmg").read_bytes()[:8] == b"encrcdsa"
    # Without a seed the keys are random: another file each time.
    assert cli(capsys, *args, "-o", str(work / "c.dmg"))[0] == 0
    assert (work / "c.dmg").read_bytes() != (work / "a.dmg").read_bytes()
    code, out, _ = cli(capsys, "dmg", "ls", str(work / "c.dmg"), "--passphrase-file",
                       str(work / "pw"))
    assert code == 0 and "data.bin" in out
    code, out, _ = cli(capsys, "dmg", "info", str(work / "a.dmg"), "--passphrase-file",
                       str(work / "pw"), "--json")
    info = json.loads(out)
    assert info["container"][0]["layer"] == "encrypted"
    assert info["container"][0]["algorithm"] == "AES-256" and info["format"] == "UDZO"
    assert cli(capsys, "dmg", "verify", str(work / "a.dmg"), "--passphrase-file",
               str(work / "pw"))[0] == 0


def test_passphrases_right_wrong_missing_and_from_stdin(work, capsys):
    image = work / "e.dmg"
    assert cli(capsys, "dmg", "create", str(work / "src"), "-o", str(image), "--epoch",
               str(EPOCH), "--encryption", "AES-128", "--passphrase-file", str(work / "pw"),
               "--iterations", "1000")[0] == 0
    (work / "wrong").write_text("battery staple\n")
    code, _, err = cli(capsys, "dmg", "convert", str(image), "-o", str(work / "out.dmg"),
                       "--format", "UDZO", "--passphrase-file", str(work / "wrong"))
    assert code == 1 and err.count("\n") == 1 and "wrong passphrase" in err
    assert not (work / "out.dmg").exists()
    code, _, err = cli(capsys, "dmg", "ls", str(image))
    assert code == 2 and "give its passphrase" in err
    proc = subprocess.run([sys.executable, "-m", "pipeline", "dmg", "ls", str(image),
                           "--passphrase-file", "-"], input=b"correct horse\n",
                          capture_output=True, cwd=REPO)
    assert proc.returncode == 0 and b"data.bin" in proc.stdout
    # The passphrase never appears on the command line: there is no option for it.
    code, _, err = cli(capsys, "dmg", "create", str(work / "src"), "-o", str(work / "x.dmg"),
                       "--encryption", "AES-256")
    assert code == 2 and "--passphrase-file" in err


@pytest.mark.parametrize("fmt", ["UDSP", "UDSB", "UDZO", "UDBZ"])
def test_encrypted_variants_round_trip(work, capsys, fmt):
    raw = work / "disk.raw"
    assert cli(capsys, "dmg", "create", str(work / "src"), "-o", str(raw), "--format", "raw",
               "--epoch", str(EPOCH))[0] == 0
    out = work / f"enc.{fmt}"
    code, _, err = cli(capsys, "dmg", "convert", str(raw), "-o", str(out), "--format", fmt,
                       "--encryption", "AES-128", "--passphrase-file", str(work / "pw"),
                       "--iterations", "1000")
    assert code == 0, err
    back = work / "back.raw"
    assert cli(capsys, "dmg", "convert", str(out), "-o", str(back), "--format", "raw",
               "--passphrase-file", str(work / "pw"))[0] == 0
    assert back.read_bytes() == raw.read_bytes()
    code, outp, _ = cli(capsys, "dmg", "ls", str(out), "--passphrase-file", str(work / "pw"))
    assert code == 0 and "data.bin" in outp


def _v1_image(tmp: Path, passphrase: bytes, disk: bytes) -> Path:
    """A cdsaencr (v1) image laid out as its header table says, keys
    wrapped with the RFC 3217 wrap (encrypted.cms_wrap)."""
    aes, mac = b"A" * 16, b"M" * 20
    salt, iterations = b"s" * 20, 1000
    key = encrypted.derive(passphrase, salt, iterations)
    wa, wm = encrypted.cms_wrap(key, aes, b"ivivivIV"), encrypted.cms_wrap(key, mac, b"IVIVivIV")
    keys = encrypted.ImageKeys(aes, mac, 4096, 0, len(disk), 1, 128)
    body = b"".join(keys.encrypt_block(n, disk[n * 4096:(n + 1) * 4096])
                    for n in range(len(disk) // 4096))
    header = encrypted.V1_HEADER.pack(bytes(48), iterations, len(salt), salt.ljust(48, b"\0"),
                                      bytes(32), len(wa), wa.ljust(296, b"\0"), len(wm),
                                      wm.ljust(300, b"\0"), 0, bytes(48),
                                      bytes(476) + encrypted.CDSAENCR)
    out = tmp / "v1.img"
    out.write_bytes(body + header)
    return out


def test_version_1_images_read(work):
    disk = bytes(range(256)) * 64
    image = _v1_image(work, b"pw", disk)
    with open_container(image, passphrase=b"pw") as c:
        assert c.pread(0, c.size) == disk
        assert c.layers[0]["version"] == 1
    with pytest.raises(ReprodmgError, match="wrong passphrase"):
        open_container(image, passphrase=b"nope")


# --------------------------------------------------------------------------
# Hostile headers: refused quickly, without big allocations.

def _v2_header(**fields) -> bytes:
    values = dict(sig=encrypted.ENCRCDSA, version=2, iv=16, mode=5, alg=encrypted.ALG_AES,
                  bits=128, prng=91, prng_bits=160, uuid=bytes(16), bs=4096, size=4096,
                  offset=8192, keys=1)
    values.update(fields)
    return encrypted.V2_HEADER.pack(*values.values())


@pytest.mark.parametrize("header, problem", [
    (_v2_header(keys=2 ** 32 - 1), "keyCount"),
    (_v2_header(bs=2 ** 31), "blockSize"),
    (_v2_header(size=2 ** 62), "dataSize"),
    (_v2_header(bits=512), "algorithm"),
    (_v2_header() + encrypted.KEY_ENTRY.pack(1, 2 ** 60, 300), "key entry 0"),
    (_v2_header() + encrypted.KEY_ENTRY.pack(1, 96, 300)
     + encrypted.PASSPHRASE_KEY.pack(103, 0, 2 ** 32 - 1, 20, bytes(32), 8, bytes(32), 192, 17,
                                     7, 6, 48), "iterationCount"),
])
def test_hostile_encrypted_headers(tmp_path, header, problem):
    f = tmp_path / "h.dmg"
    f.write_bytes(header.ljust(16384, b"\0"))
    start = time.monotonic()
    with pytest.raises(CorruptError, match=problem):
        open_container(f, passphrase=b"x")
    assert time.monotonic() - start < 5


def _sprs(total: int, band_sectors: int = 2048, numbers=(1,), next_node: int = 0) -> bytes:
    head = sparse.HEADER.pack(sparse.SPRS, 3, band_sectors, 1, total & 0xFFFFFFFF, next_node,
                              total, bytes(28))
    table = list(numbers) + [0] * (sparse.HEADER_BANDS - len(numbers))
    return head + struct.pack(f">{sparse.HEADER_BANDS}I", *table)


@pytest.mark.parametrize("data, problem", [
    (_sprs(2 ** 60), "totalSectors"),
    (_sprs(2048, band_sectors=0), "sectorsPerBand"),
    (_sprs(2048, band_sectors=2 ** 31), "sectorsPerBand"),
    (_sprs(2048, numbers=(5,)), "band number 5 is beyond the disk"),
    (_sprs(4096, numbers=(1, 1)), "listed twice"),
    (_sprs(2048, next_node=4096) + sparse.INDEX_HEADER.pack(sparse.SPRS, 1, 1, 4096, bytes(36))
     .ljust(4096, b"\0") + bytes(1 << 20), "loops"),
])
def test_hostile_sparse_headers(tmp_path, data, problem):
    f = tmp_path / "h.sparseimage"
    f.write_bytes(data.ljust(4096 + (1 << 20), b"\0") if len(data) <= 4096 else data)
    start = time.monotonic()
    with pytest.raises(CorruptError, match=problem):
        open_container(f)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("plist, problem", [
    ({"diskimage-bundle-type": sparse.BUNDLE_TYPE, "band-size": 2 ** 40, "size": 4096},
     "band-size"),
    ({"diskimage-bundle-type": sparse.BUNDLE_TYPE, "band-size": 8 << 20, "size": 2 ** 62},
     "size"),
    ({"diskimage-bundle-type": "other", "band-size": 8 << 20, "size": 4096}, "bundle-type"),
])
def test_hostile_bundles(tmp_path, plist, problem):
    import plistlib
    b = tmp_path / "h.sparsebundle"
    (b / "bands").mkdir(parents=True)
    (b / "Info.plist").write_bytes(plistlib.dumps(plist))
    with pytest.raises(CorruptError, match=problem):
        open_container(b)


def test_a_bundle_without_a_passphrase_asks_for_it(work, capsys):
    raw = work / "disk.raw"
    cli(capsys, "dmg", "create", str(work / "src"), "-o", str(raw), "--format", "raw")
    assert cli(capsys, "dmg", "convert", str(raw), "-o", str(work / "e.sparsebundle"),
               "--format", "UDSB", "--encryption", "AES-256", "--passphrase-file",
               str(work / "pw"), "--iterations", "1000")[0] == 0
    with pytest.raises(InputError, match="give its passphrase"):
        open_container(work / "e.sparsebundle")


def test_udrw_is_the_disk_itself(work, capsys):
    # hdiutil's read/write images as Disk Utility writes them: the disk,
    # sector for sector, no trailer (openwall/john-samples' aj_dmg.dmg was
    # read the same way by hand), so a Mac attaches them read/write.
    raw = work / "disk.raw"
    assert cli(capsys, "dmg", "create", str(work / "src"), "-o", str(raw), "--format", "raw",
               "--epoch", str(EPOCH))[0] == 0
    rw = work / "rw.dmg"
    code, out, _ = cli(capsys, "dmg", "convert", str(raw), "-o", str(rw), "--format", "UDRW")
    assert code == 0 and "UDRW" in out
    assert rw.read_bytes() == raw.read_bytes()
    code, out, _ = cli(capsys, "dmg", "info", str(rw), "--json")
    assert code == 0 and json.loads(out)["format"] == "raw"
    code, out, _ = cli(capsys, "dmg", "ls", str(rw))
    assert code == 0 and "data.bin" in out
    back = work / "back.dmg"
    assert cli(capsys, "dmg", "convert", str(rw), "-o", str(back), "--format", "UDZO")[0] == 0
    code, out, _ = cli(capsys, "dmg", "ls", str(back))
    assert code == 0 and "data.bin" in out


def test_diff_and_preview_open_encrypted_images(work, capsys):
    raw = work / "disk.raw"
    assert cli(capsys, "dmg", "create", str(work / "src"), "-o", str(raw), "--format", "raw",
               "--epoch", str(EPOCH))[0] == 0
    for bits, name in (("AES-256", "a.dmg"), ("AES-128", "b.dmg")):
        assert cli(capsys, "dmg", "convert", str(raw), "-o", str(work / name), "--format",
                   "UDZO", "--encryption", bits, "--passphrase-file", str(work / "pw"),
                   "--iterations", "1000")[0] == 0
    code, out, _ = cli(capsys, "dmg", "diff", str(work / "a.dmg"), str(work / "b.dmg"),
                       "--passphrase-file", str(work / "pw"), "--json")
    report = json.loads(out)
    assert code == 1 and report["verdict"] == "encoding"
    (layer,) = report["container"]["resources"][:1]
    assert layer["field"] == "container" and "AES-256" in layer["a"] and "AES-128" in layer["b"]
    assert report["file"]["a"] == "the encrypted container around the UDIF image"
    code, out, _ = cli(capsys, "dmg", "preview", str(work / "a.dmg"), "-o",
                       str(work / "p.png"), "--passphrase-file", str(work / "pw"))
    assert code == 0 and (work / "p.png").read_bytes()[:4] == b"\x89PNG"
