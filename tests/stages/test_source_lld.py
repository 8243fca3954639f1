"""ld64.lld built from LLVM 19.1.7's sources by patches/lld/recipe.toml
(issue 12): the longest build of the suite (patches/README.md gives its time
and memory); ``-m toolchain_source`` selects the tests of the toolchain
built from source, ``-m 'not toolchain_source'`` leaves them out.

Oracle: Debian's binary ld64.lld of the same version; both link the same
objects (hello's, both architectures) and must give the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import CACHE, PIN, REPO
from pipeline.build import compiler, sdk, source_toolchain, toolchain
from pipeline.jsonfile import sha256_file

pytestmark = pytest.mark.toolchain_source

HELLO = REPO / "examples" / "hello"


@pytest.fixture(scope="module")
def source_lld() -> Path:
    recipe = source_toolchain.load_recipe(REPO / "patches" / "lld" / "recipe.toml")
    return source_toolchain.provide(recipe, CACHE)


def test_the_recipe_installs_ld64_lld_with_its_manifest(source_lld):
    manifest = json.loads((source_lld / "toolchain.json").read_text())
    assert manifest["installed"] == {"bin/ld64.lld": sha256_file(source_lld / "bin/ld64.lld")}
    assert manifest["sources"] == {
        "llvm-toolchain-19_19.1.7.orig.tar.xz":
            "ae498f3bc58ae2d9f64ef5f0c035c4240152bf015a5b7738b15c22e93bdc97ce"}
    assert set(manifest["host_tools"]) == {"cmake", "ninja", "clang-19", "clang++-19"}
    assert manifest["patches"] == {} and manifest["support"] == {}
    # No host path in the record: host tools are named by hash and version.
    assert all(set(t) == {"sha256", "version"} for t in manifest["host_tools"].values())


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_source_and_debian_linkers_give_the_same_bytes(source_lld, tmp_path, cache, arch):
    tools = toolchain.locate("llvm", 19)
    sdk_root = sdk.prepare(sdk.load_pin(PIN), cache, tmp_path / "sdk")
    objects = []
    for source in ("src/main.c", "src/greeting.c"):
        out = tmp_path / "obj" / (Path(source).stem + ".o")
        compiler.compile_object(tools, source=source, source_root=HELLO, out=out, arch=arch,
                                minimum_macos="11.0", sdk_root=sdk_root, build_root=tmp_path,
                                include_dirs=["src"])
        objects.append(out)
    outputs = {}
    for name, ld in (("debian", tools["ld64.lld"]), ("source", source_lld / "bin/ld64.lld")):
        out = tmp_path / name / "Hello"
        compiler.link({**tools, "ld64.lld": str(ld)}, objects=objects, out=out, arch=arch,
                      minimum_macos="11.0", sdk_root=sdk_root)
        outputs[name] = sha256_file(out)
    assert outputs["source"] == outputs["debian"]
