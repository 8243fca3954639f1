"""Issue 12 §3: both example apps built with ``provider = "source"`` (the
linker and binutils from patches/lld and patches/binutils) against the
published builds made with ``provider = "llvm"`` (Debian's binaries of the
same version).  Marker ``toolchain_source``.

The DMGs must be byte-identical; ``reprodmg dmg diff`` is printed either
way, so the test's output shows what was compared.  The unsigned tarballs
hold the release configuration and the build manifest, which say which
provider built the app: those two members, and nothing else, differ.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers import CACHE, REPO, run_doit
from pipeline.build import config, source_toolchain
from pipeline.build.paths import BuildPaths

from test_build import copy_project

pytestmark = pytest.mark.toolchain_source

EXAMPLES = ("hello", "multi")


def _sums(path: Path) -> dict[str, str]:
    return dict(reversed(line.split("  ", 1)) for line in path.read_text().splitlines())


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else m.linkname.encode())
                for m in tar.getmembers()}


def _build(project: Path, provider: str) -> Path:
    for example in EXAMPLES:
        release = project / "examples" / example / "release.toml"
        text = release.read_text()
        if "[toolchain]" in text:
            assert '[toolchain]\nprovider = "llvm"' in text
            text = text.replace('[toolchain]\nprovider = "llvm"',
                                f'[toolchain]\nprovider = "{provider}"')
        else:       # the default provider is "llvm"
            text += f'\n[toolchain]\nprovider = "{provider}"\n'
        release.write_text(text)
    proc = run_doit(project, cache=CACHE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return project


def _paths(project: Path, example: str) -> BuildPaths:
    return BuildPaths.for_release(project / "build", config.load(
        project / "examples" / example / "release.toml"))


@pytest.fixture(scope="module")
def builds(tmp_path_factory, cache) -> dict[str, Path]:
    """Both examples built with each provider, in two folders."""
    for name in config.DEFAULT_SOURCE_RECIPES:
        source_toolchain.provide(source_toolchain.load_recipe(
            REPO / "patches" / name / "recipe.toml"), CACHE)
    return {provider: _build(copy_project(tmp_path_factory.mktemp(provider) / "proj"), provider)
            for provider in ("llvm", "source")}


@pytest.mark.parametrize("example", EXAMPLES)
def test_source_and_debian_providers_give_the_same_dmg(builds, example):
    source, llvm = _paths(builds["source"], example), _paths(builds["llvm"], example)
    record = json.loads(source.toolchain_json.read_text())
    assert record["provider"] == "source"
    assert set(record["built_from_source"]) == {"lld-19.1.7", "llvm-binutils-19.1.7"}
    for role in ("ld64.lld", "llvm-ar", "llvm-lipo", "llvm-otool"):
        assert "-19.1.7-" in record["tools"][role]["command"], role
        assert record["tools"][role]["sha256"] == record["built_from_source"][
            "lld-19.1.7" if role == "ld64.lld" else "llvm-binutils-19.1.7"][
            "installed"][f"bin/{role}"]

    report = subprocess.run(
        [sys.executable, "-m", "pipeline", "dmg", "diff", str(llvm.dmg), str(source.dmg)],
        capture_output=True, text=True, check=False)
    print(f"reprodmg dmg diff <provider llvm> <provider source> ({example}):\n{report.stdout}")
    assert report.returncode == 0, report.stdout + report.stderr
    built, published = _sums(source.sums), _sums(REPO / "examples" / example / "SHA256SUMS")
    assert built[source.dmg.name] == _sums(llvm.sums)[llvm.dmg.name] == published[source.dmg.name]


@pytest.mark.parametrize("example", EXAMPLES)
def test_only_the_provider_records_differ_in_the_unsigned_tarball(builds, example):
    source, llvm = _paths(builds["source"], example), _paths(builds["llvm"], example)
    ours, theirs = _members(source.app_tar), _members(llvm.app_tar)
    assert sorted(ours) == sorted(theirs)
    differing = sorted(name for name in ours if ours[name] != theirs[name])
    assert differing == ["build-manifest.json", "release.toml"]
    mine, other = json.loads(ours["build-manifest.json"]), json.loads(theirs["build-manifest.json"])
    assert (mine["toolchain"]["provider"], other["toolchain"]["provider"]) == ("source", "llvm")
    assert mine["app"] == other["app"]      # every file of the app, by hash
    assert {k: v for k, v in mine.items() if k not in ("toolchain", "inputs")} == \
        {k: v for k, v in other.items() if k not in ("toolchain", "inputs")}
    mine["inputs"].pop("release.toml")
    other["inputs"].pop("release.toml")
    assert mine["inputs"] == other["inputs"]
