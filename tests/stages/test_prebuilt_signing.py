"""The full signer loop on a bundle with nested code (issue 11 §1 + §3):
a prebuilt app with a framework, a plug-in, a helper and a dylib is
imported and ad-hoc signed by the doit graph; the signer signs the unsigned
tarball's app with ``sig sign --config release.toml`` (per-item options and
entitlements travel in the tarball) and detaches; two fresh builders apply
the pinned signature to identical signed DMGs; the app read back out of the
DMG verifies, and tampering with one framework file names the framework
and the file.
"""

from __future__ import annotations

import json
import plistlib
import shutil
import tarfile
from pathlib import Path

import pytest

from helpers import run_doit
from macho_builder import Builder
from nested_app import make_nested_app
from pipeline import tarball
from pipeline.build import config
from pipeline.build.paths import BuildPaths
from pipeline.cli import main as cli_main
from pipeline.jsonfile import sha256_file
from signing_identity import make_identity

PASSWORD = "nested signer"
REPO = Path(__file__).resolve().parents[2]
HELPER_ENTITLEMENTS = {"com.apple.security.cs.disable-library-validation": True}

RELEASE = """\
[app]
name = "Multi"
bundle_id = "org.example.multi"
version = "2.0"
prebuilt = "dist/Multi.app"

[build]
source_date_epoch = 1735689600

[signing]
adhoc = true
hardened_runtime = true

[signing.items."Contents/Helpers/helper"]
identifier = "org.example.multi.helper"
entitlements = "helper.entitlements"

[dmg]
format = "UDZO"
"""


def _project(root: Path, app: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy2(REPO / "dodo.py", root / "dodo.py")
    shutil.copytree(app, root / "dist" / "Multi.app", symlinks=True)
    (root / "helper.entitlements").write_bytes(plistlib.dumps(HELPER_ENTITLEMENTS))
    (root / "release.toml").write_text(RELEASE)
    return root


def _build(project: Path, **kw) -> BuildPaths:
    proc = run_doit(project, "release=release.toml", cache=project / "cache", **kw)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return BuildPaths.for_release(project / "build", config.load(project / "release.toml"))


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    work = tmp_path_factory.mktemp("nested-loop")
    unsigned_app = make_nested_app(Builder(work / "lld"), work / "made")
    engineer = _project(work / "engineer", unsigned_app)
    paths = _build(engineer)
    # The signer has only the unsigned tarball.
    signer = work / "signer"
    tarball.safe_extract(paths.app_tar, signer)
    (work / "id").mkdir()
    p12, _ = make_identity(work / "id", PASSWORD.encode(), common_name="Developer ID Application: Nested",
                           team="NESTEDTEAM", serial=5)
    mp = pytest.MonkeyPatch()
    mp.setenv("REPRODMG_P12_PASSWORD", PASSWORD)
    try:
        assert cli_main(["sig", "sign", str(signer / "Multi.app"), "--p12", str(p12),
                         "--config", str(signer / "release.toml")]) == 0
    finally:
        mp.undo()
    signatures = work / "signatures.tar"
    assert cli_main(["sig", "detach", str(signer / "Multi.app"), "-o", str(signatures)]) == 0
    builders = []
    for name, umask, tz in (("builder-a", 0o022, "UTC"), ("x/builder-b", 0o077, "Asia/Kolkata")):
        project = _project(work / name, unsigned_app)
        shutil.copyfile(signatures, project / "signatures.tar")
        with open(project / "release.toml", "a") as fh:
            fh.write(f'\n[signature]\npath = "signatures.tar"\n'
                     f'sha256 = "{sha256_file(signatures)}"\n')
        builders.append(_build(project, umask=umask, tz=tz))
    return paths, builders


def test_unsigned_build_is_adhoc_signed_inside_out(loop, tmp_path, capsys):
    paths, _ = loop
    names = tarfile.open(paths.app_tar).getnames()
    assert "helper.entitlements" in names            # the signer needs it
    assert "Multi.app/Contents/Frameworks/Tiny.framework/Versions/A/_CodeSignature/CodeResources" in names
    assert cli_main(["dmg", "extract", str(paths.dmg), str(tmp_path / "v")]) == 0
    capsys.readouterr()
    assert cli_main(["sig", "verify", str(tmp_path / "v" / "Multi.app"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {s["kind"] for f in report["files"] for s in f["slices"]} == {"adhoc"}
    assert len(report["files"]) == 5


def test_two_builders_make_the_same_signed_dmg(loop):
    _paths, (a, b) = loop
    assert sha256_file(a.signed_dmg) == sha256_file(b.signed_dmg)
    assert a.sums.read_text() == b.sums.read_text()


def test_signed_app_read_back_from_the_dmg_verifies_with_item_options(loop, tmp_path, capsys):
    _paths, (a, _b) = loop
    assert cli_main(["dmg", "extract", str(a.signed_dmg), str(tmp_path / "v")]) == 0
    capsys.readouterr()
    assert cli_main(["sig", "verify", str(tmp_path / "v" / "Multi.app"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_path = {f["path"]: f["slices"][0] for f in report["files"]}
    assert {s["kind"] for s in by_path.values()} == {"cms"}
    assert by_path["Contents/Helpers/helper"]["identifier"] == "org.example.multi.helper"
    assert by_path["Contents/Frameworks/Tiny.framework/Versions/A/Tiny"]["identifier"] == \
        "org.example.tiny"
    assert all(int(s["flags"], 16) & 0x10000 for s in by_path.values())   # hardened runtime


def test_tampered_framework_file_is_named(loop, tmp_path, capsys):
    _paths, (a, _b) = loop
    assert cli_main(["dmg", "extract", str(a.signed_dmg), str(tmp_path / "v")]) == 0
    app = tmp_path / "v" / "Multi.app"
    data = app / "Contents/Frameworks/Tiny.framework/Versions/A/Resources/tiny.txt"
    data.write_bytes(b"tampered\n")
    capsys.readouterr()
    assert cli_main(["sig", "verify", str(app)]) == 1
    err = capsys.readouterr().err
    assert "Contents/Frameworks/Tiny.framework/Versions/A/Tiny" in err
    assert "CodeResources: Resources/tiny.txt: modified" in err
