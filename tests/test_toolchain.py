"""LLVM toolchain provider: resolution, manifest, and the 'what to install' message."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import require_tool
from pipeline import toolchain
from pipeline.errors import InputError, UnsupportedError


def test_manifest_hashes_match_sha256sum():
    sha256sum = require_tool("sha256sum")
    tc = toolchain.resolve("llvm", 19)
    manifest = tc.manifest()
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


def test_manifest_covers_the_llvm_libraries_and_resource_headers():
    # Debian's clang-19 is a thin driver: the code generator is in
    # libclang-cpp/libLLVM, which a point release can change under an
    # unchanged executable.  Oracle: the DT_NEEDED entries llvm-readelf
    # reports, and sha256sum of the files the dynamic loader would load.
    readelf = require_tool("llvm-readelf-19")
    sha256sum = require_tool("sha256sum")
    tc = toolchain.resolve("llvm", 19)
    manifest = tc.manifest()
    clang = os.path.realpath(tc["clang"])
    dynamic = subprocess.run([readelf, "-d", clang], capture_output=True, text=True,
                             check=True).stdout
    needed = {line.split("[", 1)[1].rstrip("]") for line in dynamic.splitlines()
              if "(NEEDED)" in line}
    llvm_lib = Path(clang).parent.parent / "lib"
    own = sorted(n for n in needed if (llvm_lib / n).exists())
    assert "libLLVM.so.19.1" in own and "libclang-cpp.so.19.1" in own
    for name in own:
        out = subprocess.run([sha256sum, os.path.realpath(llvm_lib / name)], capture_output=True,
                             text=True, check=True)
        assert manifest["libraries"][name] == out.stdout.split()[0], name
    assert not any(name.startswith(("libc.", "libstdc++")) for name in manifest["libraries"])
    assert manifest["resource_headers"]["files"] > 50
    # The build reruns when any of them changes: they are the toolchain task's inputs.
    deps = {str(p) for p in toolchain.tool_paths("llvm", 19)}
    assert {os.path.realpath(llvm_lib / n) for n in own} <= deps
    resource = subprocess.run([tc["clang"], "-print-resource-dir"], capture_output=True,
                              text=True, check=True).stdout.strip()
    assert str(Path(resource) / "include" / "stddef.h") in deps
