"""libc++ for the demo SDK, from LLVM's own sources (the Debian source
package's upstream tarball of the LLVM the toolchain is):

- ``usr/include/c++/v1/``: libc++'s headers, with ``__config_site`` written
  as Apple's build configures it (``libcxx/cmake/caches/Apple.cmake``: ABI
  version 1, pthreads, vendor availability annotations on, the libdispatch
  parallel backend, no hardening by default) and ``__assertion_handler``
  from LLVM's default vendor handler;
- ``usr/lib/libc++.tbd``: a text stub for ``/usr/lib/libc++.1.dylib`` whose
  symbols are libc++'s published ABI lists for Apple platforms
  (``libcxx/lib/abi/{arm64,x86_64}-apple-darwin.libcxxabi.v1.stable.
  exceptions.nonew.abilist``, the lists LLVM's CI checks the shipped
  dylib against): defined functions and objects are exports, the symbols
  the dylib re-exports from libc++abi (type ``I``) are re-exports.

Nothing is compiled: a C++ program links against the stub and runs against
the libc++ every macOS since 10.7 carries.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from .. import tarball
from ..errors import CorruptError

_HEADERS = "libcxx/include/"
_CONFIG_SITE_IN = "libcxx/include/__config_site.in"
_ASSERTION_HANDLER_IN = "libcxx/vendor/llvm/default_assertion_handler.in"
_ABILISTS = {arch: f"libcxx/lib/abi/{arch}-apple-darwin.libcxxabi.v1.stable.exceptions.nonew.abilist"
             for arch in ("arm64", "x86_64")}
_SKIPPED_HEADERS = ("CMakeLists.txt",)
_MAX_MEMBER = 8 << 20
INSTALL_NAME = "/usr/lib/libc++.1.dylib"

# Apple.cmake's choices, as CMake would write them into __config_site.
CONFIG_SITE_VALUES = {
    "_LIBCPP_ABI_VERSION": "1",
    "_LIBCPP_ABI_NAMESPACE": "__1",
    "_LIBCPP_HAS_THREAD_API_PTHREAD": "",
    "_LIBCPP_PSTL_BACKEND_LIBDISPATCH": "",
    "_LIBCPP_HARDENING_MODE_DEFAULT": "_LIBCPP_HARDENING_MODE_NONE",
}


def config_site(template: str) -> str:
    """``__config_site.in`` with CMake's ``#cmakedefine`` and ``@VAR@`` filled in."""
    out = []
    for line in template.splitlines():
        if line.startswith("#cmakedefine "):
            name = line.split()[1]
            if name in CONFIG_SITE_VALUES:
                value = CONFIG_SITE_VALUES[name]
                line = f"#define {name} {value}".rstrip()
            else:
                line = f"/* #undef {name} */"
        elif line.strip().startswith("@") and line.strip().endswith("@"):
            line = ""          # _LIBCPP_ABI_DEFINES, _LIBCPP_EXTRA_SITE_DEFINES: none
        out.append(line)
    return "\n".join(out) + "\n"


def parse_abilist(text: str, where: str) -> tuple[list[str], list[str]]:
    """(exported, re-exported) symbol names of one ABI list, sorted."""
    exports, reexports = set(), set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = ast.literal_eval(line)
            name, kind, defined = entry["name"], entry["type"], entry["is_defined"]
        except (ValueError, SyntaxError, KeyError, TypeError):
            raise CorruptError(where, f"line {n}", "not an ABI list entry") from None
        if not defined:
            continue
        if kind == "I":
            reexports.add(name)
        elif kind in ("FUNC", "OBJECT"):
            exports.add(name)
        else:
            raise CorruptError(where, f"line {n}", f"unknown symbol type {kind!r}")
    return sorted(exports), sorted(reexports)


def _symbol_block(key: str, by_arch: dict[str, list[str]]) -> list[str]:
    """TBD v4 ``exports:``/``reexports:`` blocks, one per set of architectures."""
    groups: dict[str, list[str]] = {}
    for arch in sorted(by_arch):
        for name in by_arch[arch]:
            groups.setdefault(name, []).append(arch)
    by_targets: dict[tuple[str, ...], list[str]] = {}
    for name, archs in groups.items():
        by_targets.setdefault(tuple(archs), []).append(name)
    lines = [f"{key}:"]
    for archs in sorted(by_targets):
        targets = ", ".join(f"{a}-macos" for a in archs)
        lines.append(f"  - targets: [ {targets} ]")
        lines.append("    symbols: [ " + ",\n                 ".join(
            f"'{s}'" for s in sorted(by_targets[archs])) + " ]")
    return lines


def libcxx_tbd(abilists: dict[str, str]) -> str:
    """The text stub of libc++.1.dylib from the per-architecture ABI lists."""
    exports, reexports = {}, {}
    for arch, text in sorted(abilists.items()):
        exports[arch], reexports[arch] = parse_abilist(text, _ABILISTS[arch])
    targets = ", ".join(f"{a}-macos" for a in sorted(abilists))
    lines = ["--- !tapi-tbd", "tbd-version: 4", f"targets: [ {targets} ]",
             f"install-name: '{INSTALL_NAME}'", "current-version: 1", "compatibility-version: 1",
             *_symbol_block("exports", exports), *_symbol_block("reexports", reexports), "..."]
    return "\n".join(lines) + "\n"


def sdk_members(orig_tarball: str | os.PathLike, root: str = "MacOSX.sdk") -> dict[str, bytes]:
    """The SDK files libc++ adds, ``{tar member name: bytes}``, read from the
    LLVM source tarball (one streaming pass; members are size-bounded)."""
    archive = os.fspath(orig_tarball)
    headers: dict[str, bytes] = {}
    wanted: dict[str, bytes] = {}
    singles = {_CONFIG_SITE_IN, _ASSERTION_HANDLER_IN, *_ABILISTS.values()}
    with tarball.stream_members(orig_tarball) as tar:
        for info in tar:
            top, _, rel = info.name.partition("/")
            if not info.isfile() or not (rel in singles or rel.startswith(_HEADERS)):
                continue
            if info.size > _MAX_MEMBER:
                raise CorruptError(archive, info.name, f"{info.size} bytes is implausible")
            if ".." in rel.split("/"):
                raise CorruptError(archive, info.name, "member name leaves its folder")
            data = tar.extractfile(info).read()
            if rel in singles:
                wanted[rel] = data
            elif not rel.endswith(".in") and Path(rel).name not in _SKIPPED_HEADERS:
                headers[rel[len(_HEADERS):]] = data
    missing = sorted(singles - set(wanted))
    if missing or "vector" not in headers:
        raise CorruptError(archive, "libcxx", f"missing {', '.join(missing) or 'headers'}")
    include = f"{root}/usr/include/c++/v1"
    members = {f"{include}/{rel}": data for rel, data in headers.items()}
    members[f"{include}/__config_site"] = config_site(
        wanted[_CONFIG_SITE_IN].decode("utf-8")).encode("utf-8")
    members[f"{include}/__assertion_handler"] = wanted[_ASSERTION_HANDLER_IN]
    members[f"{root}/usr/lib/libc++.tbd"] = libcxx_tbd(
        {arch: wanted[path].decode("utf-8") for arch, path in _ABILISTS.items()}).encode("utf-8")
    return members
