"""The `reprodmg dmg` commands, checked against 7-Zip's view of the same
images: info (partitions, sizes, checksums), verify (exit codes naming the
partition), ls/extract (the HFS+ tree), create and convert."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import HDIUTIL_CORPUS, REPO, require_tool
from pipeline.cli import main
from pipeline.udif.koly import KOLY_SIZE, Koly

from udif_images import CORPUS_DMGS, HFS_DMGS, run

# 7-Zip shows HFS+'s private metadata folders; `dmg ls` hides them (as the Finder does).
HFS_PRIVATE = {".HFS+ Private Directory Data\r", "[HFS+ Private Data]",
               ".HFS+ Private Directory Data"}


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def sevenzip_records(dmg: Path) -> list[dict[str, str]]:
    require_tool("7z")
    text = run(["7z", "l", "-slt", "-tdmg", str(dmg)], text=True).stdout
    body = text.split("----------\n", 1)[1]
    records = []
    for block in body.strip().split("\n\n"):
        rec = {}
        for line in block.splitlines():
            key, _, value = line.partition(" = ")
            rec[key] = value
        records.append(rec)
    return records


@pytest.mark.parametrize("dmg", CORPUS_DMGS, ids=lambda p: p.name)
def test_info_json_agrees_with_7zip(dmg, capsys):
    code, out, err = cli(capsys, "dmg", "info", "--json", str(dmg))
    assert code == 0, err
    info = json.loads(out)
    seven = sevenzip_records(dmg)
    assert len(info["partitions"]) == len(seven)
    for ours, theirs in zip(info["partitions"], seven):
        assert ours["name"].strip() == theirs["Comment"].strip()
        assert ours["sector_count"] * 512 == int(theirs["Size"])
        assert ours["checksum"]["value"].upper() == theirs["Checksum"]
    k = Koly.parse(dmg.read_bytes()[-KOLY_SIZE:])
    assert info["sizes"]["compressed_bytes"] == k.data_fork_length
    assert info["sizes"]["total_bytes"] == k.sector_count * 512
    expected_format = {"compression-raw.dmg": "UDRO", "raw.dmg": "UDRO",
                       "compression-bz2.dmg": "UDBZ", "compression-lzfse.dmg": "ULFO",
                       "compression-adc.dmg": "UDCO"}.get(dmg.name, "UDZO")
    assert info["format"] == expected_format
    assert len(info["segment_id"]) == 36


def test_info_text_lists_partitions(capsys):
    code, out, _ = cli(capsys, "dmg", "info", str(HDIUTIL_CORPUS / "compression-bz2.dmg"))
    assert code == 0
    assert "UDBZ" in out and "(Windows_FAT_16 : 3)" in out and "CRC32 $C31C2437" in out


def test_verify_good_image_exits_0(capsys):
    code, out, err = cli(capsys, "dmg", "verify", "--json", str(HDIUTIL_CORPUS / "gpt.dmg"))
    assert code == 0 and json.loads(out)["ok"] is True


def test_verify_names_the_failing_partition_and_chunk(tmp_path, capsys):
    # A raw chunk of compression-raw.dmg: flip a byte inside FAT partition 3.
    src = HDIUTIL_CORPUS / "compression-raw.dmg"
    data = bytearray(src.read_bytes())
    data[28160 + 100] ^= 0xFF
    bad = tmp_path / "bad.dmg"
    bad.write_bytes(bytes(data))
    code, out, err = cli(capsys, "dmg", "verify", str(bad))
    assert code == 1
    assert "(Windows_FAT_16 : 3)" in err and "data fork" in err
    assert "(Windows_FAT_16 : 2)" not in err
    # A chunk that cannot be decoded is named with its index.
    src = HDIUTIL_CORPUS / "compression-zlib.dmg"
    data = bytearray(src.read_bytes())
    data[444 + 2] ^= 0xFF           # zlib header region of partition 2's first chunk
    bad.write_bytes(bytes(data))
    code, out, err = cli(capsys, "dmg", "verify", str(bad))
    assert code == 1
    assert "blkx[2] ' (Windows_FAT_16 : 2)' chunk 0" in err


@pytest.mark.parametrize("path,needle", [
    (b"encrcdsa" + bytes(1000), "encrypted"),
    (b"sprs" + bytes(5000), "sparse image header.version"),
    (bytes(1000), "koly"),
])
def test_refusals_are_one_line_errors(tmp_path, path, needle):
    f = tmp_path / "x.dmg"
    f.write_bytes(path)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "dmg", "info", str(f)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


@pytest.mark.parametrize("dmg", HFS_DMGS, ids=lambda p: p.name)
def test_ls_matches_7zip_listing(dmg, capsys):
    code, out, err = cli(capsys, "dmg", "ls", "--json", str(dmg))
    assert code == 0, err
    ours = {e["path"]: (e["kind"], e["data_size"]) for e in json.loads(out)["entries"]}
    theirs = {}
    for rec in sevenzip_records_hfs(dmg):
        top, _, rest = rec["Path"].partition("/")
        if not rest or rest.split("/")[0] in HFS_PRIVATE:
            continue
        kind = "dir" if rec.get("Folder") == "+" else "file"
        theirs[rest] = (kind, int(rec["Size"]) if kind == "file" and rec["Size"] else 0)
    assert {p: k for p, (k, _) in ours.items()} == {p: k for p, (k, _) in theirs.items()}
    assert {p: s for p, (k, s) in ours.items() if k == "file"} == \
           {p: s for p, (k, s) in theirs.items() if k == "file"}


def sevenzip_records_hfs(dmg: Path) -> list[dict[str, str]]:
    """7-Zip's listing of the HFS+ volume inside the image (nested archive)."""
    text = run(["7z", "l", "-slt", str(dmg)], text=True).stdout
    body = text.split("----------\n", 1)[1]
    out = []
    for block in body.strip().split("\n\n"):
        rec = dict(line.partition(" = ")[::2] for line in block.splitlines())
        if "/" in rec.get("Path", ""):
            out.append(rec)
    return out


