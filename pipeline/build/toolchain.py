"""Toolchain providers: find the compiler, linker and binutils, and record them.

The LLVM provider uses Debian's versioned packages (clang-19, lld-19,
llvm-19): one pinned major version, so every builder compiles with the same
code generator.  The toolchain manifest names each tool, its version line
and the SHA-256 of the executable file that runs, so two builders can tell
whether a differing binary comes from differing tools.

The executables are thin: Debian's ``clang`` is a 130 KB driver and the
compiler proper lives in ``libclang-cpp.so`` and ``libLLVM.so`` (so do
lld's and llvm-ar's code), and clang reads its own headers (``stdarg.h``,
``stddef.h``...) from its resource folder.  A point release can change
those while every executable and version line stays the same, so the
manifest also hashes LLVM's shared libraries that the tools load (keyed by
soname, wherever the loader finds them) and the resource headers, and the
build treats them as inputs.  The system libraries the tools also load
(libc, libstdc++, zlib...) are named in the manifest as left out.

The source provider (``provider = "source"``) takes the same Debian
compiler and replaces the linker and binutils by the ones the project's
recipes built from pinned sources (``patches/<component>/recipe.toml``,
see ``source_toolchain``): each installed tree's ``bin/<role>`` stands in
for that role, and the manifest adds each tree's own ``toolchain.json``
(recipe, source, patch and host-tool hashes).  Apple's cctools/ld64 are
not provided (their sources are not reachable here; patches/README.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import InputError, UnsupportedError
from ..jsonfile import read_json, sha256_file

# Probes of a located tool (it is run by absolute path) need no user PATH.
_PATH_FOR_PROBES = "/usr/bin:/bin"

# Tool role -> (command stem, Debian package).  ld64.lld is lld's Mach-O
# driver; llvm-otool is llvm-objdump's otool-compatible front end.
LLVM_TOOLS: dict[str, tuple[str, str]] = {
    "clang": ("clang", "clang"),
    "ld64.lld": ("ld64.lld", "lld"),
    "llvm-ar": ("llvm-ar", "llvm"),
    "llvm-lipo": ("llvm-lipo", "llvm"),
    "llvm-strip": ("llvm-strip", "llvm"),
    "llvm-otool": ("llvm-otool", "llvm"),
    "llvm-objdump": ("llvm-objdump", "llvm"),
    "llvm-install-name-tool": ("llvm-install-name-tool", "llvm"),
}


@dataclass(frozen=True)
class Tool:
    role: str
    command: str         # what is looked up on PATH, e.g. "clang-19"
    path: str            # absolute path used to run it (never written to outputs)
    version: str         # first line of `--version`
    sha256: str          # of the resolved executable file


@dataclass(frozen=True)
class Toolchain:
    provider: str
    major: int
    tools: Mapping[str, Tool]
    libraries: Mapping[str, str] = field(default_factory=dict)   # soname -> sha256
    libraries_left_out: tuple[str, ...] = ()                     # system sonames
    resource_headers: Mapping[str, str] = field(default_factory=dict)   # relative path -> sha256
    built: Mapping[str, dict] = field(default_factory=dict)   # recipe name -> its toolchain.json

    def __getitem__(self, role: str) -> str:
        """The path to run for ``role`` (e.g. ``toolchain["clang"]``)."""
        return self.tools[role].path

    def to_json(self) -> dict:
        """Deterministic description: names, versions, hashes; no host paths."""
        return {
            "provider": self.provider,
            "major": self.major,
            "tools": {role: {"command": t.command, "version": t.version, "sha256": t.sha256}
                      for role, t in sorted(self.tools.items())},
            "libraries": dict(sorted(self.libraries.items())),
            "libraries_left_out": {"reason": LEFT_OUT_REASON,
                                   "sonames": list(self.libraries_left_out)},
            "resource_headers": {"files": len(self.resource_headers),
                                 "sha256": _listing_digest(self.resource_headers)},
            **({"built_from_source": dict(sorted(self.built.items()))} if self.built else {}),
        }


def _listing_digest(files: Mapping[str, str]) -> str:
    """One hash for a folder: SHA-256 of its sorted ``sha256  path`` lines."""
    text = "".join(f"{sha}  {rel}\n" for rel, sha in sorted(files.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# `ldd` lines: "soname => /path (0xaddr)" for a library found by the loader,
# "/lib64/ld-linux-x86-64.so.2 (0xaddr)" for the interpreter, and the
# kernel's "linux-vdso.so.1 (0xaddr)", which is no file at all.
_LDD_FOUND_RE = re.compile(r"^\s*(\S+)\s+=>\s+(/\S+)\s+\(0x[0-9a-f]+\)\s*$")
_LDD_INTERPRETER_RE = re.compile(r"^\s*(/\S+)\s+\(0x[0-9a-f]+\)\s*$")
_LDD_NOT_FOUND_RE = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")

# LLVM's own shared libraries, by soname (any version spelling Debian and
# upstream use: libLLVM.so.19.1, libLLVM-19.so.1, libclang-cpp.so.19.1,
# libclang-19.so.1, libLTO.so.19.1, liblldMachO.so.19.1...).  The soname,
# not the folder the loader found the file in, decides: Debian's
# libllvm19 installs libLLVM in the multiarch folder and llvm-19-dev adds a
# second name for it under /usr/lib/llvm-19/lib, so a folder rule made the
# manifest depend on whether an unrelated -dev package was installed.
_TOOLCHAIN_SONAME_RE = re.compile(
    r"^lib(?:LLVM|clang-cpp|clang|LTO|Remarks|Polly|lld[A-Za-z]*)(?:[-.][0-9][0-9.]*)?\.so(?:\.[0-9.]+)?$")

LEFT_OUT_REASON = "system library (not part of the LLVM toolchain; its version is the distribution's)"


@dataclass(frozen=True)
class LoadedLibraries:
    """What the toolchain's executables load, split by soname."""
    toolchain: Mapping[str, Path]    # soname -> resolved file (hashed, never written)
    left_out: tuple[str, ...]        # sonames of system libraries, sorted


