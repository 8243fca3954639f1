"""The doit build, end to end (issue 4 acceptance).

Each build copies the project's build inputs (dodo.py, examples/hello, sdk/)
into its own folder and runs ``doit -f dodo.py`` there, as the README's main
command does.  Downloads and the demo SDK tarball come from one shared cache
(REPRODMG_CACHE), which is content-addressed and hash-checked, so sharing it
cannot make two builds agree by accident.

Oracles: sha256 of files built under different paths/umask/TZ/LANG,
``sha256sum -c``, GNU tar, llvm-lipo / llvm-objdump / llvm-otool, qemu-img
(expands the DMG independently of our UDIF reader) and 7-Zip (lists the HFS+
volume inside the DMG).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers import PIN, require_tool, run_doit
from pipeline.build import config, sdk
from pipeline.build.paths import BuildPaths
from pipeline.jsonfile import sha256_file

REPO = Path(__file__).resolve().parents[2]
VERSION = "1.0.0"
# Where the build puts the example's outputs, relative to a project copy:
# the same definition dodo.py uses.
PATHS = BuildPaths.for_release(Path("build"), config.load(REPO / "examples/hello/release.toml"))
OUT = PATHS.out
DMG = PATHS.dmg
APP_TAR = PATHS.app_tar
COMPARED = [
    PATHS.exe("arm64"), PATHS.exe("x86_64"), PATHS.universal,
    PATHS.lib("arm64", "greeting"), PATHS.obj("x86_64", "src/main.c"),
    *PATHS.app_files, PATHS.toolchain_json, PATHS.app_manifest, APP_TAR, DMG,
    PATHS.release_manifest, PATHS.sums,
]


def copy_project(dest: Path, *, with_pipeline: bool = False) -> Path:
    """The build inputs in a new folder; ``with_pipeline`` also copies the
    library sources there (``python -m doit`` then imports that copy first)."""
    dest.mkdir(parents=True)
    shutil.copy2(REPO / "dodo.py", dest / "dodo.py")
    for example in ("hello", "multi"):     # what dodo.py builds by default
        shutil.copytree(REPO / "examples" / example, dest / "examples" / example)
    shutil.copytree(REPO / "sdk", dest / "sdk")
    if with_pipeline:
        shutil.copytree(REPO / "pipeline", dest / "pipeline",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(REPO / "templates", dest / "templates")   # found beside the package
    return dest


HELLO_ONLY = "release=examples/hello/release.toml"


def executed(proc: subprocess.CompletedProcess) -> set[str]:
    """Task names doit ran (``.  name``); up-to-date ones print ``-- name``."""
    return {line[1:].strip() for line in proc.stdout.splitlines() if line.startswith(".")}


def out_of_date(project: Path, cache: Path, *args: str) -> set[str]:
    """The tasks doit would run now (``doit list --status``: R), without running them."""
    proc = _ok(run_doit(project, "list", "--all", "--status", *args, cache=cache))
    rows = [line.split()[:2] for line in proc.stdout.splitlines() if line[:2] in ("R ", "U ")]
    # Group tasks (compile, link...) have no action of their own.
    groups = {name.split(":")[0] for _, name in rows if ":" in name}
    return {name for status, name in rows if status == "R" and name not in groups}


def _ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, cache) -> tuple[Path, Path]:
    """The example built twice: other absolute path, umask, time zone and locale."""
    a = copy_project(tmp_path_factory.mktemp("a") / "proj")
    b = copy_project(tmp_path_factory.mktemp("second") / "a" / "deeper" / "checkout-b")
    _ok(run_doit(a, cache=cache, umask=0o022, tz="UTC", lang="C.UTF-8"))
    _ok(run_doit(b, cache=cache, umask=0o077, tz="Pacific/Kiritimati", lang="de_DE.UTF-8"))
    return a, b


def test_main_command_builds_app_dmg_and_checksums(two_builds):
    a, _ = two_builds
    assert (a / OUT / "Hello.app" / "Contents" / "MacOS" / "Hello").is_file()
    assert (a / DMG).is_file() and (a / OUT / "SHA256SUMS").is_file()
    sums = (a / OUT / "SHA256SUMS").read_text()
    assert f"  Hello-{VERSION}.dmg\n" in sums and f"  Hello-{VERSION}-unsigned.tar\n" in sums
    check = subprocess.run([require_tool("sha256sum"), "-c", "SHA256SUMS"], cwd=a / OUT,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_two_builds_are_bit_identical(two_builds):
    a, b = two_builds
    differing = [str(rel) for rel in COMPARED if sha256_file(a / rel) != sha256_file(b / rel)]
    assert differing == []




def _leaves(value, prefix: str = "") -> dict[str, object]:
    """A JSON document flattened to ``dotted.path -> value`` (lists by index)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    out: dict[str, object] = {}
    for key, item in items:
        out.update(_leaves(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


# Every example dodo.py builds by default, with the hashes the repository publishes.
PUBLISHED_EXAMPLES = {"hello": PATHS.out, "multi": Path("build") / "multi"}


@pytest.mark.parametrize("example", sorted(PUBLISHED_EXAMPLES))
def test_build_reproduces_the_published_sums(two_builds, example):
    # The repository promises these bytes on every machine with the same
    # inputs (docs/reproducibility.md): a
    # different machine that agrees only with itself is not enough.
    import json

    a, _ = two_builds
    out, published_dir = a / PUBLISHED_EXAMPLES[example], REPO / "examples" / example
    built = (out / "SHA256SUMS").read_text()
    published = (published_dir / "SHA256SUMS").read_text()
    if built == published:
        return
    # Say which input moved: the published build manifest against ours.
    ours = _leaves(json.loads((out / "build-manifest.json").read_text()))
    theirs = _leaves(json.loads((published_dir / "build-manifest.json").read_text()))
    moved = [f"{key}: published {theirs.get(key)!r}, built {ours.get(key)!r}"
             for key in sorted(set(ours) | set(theirs)) if ours.get(key) != theirs.get(key)]
    pytest.fail(f"the example's SHA256SUMS differs from examples/{example}/SHA256SUMS\n"
                f"built:\n{built}published:\n{published}first differences in the build "
                "manifest:\n  " + "\n  ".join(moved[:25]))


@pytest.mark.parametrize("example", sorted(PUBLISHED_EXAMPLES))
def test_published_manifest_matches_the_published_sums(example):
    # The two published files belong to one build.
    published_dir = REPO / "examples" / example
    sums = dict(reversed(line.split("  ", 1)) for line in
                (published_dir / "SHA256SUMS").read_text().splitlines())
    assert sums["build-manifest.json"] == sha256_file(published_dir / "build-manifest.json")


def _all_output_files(project: Path) -> list[Path]:
    return [p for p in (project / OUT).rglob("*") if p.is_file() and not p.is_symlink()]


def test_no_absolute_build_path_in_any_output(two_builds, tmp_path):
    for project in two_builds:
        needles = [str(project).encode(), str(project.parent).encode(), b"pytest-of-"]
        files = _all_output_files(project)
        assert len(files) > 10
        # The DMG's chunks are compressed: expand it with qemu-img (an
        # independent UDIF reader) and search the raw volume too.
        raw = tmp_path / f"{project.name}.raw"
        subprocess.run([require_tool("qemu-img"), "convert", "-f", "dmg", "-O", "raw",
                        str(project / DMG), str(raw)], check=True, capture_output=True)
        for path in files + [raw]:
            data = path.read_bytes()
            for needle in needles:
                assert needle not in data, (path, needle)
        assert b"Hello.app" in raw.read_bytes() or "Hello.app".encode("utf-16-be") in raw.read_bytes()
        raw.unlink()


def test_universal_binary_has_both_archs_with_the_configured_minimum(two_builds):
    a, _ = two_builds
    exe = a / OUT / "Hello.app" / "Contents" / "MacOS" / "Hello"
    info = subprocess.run([require_tool("llvm-lipo-19"), "-info", str(exe)], capture_output=True,
                          text=True, check=True).stdout
    assert sorted(info.split(":")[-1].split()) == ["arm64", "x86_64"]
    otool = subprocess.run([require_tool("llvm-otool-19"), "-l", str(exe)], capture_output=True,
                           text=True, check=True).stdout
    assert "LC_BUILD_VERSION" in otool and "minos 11.0" in otool
    # llvm-otool 19 prints only the host slice of a universal file; read each
    # slice with llvm-objdump's Mach-O printer.
    for arch, cputype in (("arm64", "ARM64"), ("x86_64", "X86_64")):
        out = subprocess.run([require_tool("llvm-objdump-19"), "--macho", f"--arch={arch}",
                              "--private-headers", str(exe)], capture_output=True, text=True,
                             check=True).stdout
        assert f" {cputype} " in out.split("\n", 4)[3]
        version = out.split("cmd LC_BUILD_VERSION", 1)[1].split("Load command", 1)[0]
        assert "minos 11.0" in version and "platform macos" in version
        assert ("LC_CODE_SIGNATURE" in out) == (arch == "arm64")


def test_unsigned_tarball_holds_app_configuration_and_manifest(two_builds):
    a, _ = two_builds
    listing = subprocess.run([require_tool("tar"), "--numeric-owner", "-tvf", str(a / APP_TAR)],
                             capture_output=True, text=True, check=True,
                             env={"TZ": "UTC", "LC_ALL": "C"}).stdout
    names = [line.split(None, 5)[5].rstrip("/") for line in listing.splitlines()]
    assert names == sorted(names)
    assert {"Hello.app/Contents/MacOS/Hello", "Hello.app/Contents/Info.plist",
            "Hello.app/Contents/PkgInfo", "release.toml", "build-manifest.json"} <= set(names)
    assert all(" 0/0 " in line and " 2025-01-01 " in line for line in listing.splitlines())
    with tarfile.open(a / APP_TAR) as tar:
        manifest = tar.extractfile("build-manifest.json").read()
        config = tar.extractfile("release.toml").read()
        exe = tar.getmember("Hello.app/Contents/MacOS/Hello")
    assert manifest == (a / OUT / "app-manifest.json").read_bytes()
    assert config == (REPO / "examples" / "hello" / "release.toml").read_bytes()
    assert exe.mode == 0o755


def test_dmg_volume_holds_app_and_applications_link(two_builds):
    a, _ = two_builds
    out = subprocess.run([require_tool("7z"), "l", "-slt", str(a / DMG)], capture_output=True,
                         text=True, check=True).stdout
    paths = [line[len("Path = "):] for line in out.splitlines() if line.startswith("Path = ")]
    assert any(p.endswith("Hello.app/Contents/MacOS/Hello") for p in paths), paths
    assert any(p.endswith("Applications") for p in paths), paths


def test_second_run_executes_nothing_and_an_edit_reruns_only_its_chain(tmp_path, cache):
    # The hello example's chain alone (dodo.py builds the multi example too
    # by default; its own test covers its chain).
    project = copy_project(tmp_path / "proj", with_pipeline=True)
    first = _ok(run_doit(project, HELLO_ONLY, cache=cache))
    assert {"toolchain", "sdk", "compile:arm64:src/main.c", "image", "checksums"} <= executed(first)
    again = _ok(run_doit(project, HELLO_ONLY, cache=cache))
    assert executed(again) == set(), again.stdout
    # Touching without a change reruns nothing either (doit compares content).
    os.utime(project / "examples/hello/src/main.c")
    assert executed(_ok(run_doit(project, HELLO_ONLY, cache=cache))) == set()

    source = project / "examples" / "hello" / "src" / "main.c"
    source.write_text(source.read_text().replace('"world"', '"there"'))
    edited = _ok(run_doit(project, HELLO_ONLY, cache=cache))
    assert executed(edited) == {
        "compile:arm64:src/main.c", "compile:x86_64:src/main.c", "link:arm64", "link:x86_64",
        "lipo", "bundle", "app_tarball", "image", "checksums"}, edited.stdout
    assert executed(_ok(run_doit(project, HELLO_ONLY, cache=cache))) == set()

    # A changed library or stage module makes exactly the tasks whose outputs
    # it shapes out of date (never a stale DMG or object that looks up to
    # date), and nothing upstream of them.  doit's own status says which
    # tasks would run, without running them; each edit is undone before the
    # next, so every check sees one change.
    compile_chain = {f"compile:{arch}:{src}" for arch in ("arm64", "x86_64")
                     for src in ("src/main.c", "src/greeting.c")}
    compile_chain |= {"archive:arm64:greeting", "archive:x86_64:greeting",
                      "link:arm64", "link:x86_64", "lipo"}
    for lib, chain in (("hfs/writer.py", {"image"}), ("udif/writer.py", {"image"}),
                       ("codecs.py", {"image"}),
                       ("build/compiler.py", compile_chain),
                       ("build/bundle.py", {"bundle", "image"}),
                       ("build/unsigned_tarball.py", {"app_tarball"}),
                       ("tarball.py", {"sdk", "app_tarball"}),
                       ("build/toolchain.py", {"toolchain"})):
        path = project / "pipeline" / lib
        original = path.read_text()
        path.write_text(original + "\n# stage code changed\n")
        assert out_of_date(project, cache, HELLO_ONLY) == chain, lib
        path.write_text(original)
    assert out_of_date(project, cache, HELLO_ONLY) == set()
    # Running after a comment-only edit gives the same bytes: the chain
    # stops where the outputs stay the same (doit compares content).
    path = project / "pipeline" / "build" / "compiler.py"
    path.write_text(path.read_text() + "\n# stage code changed\n")
    assert executed(_ok(run_doit(project, HELLO_ONLY, cache=cache))) == compile_chain

    # Another version of a package that renders or compresses output
    # (jinja2, libdeflate) reruns the task it shapes, even when no file
    # changed.  The versions are reported differently through a
    # sitecustomize shim on PYTHONPATH.
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        "import importlib.metadata as m\n"
        "_real = m.version\n"
        "m.version = lambda name: '9.9.9' if name in ('jinja2', 'deflate') else _real(name)\n")
    upgraded = {"PYTHONPATH": str(shim)}
    assert executed(_ok(run_doit(project, HELLO_ONLY, cache=cache, extra_env=upgraded))) == {
        "bundle", "image", "checksums"}
    assert executed(_ok(run_doit(project, HELLO_ONLY, cache=cache, extra_env=upgraded))) == set()


def test_missing_toolchain_says_what_to_install(tmp_path, cache):
    project = copy_project(tmp_path / "proj")
    venv_bin = str(Path(sys.executable).parent)
    proc = run_doit(project, "toolchain", cache=cache, path=f"{venv_bin}:{tmp_path}")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "apt-get install clang-19 lld-19 llvm-19" in output
    assert "Traceback" not in output


def test_tampered_sdk_tarball_stops_the_build_before_compiling(tmp_path, cache):
    pin = sdk.load_pin(PIN)
    bad_cache = tmp_path / "cache"
    bad_cache.mkdir()
    data = bytearray((cache / pin.tarball_name).read_bytes())
    data[4096] ^= 0xFF
    (bad_cache / pin.tarball_name).write_bytes(data)
    project = copy_project(tmp_path / "proj")
    proc = run_doit(project, cache=bad_cache)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert f"expected sha256 {pin.sha256}" in output
    assert f"actual sha256 {sha256_file(bad_cache / pin.tarball_name)}" in output
    assert "delete it to make it again from the recipe" in output
    assert not any(name.startswith("compile") for name in executed(proc))
    assert not (project / "build" / "sdk" / pin.name / "contents").exists()
    assert "Traceback" not in output


def test_arm64_slice_keeps_a_valid_lld_adhoc_signature(two_builds):
    # Verified by the project's code-signature verifier (written separately
    # from the build) against the page hashes lld computed.
    from pipeline.codesign.verify import verify_path
    a, _ = two_builds
    report = verify_path(a / OUT / "arm64" / "Hello")
    assert report.ok, report.failures
    assert [s.arch for f in report.files for s in f.slices] == ["arm64"]


def test_source_date_epoch_from_the_environment_wins(two_builds, tmp_path, cache):
    a, _ = two_builds
    project = copy_project(tmp_path / "proj")
    _ok(run_doit(project, cache=cache, extra_env={"SOURCE_DATE_EPOCH": "1600000000"}))
    with tarfile.open(project / APP_TAR) as tar:
        assert {m.mtime for m in tar} == {1600000000}
    with tarfile.open(a / APP_TAR) as tar:          # the configuration's 2025-01-01
        assert {m.mtime for m in tar} == {1735689600}
    # Dates live in the tarball and the HFS+ volume, not in the code.
    assert sha256_file(project / OUT / "universal" / "Hello") == \
        sha256_file(a / OUT / "universal" / "Hello")
    assert sha256_file(project / DMG) != sha256_file(a / DMG)


def test_a_file_system_error_is_one_line_naming_the_path(tmp_path, cache):
    # A file where the build needs a folder (or a full disk): the failing
    # task names the path, with no Python traceback.
    project = copy_project(tmp_path / "proj")
    (project / OUT).mkdir(parents=True)
    (project / OUT / "obj").write_text("not a folder")
    proc = run_doit(project, cache=cache)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output
    assert f"reprodmg: error: {project / OUT / 'obj'}" in output


def test_a_source_reading_an_undeclared_file_stops_the_build(tmp_path, cache):
    project = copy_project(tmp_path / "proj")
    src = project / "examples" / "hello" / "src"
    (src / "extra.inc").write_text("/* not a declared input */\n")
    (src / "main.c").write_text('#include "extra.inc"\n' + (src / "main.c").read_text())
    proc = run_doit(project, cache=cache)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "reads src/extra.inc, not a declared input" in output, output
    assert "Traceback" not in output
    assert not (project / OUT / "obj" / "arm64" / "src" / "main.o").exists()
