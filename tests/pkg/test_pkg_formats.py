"""xar, pbzx and cpio readers (pipeline/pkg).

Oracles: GNU cpio writes the cpio archives (odc and newc), bsdtar
(libarchive) writes xar archives with its own TOC, checksums and zlib
encoding; Python's lzma writes the xz chunks of pbzx.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
from pathlib import Path

import pytest

from apple_archives import pbzx, split, xar
from helpers import require_tool
from pipeline.errors import CorruptError, VerificationError
from pipeline.pkg import ChunkStream, XarArchive, decode_pbzx, open_xar, read_cpio


def _tree(root: Path) -> Path:
    top = root / "top"
    (top / "dir/sub").mkdir(parents=True)
    (top / "dir/a.txt").write_bytes(b"alpha\n")
    (top / "dir/sub/odd size.bin").write_bytes(bytes(range(256)) * 3 + b"x")
    (top / "run.sh").write_bytes(b"#!/bin/sh\n")
    (top / "run.sh").chmod(0o755)
    os.symlink("dir/a.txt", top / "link")
    os.link(top / "dir/a.txt", top / "hard")
    return root


def _gnu_cpio(root: Path, fmt: str) -> bytes:
    names = sorted("./" + p.relative_to(root).as_posix() for p in [root / "top",
                                                                    *(root / "top").rglob("*")])
    return subprocess.run([require_tool("cpio"), "-o", "--quiet", "-H", fmt], cwd=root,
                          input="\n".join(names).encode() + b"\n", capture_output=True,
                          check=True).stdout


@pytest.mark.parametrize("fmt", ["odc", "newc", "crc"])
def test_cpio_reader_reads_gnu_cpio(tmp_path, fmt):
    root = _tree(tmp_path)
    raw = _gnu_cpio(root, fmt)
    seen = {}
    for entry, data in read_cpio(io.BytesIO(raw), "t.cpio"):
        seen[entry.name] = (entry, data.read())
    assert set(seen) == {"top", "top/dir", "top/dir/sub", "top/dir/a.txt",
                         "top/dir/sub/odd size.bin", "top/run.sh", "top/link", "top/hard"}
    assert seen["top/dir"][0].is_dir and seen["top/link"][0].is_symlink
    assert seen["top/link"][0].link_target == "dir/a.txt"
    assert seen["top/dir/sub/odd size.bin"][1] == bytes(range(256)) * 3 + b"x"
    assert seen["top/run.sh"][0].mode & 0o777 == 0o755
    a, hard = seen["top/dir/a.txt"][0], seen["top/hard"][0]
    assert (a.ino, a.dev) == (hard.ino, hard.dev) and a.nlink == hard.nlink == 2
    # odc repeats the data for every link; newc keeps it for the last one.
    assert b"alpha\n" in (seen["top/dir/a.txt"][1], seen["top/hard"][1])


def test_cpio_reader_skips_unread_data_and_needs_its_trailer(tmp_path):
    raw = _gnu_cpio(_tree(tmp_path), "odc")
    names = [e.name for e, _ in read_cpio(io.BytesIO(raw))]      # data never read
    assert "top/dir/sub/odd size.bin" in names
    cut = raw[:raw.index(b"TRAILER!!!") - 80]
    with pytest.raises(CorruptError, match="TRAILER|truncated"):
        list(read_cpio(io.BytesIO(cut), "cut.cpio"))
    with pytest.raises(CorruptError, match=r"c_magic.*neither odc"):
        list(read_cpio(io.BytesIO(b"070708" + raw[6:]), "bad.cpio"))
    bad_number = raw[:10] + b"9" + raw[11:]
    with pytest.raises(CorruptError, match=r"c_(ino|dev).*not a number"):
        list(read_cpio(io.BytesIO(bad_number), "bad.cpio"))


def test_pbzx_round_trip_raw_and_xz_chunks():
    payload = os.urandom(5000) + b"\0" * 20000       # an incompressible chunk is stored raw
    stream = b"".join(pbzx(split(payload, 4096), 4096))
    assert b"".join(decode_pbzx(io.BytesIO(stream), "p")) == payload


def test_pbzx_refuses_truncation_and_lies():
    payload = b"\0" * 10000
    stream = b"".join(pbzx(split(payload, 4096), 4096))
    with pytest.raises(CorruptError, match=r"pbzx chunk 2.*(truncated|ends early)"):
        list(decode_pbzx(io.BytesIO(stream[:-5]), "p"))
    with pytest.raises(CorruptError, match="pbzx.magic"):
        list(decode_pbzx(io.BytesIO(b"pbzy" + stream[4:]), "p"))
    # A chunk header that promises more than it decodes to.
    first = struct.unpack(">QQ", stream[12:28])
    lying = stream[:12] + struct.pack(">QQ", first[0] + 1, first[1]) + stream[28:]
    with pytest.raises(CorruptError, match="pbzx chunk 0.*decodes to 4096 bytes, header says 4097"):
        list(decode_pbzx(io.BytesIO(lying), "p"))
    huge = stream[:12] + struct.pack(">QQ", 1 << 40, 10) + stream[28:]
    with pytest.raises(CorruptError, match="exceed"):
        list(decode_pbzx(io.BytesIO(huge), "p"))


@pytest.mark.parametrize("options", ["xar:compression=none", "xar:compression=gzip",
                                     "xar:compression=bzip2"])
def test_xar_reader_reads_bsdtar_archives(tmp_path, options):
    (tmp_path / "in/Pkg.pkg").mkdir(parents=True)
    (tmp_path / "in/Distribution").write_bytes(b"<installer-gui-script/>\n")
    (tmp_path / "in/Pkg.pkg/Payload").write_bytes(os.urandom(100_000) + b"\0" * 100_000)
    out = tmp_path / "t.xar"
    subprocess.run([require_tool("bsdtar"), "--format", "xar", "--options", options, "-cf",
                    str(out), "Distribution", "Pkg.pkg"], cwd=tmp_path / "in", check=True)
    archive = open_xar(out)
    try:
        paths = {m.path: m for m in archive.members}
        assert set(paths) == {"Distribution", "Pkg.pkg", "Pkg.pkg/Payload"}
        assert paths["Pkg.pkg"].type == "directory"
        got = b"".join(archive.read(paths["Pkg.pkg/Payload"]))
        assert got == (tmp_path / "in/Pkg.pkg/Payload").read_bytes()
    finally:
        archive.file.close()


def _our_xar(tmp_path: Path, data: bytes = b"payload" * 1000) -> Path:
    return xar([("Content", data)], tmp_path / "x.xar")


def test_xar_refuses_bad_headers_and_checksums(tmp_path):
    good = _our_xar(tmp_path).read_bytes()

    def opened(raw: bytes) -> XarArchive:
        return XarArchive(io.BytesIO(raw), "x.xar")

    with pytest.raises(CorruptError, match="x.xar: xar header magic"):
        opened(b"xbr!" + good[4:])
    with pytest.raises(CorruptError, match="toc_length.*exceeds"):
        opened(good[:8] + struct.pack(">Q", 1 << 40) + good[16:])
    toc_end = 28 + struct.unpack(">Q", good[8:16])[0]
    # The TOC digest stored in the heap no longer matches the TOC.
    with pytest.raises(VerificationError, match="xar toc checksum: the table of contents hashes"):
        opened(good[:toc_end] + bytes([good[toc_end] ^ 1]) + good[toc_end + 1:])
    with pytest.raises(CorruptError, match=r"xar toc: offset 0x1c: zlib data"):
        opened(good[:30] + b"\xff\xff" + good[32:])
    # A member whose stored bytes were changed fails its archived checksum.
    archive = opened(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(VerificationError, match="archived-checksum sha1"):
        b"".join(archive.read(archive.member("Content")))
    archive = opened(good[:-10])
    with pytest.raises(CorruptError, match="truncated"):
        b"".join(archive.read(archive.member("Content")))


def test_xar_reads_in_bounded_pieces(tmp_path):
    data = b"\0" * (5 << 20)
    archive = open_xar(xar([("Content", data)], tmp_path / "big.xar"))
    try:
        sizes = [len(p) for p in archive.read(archive.member("Content"))]
    finally:
        archive.file.close()
    assert sum(sizes) == len(data) and max(sizes) <= 1 << 20


def test_xar_checksum_algorithms(tmp_path):
    for algorithm in ("md5", "sha256", "sha512"):
        path = xar([("Content", b"abc")], tmp_path / f"{algorithm}.xar", checksum=algorithm)
        archive = open_xar(path)
        assert archive.header_algorithm == algorithm
        assert b"".join(archive.read(archive.member("Content"))) == b"abc"
        archive.file.close()


def test_chunk_stream_reads_across_chunks():
    s = ChunkStream([b"ab", b"", b"cde", b"f"])
    assert s.read(3) == b"abc" and s.read(0) == b"" and s.read() == b"def"
    assert s.position == 6 and s.read(5) == b""