def test_extract_matches_7zip(tmp_path, capsys):
    dmg = HDIUTIL_CORPUS / "raw.dmg"
    code, _, err = cli(capsys, "dmg", "extract", str(dmg), str(tmp_path / "ours"))
    assert code == 0, err
    run(["7z", "x", "-y", f"-o{tmp_path / 'theirs'}", str(dmg)])
    (top,) = list((tmp_path / "theirs").iterdir())
    files = [p for p in top.rglob("*") if p.is_file()
             and not any(part in HFS_PRIVATE for part in p.relative_to(top).parts)]
    assert files
    for f in files:
        rel = f.relative_to(top)
        assert (tmp_path / "ours" / rel).read_bytes() == f.read_bytes(), rel


def test_convert_to_raw_and_back(tmp_path, capsys):
    src = HDIUTIL_CORPUS / "zlib-compressed.dmg"
    assert cli(capsys, "dmg", "convert", str(src), "-o", str(tmp_path / "a.raw"),
               "--format", "raw")[0] == 0
    code, out, _ = cli(capsys, "dmg", "convert", str(tmp_path / "a.raw"), "-o",
                       str(tmp_path / "b.dmg"), "--format", "ULMO", "--json")
    assert code == 0
    manifest = json.loads(out)
    assert manifest["expanded_sha256"] == hashlib.sha256(
        (tmp_path / "a.raw").read_bytes()).hexdigest()
    assert cli(capsys, "dmg", "verify", str(tmp_path / "b.dmg"))[0] == 0
    # Refuses to overwrite its input.
    code, _, err = cli(capsys, "dmg", "convert", str(tmp_path / "b.dmg"), "-o",
                       str(tmp_path / "b.dmg"), "--format", "UDZO")
    assert code == 2 and "overwrite" in err


