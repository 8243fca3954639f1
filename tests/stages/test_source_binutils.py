"""LLVM's Mach-O binutils built from LLVM 19.1.7's sources by
patches/binutils/recipe.toml (issue 12), with the project's patch
(marker ``toolchain_source``; patches/README.md gives time and memory).

Oracles: Debian's binary tools of the same version.  The archive and the
universal binary the build makes must come out the same from both, and
llvm-otool must print the same listing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import CACHE, PIN, REPO
from pipeline.build import compiler, sdk, source_toolchain, toolchain
from pipeline.errors import InputError
from pipeline.jsonfile import sha256_file

pytestmark = pytest.mark.toolchain_source

HELLO = REPO / "examples" / "hello"
RECIPE = REPO / "patches" / "binutils" / "recipe.toml"
TOOLS = ("llvm-ar", "llvm-lipo", "llvm-libtool-darwin", "llvm-install-name-tool",
         "llvm-strip", "llvm-objdump", "llvm-otool")


@pytest.fixture(scope="module")
def binutils() -> Path:
    return source_toolchain.provide(source_toolchain.load_recipe(RECIPE), CACHE)


def test_the_recipe_installs_the_binutils_with_their_manifest(binutils):
    manifest = json.loads((binutils / "toolchain.json").read_text())
    assert manifest["installed"] == {f"bin/{t}": sha256_file(binutils / "bin" / t)
                                     for t in TOOLS}
    assert list(manifest["patches"]) == ["0001-llvm-objdump-no-private-config-header.patch"]
    assert manifest["support"] == {"standalone/CMakeLists.txt": sha256_file(
        RECIPE.parent / "standalone/CMakeLists.txt")}
    # The tools load LLVM from the shared library Debian's tools load.
    loaded = toolchain.loaded_libraries([str(binutils / "bin" / t) for t in TOOLS])
    assert set(loaded.toolchain) == {"libLLVM.so.19.1"}
    for tool in TOOLS:
        assert str(CACHE) not in (binutils / "bin" / tool).read_bytes().decode("latin-1")


@pytest.fixture(scope="module")
def objects(tmp_path_factory, cache) -> dict[str, list[Path]]:
    tmp = tmp_path_factory.mktemp("objects")
    tools = toolchain.locate("llvm", 19)
    sdk_root = sdk.prepare(sdk.load_pin(PIN), cache, tmp / "sdk")
    found: dict[str, list[Path]] = {}
    for arch in ("arm64", "x86_64"):
        for source in ("src/main.c", "src/greeting.c"):
            out = tmp / arch / (Path(source).stem + ".o")
            compiler.compile_object(tools, source=source, source_root=HELLO, out=out, arch=arch,
                                    minimum_macos="11.0", sdk_root=sdk_root, build_root=tmp,
                                    include_dirs=["src"])
            found.setdefault(arch, []).append(out)
    found["sdk"] = [sdk_root]
    return found


def test_archive_lipo_and_otool_agree_with_debians(binutils, objects, tmp_path):
    debian = toolchain.locate("llvm", 19)
    ours = {**debian, **{t: str(binutils / "bin" / t) for t in ("llvm-ar", "llvm-lipo")}}
    results = {}
    for name, tools in (("debian", debian), ("source", ours)):
        out = tmp_path / name
        lib = out / "libgreeting.a"
        compiler.archive(tools, objects=objects["x86_64"][1:], out=lib)
        slices = {}
        for arch in ("arm64", "x86_64"):
            slices[arch] = out / arch / "Hello"
            compiler.link(tools, objects=objects[arch], out=slices[arch], arch=arch,
                          minimum_macos="11.0", sdk_root=objects["sdk"][0])
        compiler.lipo(tools, slices=slices, out=out / "Hello")
        results[name] = (sha256_file(lib), sha256_file(out / "Hello"))
    assert results["source"] == results["debian"]
    listing = {}
    for name, otool in (("debian", debian["llvm-otool"]), ("source", binutils / "bin/llvm-otool")):
        proc = subprocess.run([str(otool), "-hlL", str(tmp_path / "debian" / "Hello")],
                              capture_output=True, text=True, check=True,
                              env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
        listing[name] = proc.stdout
    assert listing["source"] == listing["debian"] and "LC_BUILD_VERSION" in listing["source"]


def test_without_the_patch_llvm_otool_does_not_build(tmp_path):
    """0001 earns its place: the same recipe without it stops at the private
    header it removes."""
    recipe_dir = tmp_path / "binutils"
    shutil.copytree(RECIPE.parent, recipe_dir, ignore=shutil.ignore_patterns("*.patch"))
    cache = tmp_path / "cache"
    cache.mkdir()
    archive = source_toolchain.load_recipe(RECIPE).sources[0].file
    os.symlink(CACHE / archive, cache / archive)
    with pytest.raises(InputError) as err:
        source_toolchain.provide(source_toolchain.load_recipe(recipe_dir / "recipe.toml"), cache)
    assert "failed" in str(err.value)
    log = next(cache.glob("toolchains/*.failed.log")).read_text()
    assert "MachODump.cpp" in log and "'llvm/Config/config.h' file not found" in log