def is_toolchain_soname(soname: str) -> bool:
    return _TOOLCHAIN_SONAME_RE.match(soname) is not None


def loaded_libraries(tool_paths: list[str]) -> LoadedLibraries:
    """Every shared library the tools load, as the dynamic loader resolves
    them for the build (``ldd`` with the same scrubbed environment the
    stages run the tools in, so a builder's LD_LIBRARY_PATH plays no part).

    Libraries are keyed by soname wherever the loader finds them; system
    libraries (libc, libstdc++, zlib...) are named in ``left_out``.
    """
    toolchain: dict[str, Path] = {}
    left_out: set[str] = set()
    for tool in sorted({os.path.realpath(t) for t in tool_paths}):
        try:
            proc = subprocess.run(["ldd", tool], capture_output=True, text=True, timeout=60,
                                  env={"PATH": _PATH_FOR_PROBES, "LC_ALL": "C"}, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InputError(f"toolchain: cannot list the libraries of {tool} with ldd: "
                             f"{exc}") from None
        if proc.returncode != 0:
            # A static executable ("not a dynamic executable") loads nothing.
            continue
        for line in proc.stdout.splitlines():
            if (missing := _LDD_NOT_FOUND_RE.match(line)) is not None:
                raise InputError(f"toolchain: {tool} needs {missing.group(1)}, which the "
                                 "dynamic loader cannot find; reinstall the toolchain packages")
            if (found := _LDD_FOUND_RE.match(line)) is not None:
                soname, where = found.group(1), found.group(2)
            elif (interp := _LDD_INTERPRETER_RE.match(line)) is not None:
                soname, where = os.path.basename(interp.group(1)), interp.group(1)
            else:
                continue
            if is_toolchain_soname(soname):
                real = Path(os.path.realpath(where))
                if toolchain.setdefault(soname, real) != real:
                    raise InputError(f"toolchain: the tools load two different files as {soname} "
                                     f"({toolchain[soname]} and {real}); a build cannot say "
                                     "which code generator it used")
            else:
                left_out.add(soname)
    return LoadedLibraries(dict(sorted(toolchain.items())), tuple(sorted(left_out)))


def _resource_headers(clang: str, env: Mapping[str, str]) -> dict[str, Path]:
    """clang's own headers (``<resource dir>/include``), relative path -> file."""
    try:
        proc = subprocess.run([clang, "-print-resource-dir"], capture_output=True, text=True,
                              env=dict(env), timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"{clang}: cannot run `-print-resource-dir`: {exc}") from None
    include = Path(proc.stdout.strip()) / "include"
    if proc.returncode != 0 or not include.is_dir():
        raise InputError(f"{clang}: no resource headers (`-print-resource-dir` gave "
                         f"{proc.stdout.strip()!r}); reinstall clang")
    return {p.relative_to(include).as_posix(): p
            for p in sorted(include.rglob("*")) if p.is_file()}


def _version_line(path: str, env: Mapping[str, str]) -> str:
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True,
                              env=dict(env), timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"{path}: cannot run `--version`: {exc}") from None
    lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    # llvm-ar, llvm-lipo and friends print a banner line before the version.
    for line in lines:
        if "version" in line.lower():
            return line
    return lines[0] if lines else ""


