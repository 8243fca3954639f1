"""LLVM toolchain provider: resolution, manifest, and the 'what to install' message."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import require_tool
from pipeline.build import toolchain
from pipeline.errors import InputError, UnsupportedError


def test_manifest_hashes_match_sha256sum():
    sha256sum = require_tool("sha256sum")
    tc = toolchain.resolve("llvm", 19)
    manifest = tc.to_json()
    assert set(manifest["tools"]) == set(toolchain.LLVM_TOOLS)
    for role, entry in manifest["tools"].items():
        real = os.path.realpath(tc[role])
        out = subprocess.run([sha256sum, real], capture_output=True, text=True, check=True)
        assert entry["sha256"] == out.stdout.split()[0], role
        assert entry["command"].endswith("-19")
        assert "19." in entry["version"], (role, entry["version"])


def test_manifest_has_no_host_paths(tmp_path: Path):
    data = toolchain.write_manifest(tmp_path / "toolchain.json")
    text = (tmp_path / "toolchain.json").read_text()
    assert json.loads(text) == data
    assert "/usr/" not in text and str(tmp_path) not in text
    # Writing twice gives the same bytes (sorted keys, no clock).
    toolchain.write_manifest(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == text.encode()


def test_missing_tools_say_what_to_install(tmp_path: Path):
    with pytest.raises(InputError) as err:
        toolchain.resolve_llvm(19, search_path=str(tmp_path))
    message = str(err.value)
    assert "missing clang-19" in message
    assert "apt-get install clang-19 lld-19 llvm-19" in message


def test_wrong_major_version_is_refused(tmp_path: Path):
    # A clang-19 on PATH that reports another version (a mislabelled tool).
    for stem, _pkg in toolchain.LLVM_TOOLS.values():
        fake = tmp_path / f"{stem}-19"
        fake.write_text("#!/bin/sh\necho 'clang version 18.1.0'\n")
        fake.chmod(0o755)
    with pytest.raises(InputError, match="expected major version 19"):
        toolchain.resolve_llvm(19, search_path=str(tmp_path))


def test_unknown_provider_is_unsupported():
    with pytest.raises(UnsupportedError, match="cctools"):
        toolchain.resolve("cctools")


def _needed(readelf: str, elf: str) -> set[str]:
    dynamic = subprocess.run([readelf, "-d", elf], capture_output=True, text=True,
                             check=True).stdout
    return {line.split("[", 1)[1].rstrip("]") for line in dynamic.splitlines()
            if "(NEEDED)" in line}


def test_manifest_covers_the_llvm_libraries_and_resource_headers():
    # Debian's clang-19 is a thin driver: the code generator is in
    # libclang-cpp/libLLVM, which a point release can change under an
    # unchanged executable.  Oracles: the DT_NEEDED entries llvm-readelf
    # reports, dpkg's record of which package owns each file, and
    # sha256sum of the file the dynamic loader would load.
    readelf = require_tool("llvm-readelf-19")
    sha256sum = require_tool("sha256sum")
    tc = toolchain.resolve("llvm", 19)
    manifest = tc.to_json()
    clang = os.path.realpath(tc["clang"])
    needed = _needed(readelf, clang)
    assert {"libLLVM.so.19.1", "libclang-cpp.so.19.1"} <= needed
    assert {"libLLVM.so.19.1", "libclang-cpp.so.19.1"} <= set(manifest["libraries"])
    loaded = toolchain.loaded_libraries([tc[role] for role in tc.tools])
    for soname, path in loaded.toolchain.items():
        out = subprocess.run([sha256sum, path], capture_output=True, text=True, check=True)
        assert manifest["libraries"][soname] == out.stdout.split()[0], soname
    left_out = manifest["libraries_left_out"]["sonames"]
    assert {"libc.so.6", "libstdc++.so.6", "libz.so.1"} <= set(left_out)
    assert not set(left_out) & set(manifest["libraries"])
    assert "system library" in manifest["libraries_left_out"]["reason"]
    assert manifest["resource_headers"]["files"] > 50
    # The build reruns when any of them changes: they are the toolchain task's inputs.
    deps = {str(p) for p in toolchain.tool_paths("llvm", 19)}
    assert {str(p) for p in loaded.toolchain.values()} <= deps
    resource = subprocess.run([tc["clang"], "-print-resource-dir"], capture_output=True,
                              text=True, check=True).stdout.strip()
    assert str(Path(resource) / "include" / "stddef.h") in deps


def _owning_package(path: str) -> str:
    # Debian 12 merges /lib into /usr/lib, but dpkg knows each file under the
    # name its package ships, which may be either.
    for candidate in (path, "/usr" + path if path.startswith("/lib") else path):
        proc = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True,
                              check=False)
        if proc.returncode == 0:
            return proc.stdout.split(":", 1)[0]
    return ""


def test_toolchain_libraries_are_the_ones_the_toolchain_packages_own():
    # Independent of the soname rule: dpkg says which package each loaded
    # library belongs to.  Every LLVM-owned one is recorded; no other is.
    require_tool("dpkg-query")
    tc = toolchain.resolve("llvm", 19)
    loaded = toolchain.loaded_libraries([tc[role] for role in tc.tools])
    llvm_packages = ("libllvm19", "libclang-cpp19", "libclang1-19", "liblld-19", "llvm-19",
                     "clang-19", "lld-19")
    for path in loaded.toolchain.values():
        assert _owning_package(str(path)) in llvm_packages, path
    proc = subprocess.run(["ldd", os.path.realpath(tc["clang"])], capture_output=True, text=True,
                          check=True, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=>" and parts[2].startswith("/"):
            owner = _owning_package(os.path.realpath(parts[2]))
            assert (parts[0] in loaded.toolchain) == (owner in llvm_packages), (parts[0], owner)


def _second_prefix(root: Path, tc: toolchain.Toolchain, *, dev_links: bool) -> Path:
    """A copy of the LLVM installation's executables in ``root``, as a second
    prefix would hold them.  The executables find their libraries through
    RUNPATH ``$ORIGIN/../lib``: with ``dev_links`` that folder has a name for
    libLLVM too, as Debian's llvm-19-dev adds one under /usr/lib/llvm-19/lib;
    without it the loader finds libLLVM in the system folder."""
    bin_dir, lib_dir = root / "bin", root / "lib"
    bin_dir.mkdir(parents=True)
    lib_dir.mkdir()
    real_clang = Path(os.path.realpath(tc["clang"]))
    (lib_dir / "clang").symlink_to(real_clang.parent.parent / "lib" / "clang")
    loaded = toolchain.loaded_libraries([tc[role] for role in tc.tools])
    for soname, path in loaded.toolchain.items():
        if dev_links or soname != "libLLVM.so.19.1":
            (lib_dir / soname).symlink_to(path)
    for tool in tc.tools.values():
        shutil.copy2(os.path.realpath(tool.path), bin_dir / tool.command)
    return bin_dir


def test_manifest_does_not_depend_on_unrelated_packages_or_library_paths(tmp_path: Path,
                                                                        monkeypatch):
    # Two machines with the same toolchain packages that differ only in
    # unrelated ones (llvm-19-dev's extra library names, another LLVM
    # version's libraries on the search path) write the same bytes.
    tc = toolchain.resolve("llvm", 19)
    reference = tc.to_json()
    bare = toolchain.resolve_llvm(19, search_path=str(
        _second_prefix(tmp_path / "bare", tc, dev_links=False))).to_json()
    dev = toolchain.resolve_llvm(19, search_path=str(
        _second_prefix(tmp_path / "dev", tc, dev_links=True))).to_json()
    assert bare == reference
    assert dev == reference
    # A builder's LD_LIBRARY_PATH naming other libraries (a second LLVM)
    # changes neither what the build's tools load nor the manifest.
    decoys = tmp_path / "decoys"
    decoys.mkdir()
    for other in sorted(Path("/usr/lib/x86_64-linux-gnu").glob("libLLVM-1[0-8]*.so*")):
        (decoys / other.name).symlink_to(other)
    (decoys / "libLLVM.so.19.1").symlink_to("/bin/true")   # what a broken prefix would offer
    monkeypatch.setenv("LD_LIBRARY_PATH", str(decoys))
    assert toolchain.resolve("llvm", 19).to_json() == reference


def test_build_manifest_is_the_same_with_another_library_layout(tmp_path: Path):
    # The build manifest embeds the toolchain manifest: made for the example
    # release from either layout, it has the same bytes.
    from pipeline.build import config, manifest

    tc = toolchain.resolve("llvm", 19)
    cfg = config.load(Path(__file__).resolve().parents[2] / "examples" / "hello" / "release.toml")
    app = tmp_path / "Hello.app"
    (app / "Contents").mkdir(parents=True)
    (app / "Contents" / "PkgInfo").write_bytes(b"APPL????")
    bin_dir = _second_prefix(tmp_path / "dev", tc, dev_links=True)
    outputs = []
    for name, chain in (("a", tc), ("b", toolchain.resolve_llvm(19, search_path=str(bin_dir)))):
        data = manifest.app_manifest(cfg, epoch=0, toolchain=chain.to_json(),
                                     sdk={"name": "x"}, app_dir=app, templates={})
        manifest.write_json(tmp_path / f"{name}.json", data)
        outputs.append((tmp_path / f"{name}.json").read_bytes())
    assert outputs[0] == outputs[1]
    assert b"libLLVM.so.19.1" in outputs[0]
