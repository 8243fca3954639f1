"""A real framework nobody here made (Sparkle 1.25.0, tests/data): its
signature verifies, its CodeResources is rebuilt byte for byte from its
files by our seal writer, tampering is named, and an app carrying it is
signed inside out and round-trips through detach/apply.
"""

from __future__ import annotations

import plistlib
import shutil
from pathlib import Path

import pytest

from macho_builder import Builder
from pipeline.codesign import blobs
from pipeline.codesign.apply import apply
from pipeline.codesign.coderesources import build_code_resources, dumps, load
from pipeline.codesign.detach import detach
from pipeline.codesign.sign import sign_app
from pipeline.codesign.verify import verify_path
from pipeline.macho import read_macho

SPARKLE = Path(__file__).resolve().parents[1] / "data" / "sparkle-1.25.0" / "Sparkle.framework"
VERSION_A = SPARKLE / "Versions" / "A"


def test_the_real_framework_verifies():
    report = verify_path(SPARKLE)
    assert report.ok, report.failures
    assert [f.path for f in report.files] == ["Versions/A/Sparkle"]
    assert {s.identifier for s in report.files[0].slices} == {"org.sparkle-project.Sparkle"}
    assert {s.arch for s in report.files[0].slices} == {"x86_64", "arm64"}


def test_our_seal_of_its_files_is_apples_byte_for_byte():
    """Apple's codesign of that era also wrote each files2 entry's SHA-1
    ("hash"); ours writes SHA-256 only ("hash2"), as codesign does now.
    Without those SHA-1 values the two files are the same bytes: the same
    entries, rules, optional flags and XML layout."""
    apple = (VERSION_A / "_CodeSignature" / "CodeResources").read_bytes()
    plist = load(apple, "Sparkle CodeResources")
    ours = build_code_resources(VERSION_A, "Sparkle", None, plist["rules"], plist["rules2"])
    for entry in plist["files2"].values():
        assert set(entry) <= {"hash", "hash2", "optional"}
        entry.pop("hash", None)
    assert ours == dumps(plist)
    # The version-1 seal ("files", SHA-1) is Apple's exactly.
    assert load(ours, "ours")["files"] == load(apple, "apple")["files"]


def test_tampering_names_the_file(tmp_path):
    copy = tmp_path / "Sparkle.framework"
    shutil.copytree(SPARKLE, copy, symlinks=True)
    strings = copy / "Versions/A/Resources/de.lproj/Sparkle.strings"
    strings.write_bytes(strings.read_bytes() + b"\n")
    report = verify_path(copy)
    assert not report.ok
    assert any("CodeResources: Resources/de.lproj/Sparkle.strings: modified" in f
               for f in report.failures), report.failures


@pytest.fixture
def host_app(tmp_path) -> Path:
    """An app that ships Sparkle, as release engineers' apps do."""
    builder = Builder(tmp_path / "lld")
    app = tmp_path / "Host.app"
    (app / "Contents/MacOS").mkdir(parents=True)
    shutil.copy(builder.link("arm64", "host/Host"), app / "Contents/MacOS/Host")
    (app / "Contents/Info.plist").write_bytes(plistlib.dumps({
        "CFBundleExecutable": "Host", "CFBundleIdentifier": "org.example.host",
        "CFBundlePackageType": "APPL"}))
    (app / "Contents/Frameworks").mkdir()
    shutil.copytree(SPARKLE, app / "Contents/Frameworks/Sparkle.framework", symlinks=True)
    return app


def test_an_app_with_the_real_framework_signs_inside_out_and_round_trips(host_app, tmp_path):
    unsigned = tmp_path / "unsigned" / "Host.app"
    shutil.copytree(host_app, unsigned, symlinks=True)
    order = sign_app(host_app, None, None, epoch=1735689600)
    assert order[-1] == "Contents/MacOS/Host"
    assert order.index("Contents/Frameworks/Sparkle.framework/Versions/A/Sparkle") < len(order) - 1
    report = verify_path(host_app)
    assert report.ok, report.failures
    seal = plistlib.loads((host_app / "Contents/_CodeSignature/CodeResources").read_bytes())
    sparkle = read_macho(host_app / "Contents/Frameworks/Sparkle.framework/Versions/A/Sparkle")
    cdhash = blobs.CodeDirectory.parse(
        blobs.SuperBlob.parse(sparkle.slices[0].signature_bytes()).get(0)).cdhash()
    assert seal["files2"]["Frameworks/Sparkle.framework"] == {
        "cdhash": cdhash, "requirement": f'cdhash H"{cdhash.hex()}"'}
    detach(host_app, tmp_path / "sig.tar")
    out = tmp_path / "applied" / "Host.app"
    apply(unsigned, tmp_path / "sig.tar", out)
    for path in host_app.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert (out / path.relative_to(host_app)).read_bytes() == path.read_bytes(), path