def _missing_error(missing: list[tuple[str, str]]) -> InputError:
    packages = sorted({pkg for _, pkg in missing})
    return InputError(
        "toolchain 'llvm': missing " + ", ".join(cmd for cmd, _ in missing)
        + f"; install them with: apt-get install {' '.join(packages)} (or run .ci/setup)")


PROVIDERS = ("llvm", "source")


def _find_llvm(major: int, search_path: str | None,
               skip: frozenset[str] = frozenset()) -> dict[str, tuple[str, str]]:
    """Role -> (command, path found on ``search_path``), or say what to
    install; roles in ``skip`` come from elsewhere."""
    path = search_path if search_path is not None else os.environ.get("PATH", "")
    found: dict[str, tuple[str, str]] = {}
    missing: list[tuple[str, str]] = []
    for role, (stem, package) in LLVM_TOOLS.items():
        if role in skip:
            continue
        command = f"{stem}-{major}"
        where = shutil.which(command, path=path)
        if where is None:
            missing.append((command, f"{package}-{major}"))
        else:
            found[role] = (command, where)
    if missing:
        raise _missing_error(missing)
    return found


@dataclass(frozen=True)
class BuiltTree:
    """A source recipe's installed tree, which may not be built yet: its
    folder (named ``<recipe>-<key prefix>``) and what the recipe installs."""
    path: Path
    installs: tuple[str, ...]       # "bin/ld64.lld", ...


def built_tools(trees: Sequence[BuiltTree]) -> dict[str, tuple[str, str]]:
    """Role -> (command, path) for what the source recipes install: a
    tree's ``bin/<role>`` stands in for that role."""
    found: dict[str, tuple[str, str]] = {}
    for tree in trees:
        for dest in tree.installs:
            folder, _, role = dest.rpartition("/")
            if folder != "bin" or role not in LLVM_TOOLS:
                continue
            if role in found:
                raise InputError(f"toolchain 'source': two recipes install {role} "
                                 f"({found[role][0]} and {tree.path.name}/{dest})")
            found[role] = (f"{tree.path.name}/{dest}", str(tree.path / dest))
    return found


