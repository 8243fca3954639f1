"""Bring your own .app (issue 11 §1): a bundle built elsewhere goes through
the back half (import -> unsigned tarball -> image -> checksums) and a
build host's noise does not reach the DMG.

The bundle is the corpus's unsigned signapple app (built by Xcode on
macOS, nobody here made it).  Oracles: the DMG's bytes against its clean
copy's, 7-Zip's listing of the volume, GNU tar's listing of the unsigned
tarball.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers import CORPUS, require_tool
from helpers import REPO, run_doit
from pipeline.build import config
from pipeline.build.paths import BuildPaths
from pipeline.errors import InputError
from pipeline.jsonfile import sha256_file

CORPUS_APP = CORPUS / "signapple-x86" / "unsigned"
EPOCH = 1735689600

RELEASE = """\
[app]
name = "Signapple"
bundle_id = "com.achow101.signapple-test"
version = "1.0"
prebuilt = "{prebuilt}"
{extra}
[build]
source_date_epoch = {epoch}

[dmg]
volume_name = "Signapple"
format = "ULFO"
"""


def clean_copy(dest: Path) -> Path:
    shutil.copytree(CORPUS_APP, dest, symlinks=True)
    return dest


def noisy_copy(dest: Path, seed: int) -> Path:
    """The same bundle as a build host leaves it: Finder and archive-tool
    droppings, random times and modes, another owner, extended attributes."""
    rng = random.Random(seed)
    clean_copy(dest)
    (dest / ".DS_Store").write_bytes(b"\0\0\0\1Bud1" + bytes(rng.randrange(256) for _ in range(64)))
    (dest / "Contents" / ".DS_Store").write_bytes(b"junk")
    (dest / "Contents" / "._Info.plist").write_bytes(b"\0\5\26\7AppleDouble")
    (dest / "__MACOSX" / "Contents").mkdir(parents=True)
    (dest / "__MACOSX" / "Contents" / "._PkgInfo").write_bytes(b"\0\5\26\7")
    for path in sorted(dest.rglob("*")):
        if path.is_file():
            os.chmod(path, rng.choice([0o600, 0o664, 0o666]) | (os.stat(path).st_mode & 0o100))
        elif path.is_dir():
            os.chmod(path, rng.choice([0o700, 0o775, 0o777]))
        try:
            os.setxattr(path, "user.com.apple.quarantine", b"0083;5f000000;Safari;", follow_symlinks=False)
        except OSError:
            pass          # a file system without user xattrs: the rest still differs
        if os.geteuid() == 0:
            os.chown(path, 501, 20, follow_symlinks=False)
        when = rng.randrange(0, 2**31)
        os.utime(path, (when, when), follow_symlinks=False)
    return dest


def write_release(folder: Path, prebuilt: str, *, extra: str = "", epoch: int = EPOCH) -> Path:
    path = folder / "release.toml"
    path.write_text(RELEASE.format(prebuilt=prebuilt, extra=extra, epoch=epoch))
    return path


def package(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "true"}
    env.pop("SOURCE_DATE_EPOCH", None)
    return subprocess.run([sys.executable, "-m", "pipeline", "package", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> dict[str, Path]:
    """The clean and the noisy bundle, each packaged by `reprodmg package`."""
    root = tmp_path_factory.mktemp("package")
    clean_copy(root / "clean" / "Signapple.app")
    noisy_copy(root / "noisy" / "signapple-test.app", seed=7)
    write_release(root, "clean/Signapple.app")
    out = {}
    for name, app in (("clean", "clean/Signapple.app"), ("noisy", "noisy/signapple-test.app")):
        proc = package(app, "--config", "release.toml", "-o", f"{name}.dmg", "--json", cwd=root)
        assert proc.returncode == 0, proc.stderr
        out[name] = root / f"{name}.dmg"
        out[f"{name}.json"] = json.loads(proc.stdout)
    out["root"] = root
    return out


def test_noisy_and_clean_bundles_give_the_same_dmg(packaged):
    assert sha256_file(packaged["clean"]) == sha256_file(packaged["noisy"])
    assert packaged["noisy.json"]["sha256"] == sha256_file(packaged["noisy"])


def test_the_import_reports_what_it_normalised(packaged):
    clean, noisy = packaged["clean.json"]["normalised"], packaged["noisy.json"]["normalised"]
    assert clean["removed"] == []
    assert noisy["removed"] == [".DS_Store", "Contents/.DS_Store", "Contents/._Info.plist",
                                "__MACOSX/"]
    assert noisy["times"] > 0 and noisy["modes"] > 0
    if os.listxattr(packaged["root"] / "noisy" / "signapple-test.app"):
        assert noisy["xattrs"] > 0


def test_volume_holds_the_bundle_without_noise(packaged, tmp_path):
    listing = subprocess.run([require_tool("7z"), "l", "-slt", str(packaged["noisy"])],
                             capture_output=True, text=True, check=True).stdout
    paths = sorted(line.split(" = ", 1)[1] for line in listing.splitlines()
                   if line.startswith("Path = ") and "/" in line)
    app = [p.split("/", 1)[1] for p in paths if p.split("/", 1)[1].startswith("Signapple.app")]
    assert app == ["Signapple.app", "Signapple.app/Contents", "Signapple.app/Contents/Info.plist",
                   "Signapple.app/Contents/MacOS",
                   "Signapple.app/Contents/MacOS/signapple-test", "Signapple.app/Contents/PkgInfo"]


def _doit_build(project: Path, prebuilt_rel: str, extra: str = "") -> subprocess.CompletedProcess:
    """The doit graph of a prebuilt release, run from a copy of the project."""
    shutil.copy2(REPO / "dodo.py", project / "dodo.py")
    write_release(project, prebuilt_rel, extra=extra)
    return run_doit(project, "release=release.toml", cache=project / "cache")


def test_doit_graph_with_a_prebuilt_folder(packaged, tmp_path):
    project = tmp_path / "proj"
    noisy_copy(project / "dist" / "signapple-test.app", seed=11)
    proc = _doit_build(project, "dist/signapple-test.app")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = proc.stdout
    assert "import_app" in ran and "compile" not in ran and "sdk" not in ran
    paths = BuildPaths.for_release(project / "build", config.load(project / "release.toml"))
    # The graph's image stage and `reprodmg package` are the same function.
    assert sha256_file(paths.dmg) == sha256_file(packaged["clean"])
    subprocess.run([require_tool("sha256sum"), "-c", "SHA256SUMS"], cwd=paths.out, check=True,
                   capture_output=True)
    manifest = json.loads(paths.app_manifest.read_text())
    assert manifest["prebuilt"]["source"] == "dist/signapple-test.app"
    assert "toolchain" not in manifest and "sdk" not in manifest
    assert ".DS_Store" in manifest["prebuilt"]["normalised"]["removed"]
    names = tarfile.open(paths.app_tar).getnames()
    assert "Signapple.app/Contents/MacOS/signapple-test" in names
    assert not any(".DS_Store" in n or "__MACOSX" in n for n in names)
    # Nothing changed: nothing runs.
    again = run_doit(project, "release=release.toml", cache=project / "cache")
    assert again.returncode == 0 and not [l for l in again.stdout.splitlines() if l.startswith(".")]
    # A changed byte in the prebuilt bundle rebuilds.
    exe = project / "dist" / "signapple-test.app" / "Contents" / "MacOS" / "signapple-test"
    data = bytearray(exe.read_bytes())
    data[-1] ^= 1
    exe.write_bytes(bytes(data))
    third = run_doit(project, "release=release.toml", cache=project / "cache")
    assert third.returncode == 0 and ".  import_app" in third.stdout
    assert sha256_file(paths.dmg) != sha256_file(packaged["clean"])


def _tarball(path: Path, app: Path, arcname: str) -> str:
    with tarfile.open(path, "w:gz") as tar:
        tar.add(app, arcname=arcname)
    return sha256_file(path)


def test_doit_graph_with_a_pinned_tarball(packaged, tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    sha = _tarball(project / "Signapple.tar.gz", noisy_copy(tmp_path / "x" / "S.app", seed=3),
                   "Signapple.app")
    proc = _doit_build(project, "Signapple.tar.gz", extra=f'prebuilt_sha256 = "{sha}"')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    paths = BuildPaths.for_release(project / "build", config.load(project / "release.toml"))
    assert sha256_file(paths.dmg) == sha256_file(packaged["clean"])
    manifest = json.loads(paths.app_manifest.read_text())
    assert manifest["prebuilt"]["sha256"] == sha
    assert manifest["inputs"]["Signapple.tar.gz"] == sha


def test_tarball_with_another_hash_is_refused_before_extraction(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    _tarball(project / "Signapple.tar.gz", clean_copy(tmp_path / "S.app"), "Signapple.app")
    proc = _doit_build(project, "Signapple.tar.gz", extra=f'prebuilt_sha256 = "{"0" * 64}"')
    assert proc.returncode != 0
    assert ("Signapple.tar.gz: prebuilt tarball refused before extraction: expected sha256 "
            + "0" * 64) in proc.stdout + proc.stderr
    assert not (project / "build" / "signapple" / "Signapple.app").exists()


def test_bundle_that_is_not_the_configured_app_is_refused(tmp_path):
    clean_copy(tmp_path / "Other.app")
    write_release(tmp_path, "Other.app")
    cfg = (tmp_path / "release.toml").read_text().replace("com.achow101.signapple-test",
                                                          "org.example.other")
    (tmp_path / "release.toml").write_text(cfg)
    proc = package("--config", "release.toml", "-o", "x.dmg", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert ("Other.app/Contents/Info.plist: CFBundleIdentifier is "
            "'com.achow101.signapple-test' but release.toml says app.bundle_id = "
            "'org.example.other'") in proc.stderr
    assert not (tmp_path / "x.dmg").exists()


def test_link_leaving_the_bundle_is_refused(tmp_path):
    app = clean_copy(tmp_path / "Signapple.app")
    os.symlink("../../../../etc/passwd", app / "Contents" / "Resources-link")
    write_release(tmp_path, "Signapple.app")
    proc = package("--config", "release.toml", "-o", "x.dmg", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Resources-link: symbolic link to '../../../../etc/passwd' leaves the bundle" in proc.stderr
    assert not (tmp_path / "x.dmg").exists()


def test_links_inside_the_bundle_are_kept(tmp_path):
    """A framework's Versions/Current link survives the import, the unsigned
    tarball and the volume (7-Zip lists it as a link)."""
    app = clean_copy(tmp_path / "Signapple.app")
    fw = app / "Contents" / "Frameworks" / "Tiny.framework"
    (fw / "Versions" / "A").mkdir(parents=True)
    (fw / "Versions" / "A" / "Tiny").write_bytes(b"\xcf\xfa\xed\xfe")
    os.symlink("A", fw / "Versions" / "Current")
    os.symlink("Versions/Current/Tiny", fw / "Tiny")
    write_release(tmp_path, "Signapple.app")
    proc = package("--config", "release.toml", "-o", "x.dmg", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    subprocess.run([require_tool("7z"), "x", f"-o{tmp_path / 'x'}", str(tmp_path / "x.dmg")],
                   capture_output=True, check=True)
    got = tmp_path / "x" / "Signapple" / "Signapple.app" / "Contents" / "Frameworks" / "Tiny.framework"
    assert os.readlink(got / "Tiny") == "Versions/Current/Tiny"
    assert os.readlink(got / "Versions" / "Current") == "A"
    assert (got / "Versions" / "A" / "Tiny").read_bytes() == b"\xcf\xfa\xed\xfe"


@pytest.mark.parametrize("extra_build, message", [
    ('sources = ["main.c"]', "build.sources: not used with app.prebuilt"),
    ('targets = ["arm64"]', "build.targets: not used with app.prebuilt"),
])
def test_compile_keys_are_refused_with_prebuilt(tmp_path, extra_build, message):
    clean_copy(tmp_path / "Signapple.app")
    path = write_release(tmp_path, "Signapple.app")
    path.write_text(path.read_text().replace("[build]\n", f"[build]\n{extra_build}\n"))
    with pytest.raises(InputError, match=message):
        config.load(path)


def test_prebuilt_tarball_needs_its_pin(tmp_path):
    _tarball(tmp_path / "S.tar.gz", clean_copy(tmp_path / "S.app"), "Signapple.app")
    with pytest.raises(InputError, match=r"app\.prebuilt_sha256: missing \(required for a "
                                         r"prebuilt tarball\)"):
        config.load(write_release(tmp_path, "S.tar.gz"))
    with pytest.raises(InputError, match=r"app\.prebuilt: 'S': a folder must be an application"):
        (tmp_path / "S").mkdir()
        config.load(write_release(tmp_path, "S"))


def test_corrupt_compressed_tarball_is_a_clear_error(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    good = project / "good.tar.gz"
    _tarball(good, clean_copy(tmp_path / "S.app"), "Signapple.app")
    bad = project / "Signapple.tar.gz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    proc = _doit_build(project, "Signapple.tar.gz",
                       extra=f'prebuilt_sha256 = "{sha256_file(bad)}"')
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    assert "Signapple.tar.gz: compressed stream" in proc.stdout


def test_package_needs_only_app_and_dmg(packaged, tmp_path):
    """`reprodmg package` with a configuration of [app] and [dmg] alone (no
    build, no prebuilt): the same DMG as through a prebuilt configuration."""
    clean_copy(tmp_path / "In.app")
    (tmp_path / "release.toml").write_text(
        '[app]\nname = "Signapple"\nbundle_id = "com.achow101.signapple-test"\n'
        'version = "1.0"\n\n[build]\nsource_date_epoch = 1735689600\n\n'
        '[dmg]\nvolume_name = "Signapple"\nformat = "ULFO"\n')
    proc = package("In.app", "--config", "release.toml", "-o", "out.dmg", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sha256_file(tmp_path / "out.dmg") == sha256_file(packaged["clean"])
    # The doit graph still needs sources (or app.prebuilt) and says so.
    with pytest.raises(InputError, match=r"build\.sources: missing"):
        config.load(tmp_path / "release.toml")
