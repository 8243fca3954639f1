"""The multi-product example (issue 11 §2 acceptance): examples/multi builds
an app with a framework, a C++ helper and a plug-in, resources and extra
Info.plist keys, ad-hoc signed inside out; twice under different conditions
to the same bytes; then the full signer loop.

Oracles: llvm-otool (-L install names, -l run paths, -h file types), 7-Zip's
listing of the DMG, openssl-free signature checks through ``sig verify`` on
the app read back out of the DMG, sha256sum -c.
"""

from __future__ import annotations

import json
import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import CACHE, REPO, require_tool, run_doit
from pipeline import tarball
from pipeline.build import config
from pipeline.build.paths import BuildPaths
from pipeline.cli import main as cli_main
from pipeline.jsonfile import sha256_file
from signing_identity import make_identity

RELEASE = "examples/multi/release.toml"
CFG = config.load(REPO / RELEASE)
PATHS = BuildPaths.for_release(Path("build"), CFG)
APP = PATHS.app
FRAMEWORK_BINARY = "Contents/Frameworks/Greeting.framework/Versions/A/Greeting"
HELPER = "Contents/Helpers/multi-helper"
PLUGIN = "Contents/PlugIns/Extra.bundle/Contents/MacOS/Extra"
MAIN = "Contents/MacOS/Multi"
PASSWORD = "multi signer"


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copy2(REPO / "dodo.py", dest / "dodo.py")
    shutil.copytree(REPO / "examples" / "multi", dest / "examples" / "multi")
    shutil.copytree(REPO / "sdk", dest / "sdk")
    return dest


def build(project: Path, **kw) -> Path:
    proc = run_doit(project, f"release={RELEASE}", cache=CACHE, **kw)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return project


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, cache):
    a = build(copy_project(tmp_path_factory.mktemp("multi-a") / "p"))
    b = build(copy_project(tmp_path_factory.mktemp("multi-b") / "deep" / "er" / "p"),
              umask=0o077, tz="Pacific/Chatham", lang="de_DE.UTF-8")
    return a, b


