"""libc++ for the demo SDK (issue 11 §2): headers, __config_site and a
libc++.tbd made from LLVM's own sources; the Debian source fetch.

Oracles: LLVM's TextAPI reader (llvm-readtapi-19) reads the stub we write
and must list exactly the ABI list's symbols per architecture; ld64.lld
links a C++ program against it (tests/stages/test_multi.py builds one);
llvm-nm shows every C++ runtime symbol bound to libc++.
"""

from __future__ import annotations

import io
import json
import lzma
import subprocess
import tarfile
from pathlib import Path

import pytest

from helpers import require_tool
from pipeline.build import debsource, libcxx
from pipeline.errors import CorruptError, VerificationError

ABILIST = """\
{'is_defined': False, 'name': '__ZNKSt10bad_typeid4whatEv', 'type': 'U'}
{'is_defined': True, 'name': '__ZNSt3__16vectorIiNS_9allocatorIiEEE9push_backEOi', 'type': 'FUNC'}
{'is_defined': True, 'name': '__ZTVNSt3__18ios_baseE', 'size': 0, 'type': 'OBJECT'}
{'is_defined': True, 'name': '___cxa_throw', 'type': 'I'}
"""
X86_ONLY = "{'is_defined': True, 'name': '__ZN3x86onlyEv', 'type': 'FUNC'}\n"


def test_abi_list_gives_exports_and_reexports():
    exports, reexports = libcxx.parse_abilist(ABILIST, "list")
    assert exports == ["__ZNSt3__16vectorIiNS_9allocatorIiEEE9push_backEOi",
                       "__ZTVNSt3__18ios_baseE"]
    assert reexports == ["___cxa_throw"]


@pytest.mark.parametrize("line, problem", [
    ("import os", "line 1: not an ABI list entry"),
    ("{'is_defined': True, 'name': 'x'}", "line 1: not an ABI list entry"),
    ("{'is_defined': True, 'name': 'x', 'type': 'TLS'}", "line 1: unknown symbol type 'TLS'"),
])
def test_hostile_abi_list_names_the_line(line, problem):
    with pytest.raises(CorruptError, match=problem):
        libcxx.parse_abilist(line + "\n", "x.abilist")


def test_llvm_readtapi_reads_our_stub(tmp_path):
    tbd = tmp_path / "libc++.tbd"
    tbd.write_text(libcxx.libcxx_tbd({"arm64": ABILIST, "x86_64": ABILIST + X86_ONLY}))
    proc = subprocess.run([require_tool("llvm-readtapi-19"), str(tbd)], capture_output=True,
                          text=True, check=True)
    doc = json.loads(proc.stdout)["main_library"]
    assert doc["install_names"][0]["name"] == "/usr/lib/libc++.1.dylib"
    found: dict[str, set[str]] = {"arm64": set(), "x86_64": set()}
    for block in doc["exported_symbols"] + doc.get("reexported_symbols", []):
        targets = block.get("targets", ["arm64-macos", "x86_64-macos"])
        names = {n for kind in block.values() if isinstance(kind, dict)
                 for group in kind.values() for n in group}
        for target in targets:
            found[target.split("-")[0]] |= names
    common = {"__ZNSt3__16vectorIiNS_9allocatorIiEEE9push_backEOi", "__ZTVNSt3__18ios_baseE",
              "___cxa_throw"}
    assert found["arm64"] == common
    assert found["x86_64"] == common | {"__ZN3x86onlyEv"}


def test_config_site_follows_cmakedefine():
    template = ("#cmakedefine _LIBCPP_ABI_VERSION @_LIBCPP_ABI_VERSION@\n"
                "#cmakedefine _LIBCPP_HAS_NO_THREADS\n"
                "#cmakedefine _LIBCPP_HAS_THREAD_API_PTHREAD\n"
                "@_LIBCPP_ABI_DEFINES@\n")
    assert libcxx.config_site(template) == ("#define _LIBCPP_ABI_VERSION 1\n"
                                            "/* #undef _LIBCPP_HAS_NO_THREADS */\n"
                                            "#define _LIBCPP_HAS_THREAD_API_PTHREAD\n\n")


def _source_tarball(path: Path, files: dict[str, bytes]) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(f"llvm-toolchain-19_19.1.7/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(lzma.compress(raw.getvalue()))
    return path


SOURCE_FILES = {
    "libcxx/include/vector": b"// vector\n",
    "libcxx/include/__config_site.in": b"#cmakedefine _LIBCPP_ABI_VERSION @_LIBCPP_ABI_VERSION@\n",
    "libcxx/include/CMakeLists.txt": b"not a header\n",
    "libcxx/include/module.modulemap.in": b"template\n",
    "libcxx/vendor/llvm/default_assertion_handler.in": b"// handler\n",
    "libcxx/lib/abi/arm64-apple-darwin.libcxxabi.v1.stable.exceptions.nonew.abilist":
        ABILIST.encode(),
    "libcxx/lib/abi/x86_64-apple-darwin.libcxxabi.v1.stable.exceptions.nonew.abilist":
        ABILIST.encode(),
    "llvm/lib/unrelated.cpp": b"// not read\n",
}


def test_sdk_members_from_a_source_tarball(tmp_path):
    members = libcxx.sdk_members(_source_tarball(tmp_path / "src.tar.xz", SOURCE_FILES), "X.sdk")
    assert sorted(members) == ["X.sdk/usr/include/c++/v1/__assertion_handler",
                               "X.sdk/usr/include/c++/v1/__config_site",
                               "X.sdk/usr/include/c++/v1/vector", "X.sdk/usr/lib/libc++.tbd"]
    assert members["X.sdk/usr/include/c++/v1/__config_site"] == b"#define _LIBCPP_ABI_VERSION 1\n"


def test_source_tarball_without_the_abi_lists_is_refused(tmp_path):
    files = {k: v for k, v in SOURCE_FILES.items() if "arm64-apple" not in k}
    with pytest.raises(CorruptError, match="libcxx: missing libcxx/lib/abi/arm64-apple-darwin"):
        libcxx.sdk_members(_source_tarball(tmp_path / "src.tar.xz", files))


@pytest.mark.parametrize("keep", [0.25, 0.5, 0.75, -12, -1])
def test_truncated_source_tarball_is_a_clear_error(tmp_path, keep):
    """Wherever the compressed stream is cut (between two members too, where
    tarfile alone would see a shorter archive), the reader says so."""
    good = _source_tarball(tmp_path / "src.tar.xz", SOURCE_FILES).read_bytes()
    bad = tmp_path / "bad.tar.xz"
    bad.write_bytes(good[: int(len(good) * keep)] if keep > 0 else good[:keep])
    with pytest.raises(CorruptError, match="bad.tar.xz: tar stream"):
        libcxx.sdk_members(bad)


def test_a_cached_source_is_used_offline_and_a_wrong_one_refused(tmp_path, monkeypatch):
    data = b"pretend upstream tarball"
    import hashlib
    pin = debsource.SourceTarball("llvm-toolchain-19", "1:19.1.7-3~deb12u1", "x.orig.tar.xz",
                                  hashlib.sha256(data).hexdigest())
    (tmp_path / "x.orig.tar.xz").write_bytes(data)
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))      # apt-get cannot run
    assert debsource.fetch(pin, tmp_path) == tmp_path / "x.orig.tar.xz"
    (tmp_path / "x.orig.tar.xz").write_bytes(data + b"!")
    with pytest.raises(VerificationError, match="x.orig.tar.xz: refused .* expected sha256"):
        debsource.fetch(pin, tmp_path)