def _select(provider: str, major: int, built: Sequence[BuiltTree],
            search_path: str | None = None) -> dict[str, tuple[str, str]]:
    if provider not in PROVIDERS:
        raise UnsupportedError(f"toolchain provider {provider!r} is not implemented "
                               f"(one of {', '.join(PROVIDERS)}; see patches/README.md)")
    if provider == "llvm":
        if built:
            raise InputError("toolchain 'llvm' takes no recipes (they are for 'source')")
        return _find_llvm(major, search_path)
    if not built:
        raise InputError("toolchain 'source' needs at least one recipe's installed tree")
    own = built_tools(built)
    if "clang" in own:
        raise InputError("toolchain 'source': the compiler stays Debian's clang; "
                         "a recipe may not install bin/clang")
    return {**_find_llvm(major, search_path, frozenset(own)), **own}


def resolve_llvm(major: int = 19, *, search_path: str | None = None) -> Toolchain:
    """Find every LLVM tool of one major version, or say what to install."""
    return _resolve("llvm", major, (), search_path)


def _resolve(provider: str, major: int, built: Sequence[BuiltTree],
             search_path: str | None) -> Toolchain:
    env = {"PATH": search_path if search_path is not None else os.environ.get("PATH", ""),
           "LC_ALL": "C"}
    selected = _select(provider, major, built, search_path)
    missing = [where for _command, where in selected.values() if not os.path.isfile(where)]
    if missing:
        raise InputError(f"toolchain '{provider}': not built yet: {', '.join(missing)} "
                         "(run `reprodmg toolchain build` or the doit graph)")
    tools = {role: Tool(role, command, where, _version_line(where, env),
                        sha256_file(os.path.realpath(where)))
             for role, (command, where) in sorted(selected.items())}
    clang_version = tools["clang"].version
    if f"version {major}." not in clang_version:
        raise InputError(f"toolchain '{provider}': {tools['clang'].command} reports "
                         f"{clang_version!r}, expected major version {major}")
    loaded = loaded_libraries([t.path for t in tools.values()])
    libraries = {soname: sha256_file(path) for soname, path in loaded.toolchain.items()}
    headers = {rel: sha256_file(path)
               for rel, path in _resource_headers(tools["clang"].path, env).items()}
    recipes = {}
    for tree in built:
        record = read_json(tree.path / "toolchain.json")
        recipes[record.get("recipe", {}).get("name", tree.path.name)] = record
    return Toolchain(provider, major, tools, libraries, loaded.left_out, headers, recipes)


def resolve(provider: str = "llvm", major: int = 19, *,
            built: Sequence[BuiltTree] = ()) -> Toolchain:
    """The toolchain with versions and hashes (the toolchain stage's manifest).
    ``built``: the installed trees of the source recipes (provider "source")."""
    return _resolve(provider, major, built, None)


def locate(provider: str = "llvm", major: int = 19, *,
           built: Sequence[BuiltTree] = ()) -> dict[str, str]:
    """Role -> path to run, without hashing (for the compile/link actions).

    Raises the same "what to install" error as ``resolve`` when a tool is missing.
    """
    return {role: where for role, (_command, where) in _select(provider, major, built).items()}


def tool_paths(provider: str = "llvm", major: int = 19, *,
               built: Sequence[BuiltTree] = ()) -> list[Path]:
    """Every file of the toolchain that shapes an output, for doit's file_dep:
    the resolved executables, the LLVM libraries they load and clang's
    resource headers (see the module docstring)."""
    tools = locate(provider, major, built=built)
    files = {Path(os.path.realpath(p)) for p in tools.values()}
    present = [p for p in tools.values() if os.path.isfile(p)]
    files |= set(loaded_libraries(present).toolchain.values())
    files |= set(_resource_headers(tools["clang"], {"PATH": _PATH_FOR_PROBES,
                                                    "LC_ALL": "C"}).values())
    return sorted(files)


def write_manifest(out_path: str | os.PathLike, provider: str = "llvm", major: int = 19,
                   built: Sequence[BuiltTree] = ()) -> dict:
    """The toolchain stage: resolve the tools and write their manifest as JSON."""
    from ..jsonfile import write_json

    data = resolve(provider, major, built=built).to_json()
    write_json(out_path, data)
    return data