def test_builds_are_bit_identical(two_builds):
    a, b = two_builds
    for rel in (PATHS.dmg, PATHS.app_tar, PATHS.sums, PATHS.release_manifest,
                APP / FRAMEWORK_BINARY, APP / HELPER, APP / PLUGIN, APP / MAIN):
        assert sha256_file(a / rel) == sha256_file(b / rel), rel
    check = subprocess.run([require_tool("sha256sum"), "-c", "SHA256SUMS"], cwd=a / PATHS.out,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def _otool(*args: str) -> str:
    return subprocess.run([require_tool("llvm-otool-19"), *args], capture_output=True,
                          text=True, check=True).stdout


def test_install_names_and_run_paths(two_builds):
    a, _ = two_builds
    app = a / APP
    install = "@rpath/Greeting.framework/Versions/A/Greeting"
    expected_rpath = {MAIN: "@executable_path/../Frameworks",
                      HELPER: "@executable_path/../Frameworks",
                      PLUGIN: "@loader_path/../../../../Frameworks"}
    for arch in ("arm64", "x86_64"):
        framework = _otool("-D", "-arch", arch, str(app / FRAMEWORK_BINARY)).splitlines()
        assert framework[-1].strip() == install
        for rel, rpath in expected_rpath.items():
            assert install in _otool("-L", "-arch", arch, str(app / rel)), rel
            commands = _otool("-l", "-arch", arch, str(app / rel))
            assert f"path {rpath} (offset" in commands, rel
        # The C++ helper links the SDK's libc++; the C code does not.
        assert "/usr/lib/libc++.1.dylib" in _otool("-L", "-arch", arch, str(app / HELPER))
        assert "libc++" not in _otool("-L", "-arch", arch, str(app / MAIN))
        assert "LC_RPATH" not in _otool("-l", "-arch", arch, str(app / FRAMEWORK_BINARY))
        # Mach-O file types: 6 dylib, 8 bundle, 2 executable.
        for rel, filetype in ((FRAMEWORK_BINARY, 6), (PLUGIN, 8), (HELPER, 2), (MAIN, 2)):
            header = _otool("-h", "-arch", arch, str(app / rel)).splitlines()[-1].split()
            assert int(header[4]) == filetype, (rel, header)


def test_bundle_layout_resources_and_info_keys(two_builds):
    a, _ = two_builds
    app = a / APP
    fw = app / "Contents/Frameworks/Greeting.framework"
    assert (fw / "Versions" / "Current").readlink() == Path("A")
    assert (fw / "Greeting").readlink() == Path("Versions/Current/Greeting")
    assert (fw / "Resources").readlink() == Path("Versions/Current/Resources")
    fw_info = plistlib.loads((fw / "Versions/A/Resources/Info.plist").read_bytes())
    assert fw_info["CFBundlePackageType"] == "FMWK"
    assert fw_info["CFBundleIdentifier"] == "org.reprodmg.example.multi.Greeting"
    plug_info = plistlib.loads((app / "Contents/PlugIns/Extra.bundle/Contents/Info.plist").read_bytes())
    assert plug_info["CFBundlePackageType"] == "BNDL"
    info = plistlib.loads((app / "Contents/Info.plist").read_bytes())
    assert info["LSApplicationCategoryType"] == "public.app-category.developer-tools"
    assert info["CFBundleVersion"] == "3"
    assert (app / "Contents/Resources/message.txt").read_bytes() == \
        (REPO / "examples/multi/resources/message.txt").read_bytes()
    assert (app / "Contents/Resources/en.lproj/InfoPlist.strings").is_file()


def test_every_macho_is_adhoc_signed_and_the_volume_lists_it(two_builds, tmp_path, capsys):
    a, _ = two_builds
    assert cli_main(["dmg", "extract", str(a / PATHS.dmg), str(tmp_path / "v")]) == 0
    capsys.readouterr()
    assert cli_main(["sig", "verify", str(tmp_path / "v" / "Multi.app"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(f["path"] for f in report["files"]) == sorted(
        [FRAMEWORK_BINARY, HELPER, PLUGIN, MAIN])
    assert {s["kind"] for f in report["files"] for s in f["slices"]} == {"adhoc"}
    ids = {f["path"]: f["slices"][0]["identifier"] for f in report["files"]}
    assert ids[HELPER] == "org.reprodmg.example.multi.helper"     # [signing.items]
    listing = subprocess.run([require_tool("7z"), "l", "-slt", str(a / PATHS.dmg)],
                             capture_output=True, text=True, check=True).stdout
    assert "Path = Multi/Multi.app/Contents/Frameworks/Greeting.framework/Greeting" in listing


@pytest.fixture(scope="module")
def signed_loop(two_builds, tmp_path_factory):
    """The signer signs the unsigned tarball's app; two builders apply it."""
    a, _ = two_builds
    work = tmp_path_factory.mktemp("multi-signer")
    tarball.safe_extract(a / PATHS.app_tar, work / "signer")
    (work / "id").mkdir()
    p12, _pem = make_identity(work / "id", PASSWORD.encode(),
                              common_name="Developer ID Application: Multi", team="MULTITEAM1",
                              serial=11)
    mp = pytest.MonkeyPatch()
    mp.setenv("REPRODMG_P12_PASSWORD", PASSWORD)
    try:
        assert cli_main(["sig", "sign", str(work / "signer" / "Multi.app"), "--p12", str(p12),
                         "--config", str(work / "signer" / "release.toml"),
                         "--hardened-runtime"]) == 0
    finally:
        mp.undo()
    sig = work / "signatures.tar"
    assert cli_main(["sig", "detach", str(work / "signer" / "Multi.app"), "-o", str(sig)]) == 0
    builders = []
    for name, umask in (("one", 0o022), ("two/deeper", 0o077)):
        project = copy_project(work / name)
        shutil.copyfile(sig, project / "examples/multi/signatures.tar")
        with open(project / RELEASE, "a") as fh:
            fh.write(f'\n[signature]\npath = "signatures.tar"\nsha256 = "{sha256_file(sig)}"\n')
        builders.append(build(project, umask=umask))
    return builders


def test_signed_loop_gives_identical_signed_dmgs(signed_loop):
    one, two = signed_loop
    assert sha256_file(one / PATHS.signed_dmg) == sha256_file(two / PATHS.signed_dmg)


def test_signed_app_verifies_and_tampering_names_the_framework(signed_loop, tmp_path, capsys):
    one, _ = signed_loop
    assert cli_main(["dmg", "extract", str(one / PATHS.signed_dmg), str(tmp_path / "v")]) == 0
    app = tmp_path / "v" / "Multi.app"
    capsys.readouterr()
    assert cli_main(["sig", "verify", str(app), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {s["kind"] for f in report["files"] for s in f["slices"]} == {"cms"}
    (app / "Contents/Frameworks/Greeting.framework/Versions/A/Resources/Info.plist").write_bytes(
        plistlib.dumps({"CFBundleExecutable": "Greeting", "CFBundleIdentifier": "evil"}))
    capsys.readouterr()
    assert cli_main(["sig", "verify", str(app)]) == 1
    err = capsys.readouterr().err
    assert FRAMEWORK_BINARY in err and "Info.plist" in err
