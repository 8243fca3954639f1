"""The signed path (issue 5, sections 3 and 4 "full loop").

build the example -> unsigned tarball -> the signer extracts it, runs
``sig sign`` with a self-signed certificate made here, and ``sig detach`` ->
two fresh builders pin the signature tarball in the release configuration
and run doit -> identical signed DMGs, and ``sig verify`` passes on the app
read back out of the DMG (``dmg extract``: our UDIF and HFS+ readers).
7-Zip lists the signed volume independently.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import require_tool
from pipeline import tarball
from pipeline.cli import main as cli_main
from pipeline.jsonfile import sha256_file
from signing_identity import make_identity
from helpers import run_doit
from test_build import APP_TAR, DMG, OUT, PATHS, VERSION, _ok, copy_project

SIGNED_DMG = PATHS.signed_dmg
PASSWORD = "test signer password"


def _identity(root: Path) -> Path:
    p12, _ = make_identity(root, PASSWORD.encode(), common_name="Developer ID Application: Test",
                           team="TEAMID0000", serial=77)
    return p12


@pytest.fixture(scope="module")
def signed_release(tmp_path_factory, cache):
    """(signature tarball, builder A, builder B) after the whole loop."""
    work = tmp_path_factory.mktemp("signed")
    unsigned = copy_project(work / "release-engineer")
    _ok(run_doit(unsigned, cache=cache))

    # The signer's side: only the unsigned tarball travels.
    signer = work / "signer"
    tarball.safe_extract(unsigned / APP_TAR, signer)
    mp = pytest.MonkeyPatch()
    mp.setenv("REPRODMG_P12_PASSWORD", PASSWORD)
    try:
        assert cli_main(["sig", "sign", str(signer / "Hello.app"),
                         "--p12", str(_identity(work))]) == 0
    finally:
        mp.undo()
    signatures = work / "signatures.tar"
    assert cli_main(["sig", "detach", str(signer / "Hello.app"), "-o", str(signatures)]) == 0

    builders = []
    for name, umask, tz, lang in (("builder-a", 0o022, "UTC", "C.UTF-8"),
                                  ("other/builder-b", 0o077, "America/St_Johns", "fr_FR.UTF-8")):
        project = copy_project(work / name)
        hello = project / "examples" / "hello"
        shutil.copyfile(signatures, hello / "signatures.tar")
        with open(hello / "release.toml", "a") as fh:
            fh.write(f'\n[signature]\npath = "signatures.tar"\nsha256 = "{sha256_file(signatures)}"\n')
        _ok(run_doit(project, cache=cache, umask=umask, tz=tz, lang=lang))
        builders.append(project)
    return signatures, builders[0], builders[1], unsigned


def test_signed_dmgs_from_two_builders_are_identical(signed_release):
    _sig, a, b, _u = signed_release
    assert sha256_file(a / SIGNED_DMG) == sha256_file(b / SIGNED_DMG)
    assert sha256_file(a / OUT / "SHA256SUMS") == sha256_file(b / OUT / "SHA256SUMS")
    sums = (a / OUT / "SHA256SUMS").read_text()
    assert f"  Hello-{VERSION}-signed.dmg\n" in sums
    check = subprocess.run([require_tool("sha256sum"), "-c", "SHA256SUMS"], cwd=a / OUT,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    manifest = json.loads((a / OUT / "build-manifest.json").read_text())
    assert manifest["signature"]["path"] == "signatures.tar"


def test_pinning_the_signature_leaves_the_unsigned_tarball_unchanged(signed_release):
    # What the signer signed is what every builder rebuilds: the [signature]
    # table is left out of the tarball's release.toml and of its manifest.
    _sig, a, b, unsigned = signed_release
    assert sha256_file(a / APP_TAR) == sha256_file(unsigned / APP_TAR)
    assert sha256_file(b / APP_TAR) == sha256_file(unsigned / APP_TAR)
    assert sha256_file(a / DMG) == sha256_file(unsigned / DMG)


def test_app_read_back_from_the_signed_dmg_verifies(signed_release, tmp_path, capsys):
    _sig, a, _b, _u = signed_release
    dest = tmp_path / "volume"
    assert cli_main(["dmg", "extract", str(a / SIGNED_DMG), str(dest)]) == 0
    app = dest / "Hello.app"
    assert (dest / "Applications").is_symlink()
    capsys.readouterr()
    assert cli_main(["sig", "verify", str(app), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    kinds = {s["arch"]: s["kind"] for f in report["files"] for s in f["slices"]}
    assert set(kinds) == {"arm64", "x86_64"}
    assert (app / "Contents" / "_CodeSignature" / "CodeResources").is_file()
    # The unsigned DMG is still built and differs (no signature inside).
    assert sha256_file(a / DMG) != sha256_file(a / SIGNED_DMG)


def test_seven_zip_lists_the_signed_volume(signed_release):
    _sig, a, _b, _u = signed_release
    out = subprocess.run([require_tool("7z"), "l", "-slt", str(a / SIGNED_DMG)],
                         capture_output=True, text=True, check=True).stdout
    paths = [line[len("Path = "):] for line in out.splitlines() if line.startswith("Path = ")]
    assert any(p.endswith("Hello.app/Contents/_CodeSignature/CodeResources") for p in paths)


def test_signature_tarball_with_wrong_hash_is_refused(signed_release, tmp_path, cache):
    signatures, _a, _b, _u = signed_release
    project = copy_project(tmp_path / "proj")
    hello = project / "examples" / "hello"
    shutil.copyfile(signatures, hello / "signatures.tar")
    with open(hello / "release.toml", "a") as fh:
        fh.write(f'\n[signature]\npath = "signatures.tar"\nsha256 = "{"0" * 64}"\n')
    proc = run_doit(project, cache=cache)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert f"expected sha256 {'0' * 64}" in output
    assert f"actual sha256 {sha256_file(signatures)}" in output
    assert not (project / SIGNED_DMG).exists()
    assert "Traceback" not in output


def test_the_dmg_signature_round_trip_ends_with_the_same_file_everywhere(signed_release,
                                                                         tmp_path, cache):
    """Issue 14 §3: the signer signs (and staples) the signed DMG the
    builders made, detaches its signature; both builders pin it under
    [signature] dmg and end with the signer's exact file."""
    from pipeline.codesign import diskimage
    _sig, a, b, _u = signed_release
    signer_dmg = tmp_path / "signer" / SIGNED_DMG.name
    signer_dmg.parent.mkdir()
    shutil.copyfile(a / SIGNED_DMG, signer_dmg)
    mp = pytest.MonkeyPatch()
    mp.setenv("REPRODMG_P12_PASSWORD", PASSWORD)
    try:
        assert cli_main(["dmg", "sig", "sign", str(signer_dmg), "--p12",
                         str(_identity(tmp_path))]) == 0
    finally:
        mp.undo()
    cdhash = diskimage.verify_image_signature(signer_dmg).cdhash
    ticket = tmp_path / "ticket"
    ticket.write_bytes(b"s8ch" + bytes(28) + bytes.fromhex(cdhash) + b"made in the test")
    assert cli_main(["dmg", "sig", "staple", str(signer_dmg), str(ticket)]) == 0
    dmg_sig = tmp_path / "dmg-signature.tar"
    assert cli_main(["dmg", "sig", "detach", str(signer_dmg), "-o", str(dmg_sig)]) == 0

    for project, umask in ((a, 0o022), (b, 0o077)):
        hello = project / "examples" / "hello"
        shutil.copyfile(dmg_sig, hello / "dmg-signature.tar")
        with open(hello / "release.toml", "a") as fh:
            fh.write(f'\n[signature.dmg]\npath = "dmg-signature.tar"\n'
                     f'sha256 = "{sha256_file(dmg_sig)}"\n')
        _ok(run_doit(project, cache=cache, umask=umask))
        assert sha256_file(project / SIGNED_DMG) == sha256_file(signer_dmg)
        report = diskimage.verify_image_signature(project / SIGNED_DMG)
        assert report.ok and report.ticket == "stapled (lists this cdhash)"
        check = subprocess.run([require_tool("sha256sum"), "-c", "SHA256SUMS"], cwd=project / OUT,
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    # The unsigned tarball (what the signer signed first) did not move.
    assert sha256_file(a / APP_TAR) == sha256_file(b / APP_TAR)
