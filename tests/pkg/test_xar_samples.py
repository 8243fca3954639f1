"""Real xar archives from other writers (tests/data/xar-samples/NOTICE.md):
Apple's xar, mackyle's xar 1.8 and libarchive's test archives.  Each must
open with its TOC checksum verified and give the members' known contents
with their own checksums verified."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pipeline.errors import CorruptError, VerificationError
from pipeline.pkg import XarArchive, open_xar

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "xar-samples"
HELLO = b"hellohellohello\n"
EXPECTED = {
    "apple-sha512-files-gzip.xar": ("sha512", {
        "subdirectory": None,
        "subdirectory/sub-root.txt": b"This should be in a subdirectory one level below root\n",
        "root.txt": b"This should be in the archive root\n"}),
    "custom-sha224-files-gzip.xar": ("sha224", {"f1": HELLO}),
    "md5-dir.xar": ("md5", {"dir1": None}),
    "nocksum-dir.xar": ("none", {"dir1": None}),
    "sha1-dir.xar": ("sha1", {"dir1": None}),
    "sha1-file-bzip2.xar": ("sha1", {"f1": HELLO}),
    "sha1-file-nocomp.xar": ("sha1", {"f1": HELLO}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_xar_archives_read_with_their_checksums(name):
    algorithm, members = EXPECTED[name]
    archive = open_xar(SAMPLES / name)
    try:
        assert archive.header_algorithm == algorithm
        got = {m.path: (b"".join(archive.read(m)) if m.type == "file" else None)
               for m in archive.members}
        assert got == members
        for m in archive.members:
            if m.type == "file":
                assert m.archived is not None and m.extracted is not None
    finally:
        archive.file.close()


@pytest.mark.parametrize("name", ["apple-sha512-files-gzip.xar", "sha1-file-bzip2.xar"])
def test_a_flipped_heap_byte_is_caught(name):
    raw = bytearray((SAMPLES / name).read_bytes())
    raw[-3] ^= 0x40           # inside the last member's stored bytes
    archive = XarArchive(io.BytesIO(bytes(raw)), name)
    with pytest.raises((VerificationError, CorruptError)):
        for m in archive.members:
            b"".join(archive.read(m))
