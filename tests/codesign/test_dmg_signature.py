"""The disk image's own code signature (issue 14 §1, §3, first part).

Oracles: a DMG signed by Apple's codesign (tests/data/sparkle-dmg, from
Sparkle's test data, MIT): it verifies, one flipped byte fails naming
what, and re-signing its unsigned bytes with our ad-hoc signer reproduces
codesign's signature byte for byte; `openssl cms -verify` accepts our CMS
over the CodeDirectory.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, require_tool
from signing_identity import make_identity
from pipeline.codesign import blobs
from pipeline.codesign import diskimage as di
from pipeline.codesign.sign import Identity
from pipeline.errors import CorruptError, InputError, VerificationError
from pipeline.jsonfile import sha256_file

SIGNED = REPO / "tests/data/sparkle-dmg/SparkleTestCodeSign_apfs_lzma_aux_files.dmg"
CDHASH = "ac64107c8837ae544f5ab7ede956b13bed0de411"


def _unsigned_copy(signed: Path, out: Path) -> Path:
    """The image as it was before codesign: signature cut, koly fields zero."""
    image = di.read_signature(signed)
    koly = bytearray(image.koly)
    struct.pack_into(">QQ", koly, di.SIGNATURE_OFFSET_FIELD, 0, 0)
    raw = signed.read_bytes()
    out.write_bytes(raw[:image.data_end] + bytes(koly))
    return out


def test_codesign_signed_image_verifies():
    assert sha256_file(SIGNED) == \
        "b22c4db20b107661775a5c9aec030eae2fd279ef113b48248a84f12e9a10172d"   # as fetched
    report = di.verify_image_signature(SIGNED)
    assert report.ok, report.failures
    assert (report.kind, report.cdhash, report.ticket) == ("ad hoc", CDHASH, None)
    assert report.identifier == ("SparkleTestCodeSign_apfs_lzma_aux_files-"
                                 "377068f48152a21a1d1792eb39741dcc34df3c2a")


def test_our_adhoc_signer_reproduces_codesign_byte_for_byte(tmp_path):
    unsigned = _unsigned_copy(SIGNED, tmp_path / SIGNED.name)
    di.sign_image(unsigned)
    assert unsigned.read_bytes() == SIGNED.read_bytes()
    # And re-signing a signed image (codesign -f) gives the same bytes again.
    di.sign_image(unsigned)
    assert unsigned.read_bytes() == SIGNED.read_bytes()


@pytest.mark.parametrize("where, expected", [
    (1000, "image data \\[0, 803328\\): its hash does not match"),
    (-512 + 8, "koly trailer: its hash \\(special slot 6\\) does not match"),
])
def test_one_flipped_byte_fails_naming_what(tmp_path, where, expected):
    data = bytearray(SIGNED.read_bytes())
    data[where] ^= 0x01
    bad = tmp_path / "bad.dmg"
    bad.write_bytes(bytes(data))
    report = di.verify_image_signature(bad)
    assert not report.ok
    assert any(re.search(expected, f) for f in report.failures), report.failures


def test_canonical_identifiers_as_codesign_makes_them():
    assert di.canonical_identifier("Hello-1.0.0.dmg") == "Hello-1"
    assert di.canonical_identifier("foo.2.3.4") == "foo.2"
    assert di.canonical_identifier("foo2.3") == "foo2"
    assert di.canonical_identifier("foo.9") == "foo.9"
    assert di.canonical_identifier("Multi.dmg") == "Multi"
    assert di.canonical_identifier("9lives.dmg") == "9lives"


@pytest.fixture(scope="module")
def identity_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("id")
    return make_identity(root, b"pw", common_name="reprodmg test signer", team="TEAM123456",
                         serial=14)


@pytest.fixture(scope="module")
def our_image(tmp_path_factory) -> Path:
    """A DMG made by our own writer (the hello volume's shape will do)."""
    src = tmp_path_factory.mktemp("vol") / "Demo"
    (src / "Demo.app/Contents").mkdir(parents=True)
    (src / "Demo.app/Contents/Info.plist").write_text("<plist/>\n")
    out = src.parent / "Demo-1.2.3.dmg"
    subprocess.run([sys.executable, "-m", "pipeline", "dmg", "create", str(src), "-o", str(out)],
                   check=True, capture_output=True, cwd=REPO,
                   env={**os.environ, "REPRODMG_PROGRESS": "0"})
    return out


def test_identity_signature_verifies_and_openssl_accepts_the_cms(our_image, identity_files,
                                                                  tmp_path):
    p12, pem = identity_files
    signed = tmp_path / our_image.name
    di.sign_image(our_image, Identity.from_p12(p12, b"pw"), out=signed, epoch=1735689600)
    report = di.verify_image_signature(signed, anchors=[_der(pem)])
    assert report.ok, report.failures
    assert (report.kind, report.team_id, report.identifier) == ("identity", "TEAM123456",
                                                                "Demo-1")
    sb = di.read_signature(signed).blob
    cd = blobs.CodeDirectory.parse(sb.get(0))
    assert (cd.version, cd.flags, cd.page_size_log2, len(cd.code_hashes), cd.n_special_slots) == \
        (0x20200, 0, 0, 1, 6)
    assert [slot for slot, _ in sb.entries] == [0, 2, 0x10000]
    (tmp_path / "cd").write_bytes(sb.get(0))
    (tmp_path / "cms").write_bytes(blobs.blob_payload(sb.get(0x10000)))
    proc = subprocess.run([require_tool("openssl"), "cms", "-verify", "-binary", "-inform", "DER",
                           "-in", str(tmp_path / "cms"), "-content", str(tmp_path / "cd"),
                           "-CAfile", str(pem), "-purpose", "any", "-out", os.devnull],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    # The image's data is untouched: cutting the signature gives the input back.
    assert _unsigned_copy(signed, tmp_path / "again.dmg").read_bytes() == our_image.read_bytes()


def _der(pem: Path) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    return x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(Encoding.DER)


def test_staple_detach_apply_in_two_builder_folders(our_image, identity_files, tmp_path):
    """The signer signs and staples, detaches; two builders with their own
    copy of the unsigned image apply it and get the same bytes."""
    p12, _pem = identity_files
    signer = tmp_path / "signer"
    signer.mkdir()
    signed = signer / our_image.name
    di.sign_image(our_image, Identity.from_p12(p12, b"pw"), out=signed, epoch=1735689600)
    cdhash = bytes.fromhex(di.verify_image_signature(signed).cdhash)
    ticket = b"s8ch" + bytes(60) + cdhash + b"test ticket, not Apple's"
    di.staple_image(signed, ticket)
    report = di.verify_image_signature(signed)
    assert report.ok and report.ticket == "stapled (lists this cdhash)"
    assert di.read_signature(signed).ticket() == ticket
    info = di.detach_signature(signed, signer / "dmg-signature.tar")
    assert info["ticket"] and info["cdhash"] == cdhash.hex()
    outputs = []
    for name in ("builder-a", "deeper/builder-b"):
        folder = tmp_path / name
        folder.mkdir(parents=True)
        mine = folder / our_image.name
        shutil.copy(our_image, mine)
        out = folder / "Demo-1.2.3-signed.dmg"
        assert di.apply_signature(mine, signer / "dmg-signature.tar", out).ok
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == signed.read_bytes()
    # A ticket for another cdhash is reported.
    di.staple_image(signed, b"s8ch" + bytes(80))
    assert "does not list this image's cdhash" in " ".join(
        di.verify_image_signature(signed).failures)


def test_apply_refuses_a_signature_for_another_image(our_image, tmp_path):
    signed = tmp_path / "s.dmg"
    di.sign_image(our_image, None, out=signed)
    di.detach_signature(signed, tmp_path / "sig.tar")
    other = tmp_path / "other.dmg"
    data = bytearray(our_image.read_bytes())
    data[2000] ^= 0xFF
    other.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match=r"made for another image.*image data \[0, "):
        di.apply_signature(other, tmp_path / "sig.tar", tmp_path / "out.dmg")
    assert not (tmp_path / "out.dmg").exists()
    shorter = tmp_path / "short.dmg"
    shorter.write_bytes(bytes(data[:1000]) + bytes(data[-512:]))
    with pytest.raises(VerificationError, match="image data is 1000 bytes, the signature covers"):
        di.apply_signature(shorter, tmp_path / "sig.tar", tmp_path / "out.dmg")


def test_hostile_signature_fields_are_refused(tmp_path):
    raw = bytearray(SIGNED.read_bytes())
    koly_at = len(raw) - 512
    bad = tmp_path / "bad.dmg"
    # Length past the koly.
    r = bytearray(raw)
    struct.pack_into(">Q", r, koly_at + 304, 10 ** 6)
    bad.write_bytes(bytes(r))
    with pytest.raises(CorruptError, match="codeSignatureOffset/Length"):
        di.read_signature(bad)
    # A SuperBlob whose index points outside it.
    r = bytearray(raw)
    sig_at = struct.unpack_from(">Q", r, koly_at + 296)[0]
    struct.pack_into(">I", r, sig_at + 16, 0x7FFFFFF0)          # first index entry's offset
    bad.write_bytes(bytes(r))
    with pytest.raises(CorruptError):
        di.verify_image_signature(bad)
    # A count that claims more entries than the blob holds.
    r = bytearray(raw)
    struct.pack_into(">I", r, sig_at + 8, 100000)
    bad.write_bytes(bytes(r))
    with pytest.raises(CorruptError):
        di.verify_image_signature(bad)
    with pytest.raises(InputError, match="not signed"):
        di.staple_image(_unsigned_copy(SIGNED, tmp_path / "u.dmg"), b"ticket")


def test_command_line(our_image, tmp_path):
    env = {**os.environ, "REPRODMG_PROGRESS": "0"}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "pipeline", "dmg", "sig", *map(str, args)],
                              capture_output=True, text=True, cwd=REPO, env=env)
    out = tmp_path / "signed.dmg"
    proc = run("sign", our_image, "--adhoc", "-o", out)
    assert proc.returncode == 0 and ": ok: ad hoc, identifier Demo-1-" in proc.stdout
    assert run("verify", SIGNED).returncode == 0
    data = bytearray(out.read_bytes())
    data[100] ^= 1
    (tmp_path / "bad.dmg").write_bytes(bytes(data))
    proc = run("verify", tmp_path / "bad.dmg", "--json")
    assert proc.returncode == 1 and '"ok": false' in proc.stdout
    assert run("detach", out, "-o", tmp_path / "s.tar").returncode == 0
    proc = run("apply", our_image, tmp_path / "s.tar", "-o", tmp_path / "again.dmg")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "again.dmg").read_bytes() == out.read_bytes()


def test_seeded_mutations_of_the_signature_give_only_our_errors(tmp_path):
    """200 seeded mutations of the SuperBlob and the koly's signature fields:
    a report (failed) or the project's own error, never anything else."""
    import random
    from pipeline.errors import ReprodmgError
    raw = SIGNED.read_bytes()
    image = di.read_signature(SIGNED)
    rng = random.Random(14)
    bad = tmp_path / "m.dmg"
    refused = failed = 0
    for _ in range(200):
        data = bytearray(raw)
        for _ in range(rng.choice((1, 2, 4))):
            if rng.random() < 0.85:
                at = rng.randrange(image.data_end, len(raw) - 512)
            else:
                at = len(raw) - 512 + di.SIGNATURE_OFFSET_FIELD + rng.randrange(16)
            data[at] = rng.randrange(256)
        bad.write_bytes(bytes(data))
        try:
            report = di.verify_image_signature(bad)
        except ReprodmgError:
            refused += 1
            continue
        failed += not report.ok
    assert refused + failed > 150, (refused, failed)
