"""CodeDirectory versions 0x20001..0x20600, hash types and alternate
CodeDirectories.  Header sizes follow XNU's cs_blobs.h; the round trips
on real signatures (codesign's 0x20500 in the corpus, lld's 0x20400) are
in test_sig_corpus.py and test_codesign_adhoc.py."""

from __future__ import annotations

import hashlib
import shutil
import struct

import pytest

from pipeline.codesign import blobs
from pipeline.codesign.adhoc import adhoc_sign_file
from pipeline.codesign.allocate import allocate
from pipeline.codesign.verify import verify_path
from pipeline.errors import UnsupportedError
from pipeline.macho import read_macho

# (version, header size) from cs_blobs.h: each version appends fields.
HEADER_SIZES = [(0x20001, 0x2C), (0x20100, 0x30), (0x20200, 0x34), (0x20300, 0x40),
                (0x20400, 0x58), (0x20500, 0x60), (0x20600, 0x6C)]


@pytest.mark.parametrize("version, size", HEADER_SIZES)
def test_header_size_per_version(version, size):
    assert blobs.cd_header_size(version) == size


@pytest.mark.parametrize("version", [v for v, _ in HEADER_SIZES[:-1]])
@pytest.mark.parametrize("hash_type", [blobs.CS_HASHTYPE_SHA1, blobs.CS_HASHTYPE_SHA256,
                                       blobs.CS_HASHTYPE_SHA256_TRUNCATED, blobs.CS_HASHTYPE_SHA384])
def test_code_directory_round_trips_every_version_and_hash(version, hash_type):
    code = bytes(range(256)) * 40
    cd = blobs.CodeDirectory(version=version, flags=blobs.CS_ADHOC, identifier="org.example.x",
                         team_id="TEAM" if version >= 0x20200 else None, code_limit=len(code),
                         hash_type=hash_type, exec_seg_limit=0x4000 if version >= 0x20400 else 0,
                         runtime=0xB0000 if version >= 0x20500 else 0)
    cd.code_hashes = cd.expected_code_hashes(code)
    cd.special_hashes = {1: b"\x11" * cd.hash_size, 3: b"\x33" * cd.hash_size}
    blob = cd.pack()
    again = blobs.CodeDirectory.parse(blob)
    assert again.pack() == blob
    assert (again.version, again.identifier, again.team_id, again.code_limit, again.hash_type) == \
        (version, "org.example.x", cd.team_id, len(code), hash_type)
    assert again.special_hashes == {1: b"\x11" * cd.hash_size, 2: bytes(cd.hash_size),
                                    3: b"\x33" * cd.hash_size}
    assert len(again.code_hashes) == 3 and again.code_hashes[0] == \
        hashlib.new(blobs.HASH_TYPES[hash_type][0], code[:4096]).digest()[:cd.hash_size]
    assert again.cdhash() == hashlib.new(blobs.HASH_TYPES[hash_type][0], blob).digest()[:20]


def test_version_0x20600_parses_and_is_not_written():
    cd = blobs.CodeDirectory(version=0x20500, identifier="x", code_limit=10)
    cd.code_hashes = cd.expected_code_hashes(b"0123456789")
    blob = bytearray(cd.pack())
    # Grow it into a 0x20600 header: 12 more bytes (linkage fields, zero) before the identifier.
    head, body = blob[:0x60], blob[0x60:]
    blob = head + bytes(12) + body
    struct.pack_into(">III", blob, 4, len(blob), 0x20600, 0)
    hash_off, ident_off = struct.unpack_from(">II", blob, 0x10)
    struct.pack_into(">II", blob, 0x10, hash_off + 12, ident_off + 12)
    parsed = blobs.CodeDirectory.parse(bytes(blob))
    assert (parsed.version, parsed.identifier, parsed.code_hashes) == (0x20600, "x", cd.code_hashes)
    with pytest.raises(UnsupportedError):
        parsed.pack()


def test_alternate_code_directories_are_verified(builder, tmp_path):
    """Older codesign writes a SHA-1 primary CD and a SHA-256 alternate in
    slot 0x1000; both must hold."""
    exe = tmp_path / "hello"
    shutil.copy(builder.link("arm64", "alt/hello"), exe)
    adhoc_sign_file(exe)
    sl = read_macho(exe).slices[0]
    cs = sl.code_signature
    primary = blobs.CodeDirectory.parse(blobs.SuperBlob.parse(sl.signature_bytes()).get(0))
    sha1 = blobs.CodeDirectory(version=0x20400, flags=primary.flags, identifier="hello",
                           code_limit=primary.code_limit, hash_type=blobs.CS_HASHTYPE_SHA1)

    def superblob(code):
        for cd in (sha1, primary):
            cd.code_hashes = cd.expected_code_hashes(code)
        return blobs.SuperBlob(blobs.CSMAGIC_EMBEDDED_SIGNATURE,
                           [(0, sha1.pack()), (0x1000, primary.pack())]).pack()

    size = -(-len(superblob(sl.read(0, sl.size))) // 16) * 16
    data = allocate(sl, size, cs.dataoff)          # the signature grows: header page changes
    sig = superblob(bytes(data[:cs.dataoff]))
    data[cs.dataoff:cs.dataoff + len(sig)] = sig
    exe.write_bytes(data)
    report = verify_path(exe)
    assert report.ok, report.failures
    assert report.files[0].slices[0].hash_type == "sha1"
    data[0x4000] ^= 1
    exe.write_bytes(data)
    assert verify_path(exe).failures == [
        "hello (arm64): CodeDirectory: code page 4 (offset 0x4000) hash mismatch",
        "hello (arm64): alternate CodeDirectory 0x1000: code page 4 (offset 0x4000) hash mismatch"]