# -- dmg create ----------------------------------------------------------------

def _make_tree(root: Path, reverse: bool) -> None:
    names = [f"file{i:02d}.txt" for i in range(12)]
    if reverse:
        names.reverse()
    (root / "App.app" / "Contents" / "MacOS").mkdir(parents=True)
    for n in names:
        (root / n).write_bytes((n * 3000).encode())
    (root / "App.app" / "Contents" / "MacOS" / "app").write_bytes(bytes(range(256)) * 4000)
    os.symlink("/Applications", root / "Applications")


def test_create_is_reproducible_and_readable(tmp_path):
    results = []
    for i, (umask, tz, reverse) in enumerate([(0o022, "UTC", False),
                                             (0o077, "Asia/Kathmandu", True)]):
        work = tmp_path / f"w{i}"
        src = work / ("src" * (i + 1))
        src.mkdir(parents=True)
        old = os.umask(umask)
        try:
            _make_tree(src, reverse)
        finally:
            os.umask(old)
        env = {**os.environ, "TZ": tz, "SOURCE_DATE_EPOCH": "1700000000",
               "PYTHONPATH": str(REPO)}
        proc = subprocess.run(
            [sys.executable, "-m", "pipeline", "dmg", "create", str(src), "-o", "out.dmg",
             "--volname", "Test App", "--format", "ULFO", "--layout", "gpt", "--workers",
             str(i + 1)], cwd=work, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        results.append((work / "out.dmg").read_bytes())
    assert results[0] == results[1]
    dmg = tmp_path / "w0" / "out.dmg"
    require_tool("7z")
    assert "Everything is Ok" in run(["7z", "t", str(dmg)], text=True).stdout
    code = main(["dmg", "verify", str(dmg)])
    assert code == 0
    from pipeline.udif.reader import open_udif
    from pipeline.hfs.reader import HFSReader
    with open_udif(dmg) as image:
        part = image.data_partition()
        assert part.name == "disk image (Apple_HFS : 4)"
        reader = HFSReader(image.partition_source(part.index), "out.dmg")
        paths = {e.path for e in reader.entries()}
    assert {"App.app/Contents/MacOS/app", "Applications", "file00.txt"} <= paths


def test_benchmark_runs_on_a_small_tree(tmp_path):
    """Smoke test only: figures come from `python -m pipeline.bench dmg`, not from tests."""
    proc = subprocess.run([sys.executable, "-m", "pipeline.bench", "dmg", "--size-mb", "3",
                           "--workdir", str(tmp_path), "--json"], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    for key in ("create_wall_s", "create_peak_rss_mb", "floor_all_chunks_one_core_s",
                "floor_writer_chunks_one_core_s", "gzip9_s", "create_vs_floor_all"):
        assert figures[key] > 0
    assert (tmp_path / "create.dmg").read_bytes() == (tmp_path / "conv.dmg").read_bytes()


def test_scaling_benchmark_compresses_exactly_the_writers_chunks(tmp_path, capsys):
    """`bench scaling`'s compression-alone ceiling must time the chunks
    `dmg create` compresses, no more and no fewer."""
    from pipeline import codecs
    from pipeline.bench.dmg import make_tree
    from pipeline.bench.scaling import first_data_chunk, writer_chunks
    tree = tmp_path / "tree"
    make_tree(tree, 3)
    out = tmp_path / "out.dmg"
    code, stdout, err = cli(capsys, "dmg", "create", str(tree), "-o", str(out),
                            "--format", "UDZO", "--json")
    assert code == 0, err
    counts = json.loads(stdout)["chunks"]
    chunks = writer_chunks(tree)
    assert len(chunks) == counts.get("zlib", 0) + counts.get("raw", 0) > 1
    assert first_data_chunk(str(tree)) == chunks[0]        # what the first-chunk start times
    # The data fork is exactly these chunks, each compressed or stored raw.
    compress = codecs.compressor("zlib", 1)
    stored = sum(min(len(compress(c)), len(c)) for c in chunks)
    assert stored == Koly.parse(out.read_bytes()[-KOLY_SIZE:]).data_fork_length


def test_ls_and_extract_warn_about_an_unreplayed_journal(tmp_path, capsys):
    import struct
    from hfs_corpus import extract_volume
    data = bytearray(extract_volume("raw", tmp_path).read_bytes())
    # Move the journal's end past its start (as test_hfs_corpus does).
    jib = struct.unpack_from(">I", data, 1024 + 12)[0] * 4096
    offset = struct.unpack_from(">Q", data, jib + 36)[0]
    start = struct.unpack_from("<q", data, offset + 8)[0]
    struct.pack_into("<q", data, offset + 16, start + 512)
    raw = tmp_path / "dirty.hfs"
    raw.write_bytes(data)
    dmg = tmp_path / "dirty.dmg"
    assert main(["dmg", "convert", str(raw), "-o", str(dmg), "--format", "UDRO"]) == 0
    capsys.readouterr()
    for args in (["ls", str(dmg)], ["extract", str(dmg), str(tmp_path / "x")]):
        code, _out, err = cli(capsys, "dmg", *args)
        assert code == 0
        assert "dirty.dmg: whole disk" in err or "dirty.dmg: blkx[0]" in err, err
        assert "never replayed" in err, err


def test_create_takes_source_date_epoch_like_hfs_create(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"x")
    out = {}
    for flag in ("--source-date-epoch", "--epoch"):
        dmg = tmp_path / f"{flag.strip('-')}.dmg"
        assert main(["dmg", "create", str(src), "-o", str(dmg), "--volname", "V",
                     flag, "1700000000"]) == 0
        out[flag] = dmg.read_bytes()
    assert out["--source-date-epoch"] == out["--epoch"]
    capsys.readouterr()
    code, listing, _err = cli(capsys, "dmg", "ls", "--json", str(tmp_path / "source-date-epoch.dmg"))
    assert code == 0 and json.loads(listing)["entries"][0]["modify_date"] == 1700000000


def test_info_text_keeps_a_partition_name_with_a_newline_on_one_line(tmp_path, capsys):
    import plistlib
    data = (HDIUTIL_CORPUS / "raw.dmg").read_bytes()
    koly = Koly.parse(data[-KOLY_SIZE:])
    root = plistlib.loads(data[koly.xml_offset:koly.xml_offset + koly.xml_length])
    root["resource-fork"]["blkx"][0]["Name"] = "evil\nPartition scheme: forged"
    xml = plistlib.dumps(root)
    koly.xml_length = len(xml)
    image = tmp_path / "named.dmg"
    image.write_bytes(data[:koly.xml_offset] + xml + koly.pack())
    code, out, _err = cli(capsys, "dmg", "info", str(image))
    assert code == 0
    assert "evil\\x0aPartition scheme: forged" in out
    assert sum(line.startswith("Partition scheme:") for line in out.splitlines()) == 1


def test_version_names_the_libraries_that_shape_output_bytes():
    # Run as a user would (the console script's module), and compare with
    # what pip recorded for the installed distributions.
    from importlib.metadata import version
    proc = subprocess.run([sys.executable, "-m", "pipeline", "--version"], capture_output=True,
                          text=True, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"reprodmg {version('reprodmg')}"
    for dist in ("deflate", "lzfse", "ds_store", "mac_alias", "cryptography", "asn1crypto"):
        assert any(line.strip().startswith(f"{dist} {version(dist)}:") for line in lines), dist
    assert any("libbz2" in line for line in lines) and any("liblzma" in line for line in lines)


def test_ls_json_has_one_shape_for_volumes_and_images(tmp_path, capsys):
    # `hfs ls --json` and `dmg ls --json` describe a volume the same way.
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_bytes(b"data")
    assert main(["hfs", "create", str(src), "-o", str(tmp_path / "v.hfs")]) == 0
    assert main(["dmg", "create", str(src), "-o", str(tmp_path / "v.dmg")]) == 0
    capsys.readouterr()
    code, from_volume, _ = cli(capsys, "hfs", "ls", "--json", str(tmp_path / "v.hfs"))
    code2, from_image, _ = cli(capsys, "dmg", "ls", "--json", str(tmp_path / "v.dmg"))
    assert code == code2 == 0
    volume, image = json.loads(from_volume), json.loads(from_image)
    assert image.pop("image") == str(tmp_path / "v.dmg") and "partition" in image
    image.pop("partition")
    assert volume == image and volume["volume_name"] == "src"
    assert [e["path"] for e in volume["entries"]] == ["sub", "sub/f"]


def test_output_that_is_not_a_regular_file_is_never_replaced(tmp_path, capsys):
    # The atomic rename would turn a device node or FIFO into a regular file.
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"x")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "folder").mkdir()
    for target in ("/dev/null", str(fifo), str(tmp_path / "folder")):
        for argv in (["hfs", "create", str(src), "-o", target],
                     ["dmg", "create", str(src), "-o", target]):
            code, _out, err = cli(capsys, *argv)
            assert code == 2 and "not a regular file" in err, (argv, err)
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "pipe", "src"]


