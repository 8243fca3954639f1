"""Acceptance on the signapple corpus (a real Developer-ID-style signature
made by Apple's codesign on macOS): the signed app is the oracle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import SIGNAPPLE_CORPUS
from pipeline.cli import main
from pipeline.codesign import blobs
from pipeline.codesign.apply import apply
from pipeline.codesign.coderesources import build_code_resources
from pipeline.codesign.detach import detach
from pipeline.codesign.verify import verify_path
from pipeline.errors import VerificationError
from pipeline.macho import read_macho

SIGNED = SIGNAPPLE_CORPUS / "signed"
UNSIGNED = SIGNAPPLE_CORPUS / "unsigned"
EXE = "Contents/MacOS/signapple-test"


def tree(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            p = Path(dirpath) / name
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def writable_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for dirpath, _d, filenames in os.walk(dst):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(Path(dirpath) / name, 0o644)
    return dst


def test_detach_then_apply_gives_signed_corpus_back_byte_for_byte(tmp_path):
    detach(SIGNED, tmp_path / "sigs.tar")
    apply(UNSIGNED, tmp_path / "sigs.tar", tmp_path / "out.app")
    assert tree(tmp_path / "out.app") == tree(SIGNED)


def test_detach_is_deterministic_across_directories_and_umask(tmp_path, monkeypatch):
    detach(SIGNED, tmp_path / "a.tar")
    elsewhere = writable_copy(SIGNED, tmp_path / "deeper" / "Other Name.app")
    old = os.umask(0o077)
    try:
        monkeypatch.setenv("TZ", "Pacific/Auckland")
        detach(elsewhere, tmp_path / "b.tar")
    finally:
        os.umask(old)
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_verify_passes_on_signed_corpus():
    report = verify_path(SIGNED)
    assert report.ok, report.failures
    (sl,) = report.files[0].slices
    assert (sl.kind, sl.cd_version, sl.identifier, sl.team_id) == \
        ("cms", "0x20500", "com.achow101.signapple-test", "3U8RB33R2B")
    assert "Apple Development" in sl.signer


def test_verify_chain_to_pinned_apple_root():
    report = verify_path(SIGNED, apple_root=True)
    assert report.ok, report.failures


def test_verify_unsigned_corpus_fails():
    report = verify_path(UNSIGNED)
    assert not report.ok
    assert "not signed" in report.failures[0]


def test_flipped_code_byte_fails_naming_the_page(tmp_path):
    app = writable_copy(SIGNED, tmp_path / "app")
    exe = app / EXE
    data = bytearray(exe.read_bytes())
    data[5 * 4096 + 123] ^= 0x01
    exe.write_bytes(data)
    failures = verify_path(app).failures
    assert failures == [f"{EXE} (x86_64): CodeDirectory: code page 5 (offset 0x5000) hash mismatch"]


def test_changed_info_plist_fails_naming_slot_minus_1(tmp_path):
    app = writable_copy(SIGNED, tmp_path / "app")
    info = app / "Contents/Info.plist"
    info.write_bytes(info.read_bytes().replace(b"</dict>", b"<key>X</key><true/></dict>"))
    failures = verify_path(app).failures
    assert failures == [f"{EXE} (x86_64): CodeDirectory: special slot -1 (Info.plist) hash mismatch"]


def test_changed_code_resources_fails_naming_slot_minus_3(tmp_path):
    app = writable_copy(SIGNED, tmp_path / "app")
    res = app / "Contents/_CodeSignature/CodeResources"
    res.write_bytes(res.read_bytes().replace(b"<real>1000</real>", b"<real>999</real>", 1))
    failures = verify_path(app).failures
    assert failures == [f"{EXE} (x86_64): CodeDirectory: special slot -3 (CodeResources) "
                        "hash mismatch"]


def test_added_resource_is_reported(tmp_path):
    app = writable_copy(SIGNED, tmp_path / "app")
    (app / "Contents/Resources").mkdir()
    (app / "Contents/Resources/extra.txt").write_bytes(b"x")
    failures = verify_path(app).failures
    assert failures == [f"{EXE}: CodeResources: Resources/extra.txt: added (not sealed by "
                        "CodeResources)"]


def test_apply_to_other_build_is_refused_naming_file_arch_page(tmp_path):
    detach(SIGNED, tmp_path / "sigs.tar")
    other = writable_copy(UNSIGNED, tmp_path / "other")
    exe = other / EXE
    data = bytearray(exe.read_bytes())
    data[2 * 4096 + 7] ^= 0xFF
    exe.write_bytes(data)
    with pytest.raises(VerificationError) as info:
        apply(other, tmp_path / "sigs.tar", tmp_path / "out.app")
    assert f"{EXE} (x86_64): CodeDirectory: code page 2 (offset 0x2000) hash mismatch" \
        in str(info.value)
    assert not (tmp_path / "out.app").exists()
    assert not (tmp_path / "out.app.partial").exists()


def test_superblob_and_codedirectory_round_trip_corpus_bytes():
    sl = read_macho(SIGNED / EXE).slices[0]
    sig = sl.signature_bytes()
    sb = blobs.SuperBlob.parse(sig)
    assert sb.pack(pad_to=len(sig)) == sig
    cd = blobs.CodeDirectory.parse(sb.get(0))
    assert cd.pack() == sb.get(0)
    assert [s for s, _ in sb.entries] == [0, 2, 5, 0x10000]


def test_code_resources_generation_matches_codesign_output():
    generated = build_code_resources(UNSIGNED / "Contents", "MacOS/signapple-test")
    assert generated == (SIGNED / "Contents/_CodeSignature/CodeResources").read_bytes()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[2])


def test_cli_detach_apply_verify(tmp_path):
    r = run_cli("sig", "detach", str(SIGNED), "-o", str(tmp_path / "s.tar"))
    assert r.returncode == 0, r.stderr
    r = run_cli("sig", "apply", str(UNSIGNED), str(tmp_path / "s.tar"), "-o", str(tmp_path / "o.app"))
    assert r.returncode == 0, r.stderr
    assert tree(tmp_path / "o.app") == tree(SIGNED)
    r = run_cli("sig", "verify", "--json", str(tmp_path / "o.app"))
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] and report["files"][0]["slices"][0]["cdhash"] == \
        "61d22082c479414b076e4a4fd98160bb90753db5"
    r = run_cli("sig", "verify", str(UNSIGNED))
    # A failed check: its problems on stderr, one "reprodmg: error:" line each
    # (as `dmg verify` and `sdk verify` report theirs), exit 1.
    assert r.returncode == 1 and r.stderr.startswith("reprodmg: error: ")
    assert "not signed" in r.stderr and "Traceback" not in r.stderr


def test_verify_anchor_accepts_der_and_pem_and_refuses_junk(tmp_path, capsys):
    import hashlib

    from asn1crypto import cms, pem

    from pipeline.cli import main
    from pipeline.codesign.cms import APPLE_ROOT_CA_SHA256
    sl = read_macho(SIGNED / "Contents/MacOS/signapple-test").slices[0]
    der = blobs.blob_payload(blobs.SuperBlob.parse(sl.signature_bytes()).get(blobs.CSSLOT_SIGNATURESLOT))
    certs = [c.chosen.dump() for c in cms.ContentInfo.load(der)["content"]["certificates"]]
    # Apple's published fingerprint picks the root out of the CMS.
    root = next(c for c in certs if hashlib.sha256(c).hexdigest() == APPLE_ROOT_CA_SHA256)
    (tmp_path / "root.cer").write_bytes(root)
    (tmp_path / "root.pem").write_bytes(pem.armor("CERTIFICATE", root))
    (tmp_path / "junk.cer").write_bytes(b"not a certificate")
    for anchor in ("root.cer", "root.pem"):
        assert main(["sig", "verify", str(SIGNED), "--anchor", str(tmp_path / anchor)]) == 0
    capsys.readouterr()
    assert main(["sig", "verify", str(SIGNED), "--anchor", str(tmp_path / "junk.cer")]) == 2
    err = capsys.readouterr().err
    assert "junk.cer: not a DER or PEM certificate" in err and "Traceback" not in err


def test_verifying_a_bundles_main_executable_by_path_uses_its_bundle(capsys):
    # codesign finds the bundle a main executable belongs to (its Info.plist
    # is sealed in special slot -1); so must `sig verify`, and say so.
    exe = SIGNED / EXE
    report = verify_path(exe)
    assert report.ok, report.failures
    assert report.files[0].bundle == str(SIGNED)
    assert main(["sig", "verify", "--json", str(exe)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"][0]["bundle"] == str(SIGNED)
    assert main(["sig", "verify", str(exe)]) == 0
    assert f"bundle {SIGNED}" in capsys.readouterr().out