def test_a_closed_pipe_ends_quietly_and_is_not_a_difference():
    # `reprodmg ... | head -1`: the reader goes away after one line.
    dmg = HDIUTIL_CORPUS / "zlib-compressed.dmg"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "dmg", "info", str(dmg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, 141)    # 0 only if everything fit in the pipe buffer
    assert "Traceback" not in err and "BrokenPipe" not in err
    big = HDIUTIL_CORPUS / "compression-raw.dmg"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "dmg", "diff", str(dmg), str(big)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                            env={**os.environ, "CI": "true"})
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert err == ""


@pytest.mark.parametrize("kind,head,tail", [
    ("encrypted disk image (encrcdsa, v2)", b"encrcdsa" + bytes(504), b""),
    ("sparse image header.version: offset 0x4: 0, expected 3", b"sprs" + bytes(508), b""),
    ("encrypted disk image (cdsaencr, v1)", b"", bytes(504) + b"cdsaencr"),
])
def test_every_command_recognises_encrypted_and_sparse_images(tmp_path, capsys, kind, head, tail):
    # A raw disk of 512-byte sectors would be accepted by `convert`: these
    # containers are recognised (an encrypted one asks for its passphrase, a
    # damaged sparse header is named) before anything is written.
    image = tmp_path / "x.img"
    image.write_bytes(head + bytes(64 * 1024) + tail)
    for argv in (["dmg", "convert", str(image), "-o", str(tmp_path / "out.dmg"), "--format", "UDZO"],
                 ["dmg", "convert", str(image), "-o", str(tmp_path / "out.raw"), "--format", "raw"],
                 ["dmg", "info", str(image)], ["dmg", "verify", str(image)],
                 ["dmg", "ls", str(image)]):
        code, _out, err = cli(capsys, *argv)
        assert code == 2 and kind in err, (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.img"]


def _volume_with(offset: int, magic: bytes, size: int = 1 << 20) -> bytes:
    raw = bytearray(size)
    raw[offset:offset + len(magic)] = magic
    return bytes(raw)


@pytest.mark.parametrize("what,raw", [
    ("an APFS container", _volume_with(32, b"NXSB")),
    ("a FAT32 file system", _volume_with(82, b"FAT32   ") [:510] + b"\x55\xaa"
     + bytes((1 << 20) - 512)),
    ("a FAT12/16 file system", _volume_with(54, b"FAT16   ")[:510] + b"\x55\xaa"
     + bytes((1 << 20) - 512)),
    ("an NTFS file system", _volume_with(3, b"NTFS    ")),
    ("an exFAT file system", _volume_with(3, b"EXFAT   ")),
    ("an ISO 9660 file system", _volume_with(0x8001, b"CD001")),
])
def test_ls_and_extract_name_the_file_system_they_cannot_read(tmp_path, capsys, what, raw):
    from hfs_source import BytesSource
    from pipeline.udif.writer import write_udif
    dmg = tmp_path / "v.dmg"
    write_udif(BytesSource(raw), dmg, format="UDRO", free_ranges=[], manifest_path=False)
    for argv in (["dmg", "ls", str(dmg)], ["dmg", "extract", str(dmg), str(tmp_path / "x")]):
        code, _out, err = cli(capsys, *argv)
        assert code == 2 and what in err and "not supported" in err, (argv, err)
    assert not (tmp_path / "x").exists()


def test_an_image_whose_koly_declares_no_sectors_is_read_from_its_tables(tmp_path, capsys):
    # libdmg-hfsplus' `dmg` (and Firefox-era images) leave koly.sectorCount
    # at 0; 7-Zip and dmg2img read such images from the blkx tables.
    original = HDIUTIL_CORPUS / "zlib-compressed.dmg"
    data = bytearray(original.read_bytes())
    at = len(data) - KOLY_SIZE + Koly.offset_of("sector_count")
    assert int.from_bytes(data[at:at + 8], "big") > 0
    data[at:at + 8] = bytes(8)
    zero = tmp_path / "zero.dmg"
    zero.write_bytes(data)
    code, want, _ = cli(capsys, "dmg", "ls", "--json", str(original))
    code2, got, err = cli(capsys, "dmg", "ls", "--json", str(zero))
    assert code == code2 == 0
    assert json.loads(got)["entries"] == json.loads(want)["entries"]
    assert err.count("warning") == 1 and "sectorCount is 0" in err
    code, out, err = cli(capsys, "dmg", "info", "--json", str(zero))
    _, ref, _ = cli(capsys, "dmg", "info", "--json", str(original))
    assert code == 0 and json.loads(out)["sizes"]["sector_count"] == \
        json.loads(ref)["sizes"]["sector_count"]
    assert cli(capsys, "dmg", "verify", str(zero))[0] == 0
    assert cli(capsys, "dmg", "convert", str(zero), "-o", str(tmp_path / "c.raw"),
               "--format", "raw")[0] == 0
    raw_ref = tmp_path / "ref.raw"
    assert cli(capsys, "dmg", "convert", str(original), "-o", str(raw_ref), "--format", "raw")[0] == 0
    assert (tmp_path / "c.raw").read_bytes() == raw_ref.read_bytes()


def _with_code_signature(dmg: Path, out: Path, superblob: bytes) -> None:
    """``dmg`` with a signature placed as codesign places a DMG's own: after
    the property list, named by koly codeSignatureOffset/Length."""
    data = dmg.read_bytes()
    koly = Koly.parse(data[-KOLY_SIZE:])
    body = data[:-KOLY_SIZE]
    koly.code_signature_offset, koly.code_signature_length = len(body), len(superblob)
    out.write_bytes(body + superblob + koly.pack())


def test_info_shows_the_images_own_code_signature_and_diff_names_its_fields(tmp_path, capsys):
    import datetime as dt

    from pipeline.codesign import Identity
    from pipeline.codesign import blobs
    from pipeline.codesign.cms import build_signed_data
    from signing_identity import make_identity

    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"payload")
    unsigned = tmp_path / "u.dmg"
    assert main(["dmg", "create", str(src), "-o", str(unsigned)]) == 0
    cd = blobs.CodeDirectory(version=0x20400, identifier="org.example.image",
                             code_limit=4096, hash_type=blobs.CS_HASHTYPE_SHA256,
                             code_hashes=[bytes(32)])
    cd_blob = cd.pack()
    adhoc = blobs.SuperBlob(blobs.CSMAGIC_EMBEDDED_SIGNATURE,
                            [(blobs.CSSLOT_CODEDIRECTORY, cd_blob)]).pack()
    p12, _pem = make_identity(tmp_path, b"pw", common_name="Image Signer", team="TEAM123456",
                              serial=7)
    identity = Identity.from_p12(p12, b"pw")
    cms = build_signed_data([(cd_blob, "sha256")], identity.der(identity.leaf), [],
                            identity.key, dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    signed_blob = blobs.SuperBlob(blobs.CSMAGIC_EMBEDDED_SIGNATURE,
                                  [(blobs.CSSLOT_CODEDIRECTORY, cd_blob),
                                   (blobs.CSSLOT_SIGNATURESLOT, blobs.blob_wrapper(cms))]).pack()
    capsys.readouterr()
    code, out, _ = cli(capsys, "dmg", "info", "--json", str(unsigned))
    assert code == 0 and json.loads(out)["code_signature"] is None
    for name, blob, signer in (("adhoc.dmg", adhoc, None), ("signed.dmg", signed_blob, "Image Signer")):
        image = tmp_path / name
        _with_code_signature(unsigned, image, blob)
        code, out, err = cli(capsys, "dmg", "info", "--json", str(image))
        assert code == 0, err
        sig = json.loads(out)["code_signature"]
        assert sig["offset"] == unsigned.stat().st_size - KOLY_SIZE and sig["length"] == len(blob)
        assert sig["identifier"] == "org.example.image" and sig["cdhash"] == cd.cdhash().hex()
        assert (sig["signer"] is None) == (signer is None)
        assert signer is None or signer in sig["signer"]
        assert sig["problems"] == []
        assert cli(capsys, "dmg", "verify", str(image))[0] == 0
    code, out, _ = cli(capsys, "dmg", "diff", "--json", str(tmp_path / "adhoc.dmg"),
                       str(tmp_path / "signed.dmg"))
    fields = {d["field"] for d in json.loads(out)["container"]["koly"]}
    assert code == 1 and "koly.codeSignatureLength" in fields and "koly.reserved1" not in fields
    # A signature pointing past the trailer is named, not followed.
    data = bytearray((tmp_path / "adhoc.dmg").read_bytes())
    at = len(data) - KOLY_SIZE + Koly.offset_of("code_signature_length")
    data[at:at + 8] = (1 << 40).to_bytes(8, "big")
    (tmp_path / "bad.dmg").write_bytes(data)
    code, out, _ = cli(capsys, "dmg", "info", "--json", str(tmp_path / "bad.dmg"))
    assert code == 0 and "codeSignatureLength" in json.loads(out)["code_signature"]["problems"][0]


@pytest.mark.parametrize("label,raw", [
    ("whole disk (ISO9660 : 0)", _volume_with(0x8001, b"CD001")),
    ("whole disk (GUID_partition_scheme : 0)", _volume_with(512, b"EFI PART")),
    ("whole disk (DOS_FAT_32 : 0)", _volume_with(82, b"FAT32   ")),
    ("whole disk (Apple_APFS : 0)", _volume_with(32, b"NXSB")),
    ("whole disk (unknown : 0)", bytes(1 << 20)),
])
def test_convert_labels_a_raw_input_by_what_it_holds(tmp_path, capsys, label, raw):
    (tmp_path / "in.raw").write_bytes(raw)
    code, _out, err = cli(capsys, "dmg", "convert", str(tmp_path / "in.raw"), "-o",
                          str(tmp_path / "out.dmg"), "--format", "UDZO")
    assert code == 0, err
    code, out, _ = cli(capsys, "dmg", "info", "--json", str(tmp_path / "out.dmg"))
    assert [p["name"] for p in json.loads(out)["partitions"]] == [label]
