"""Toolchain providers: find the compiler, linker and binutils, and record them.

The LLVM provider uses Debian's versioned packages (clang-19, lld-19,
llvm-19): one pinned major version, so every builder compiles with the same
code generator.  The toolchain manifest names each tool, its version line
and the SHA-256 of the executable file that runs, so two builders can tell
whether a differing binary comes from differing tools.

The cctools/ld64 provider (patches/README.md) is not implemented.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import InputError, UnsupportedError

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

    def __getitem__(self, role: str) -> str:
        """The path to run for ``role`` (e.g. ``toolchain["clang"]``)."""
        return self.tools[role].path

    def manifest(self) -> dict:
        """Deterministic description: names, versions, hashes; no host paths."""
        return {
            "provider": self.provider,
            "major": self.major,
            "tools": {role: {"command": t.command, "version": t.version, "sha256": t.sha256}
                      for role, t in sorted(self.tools.items())},
        }


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def resolve_llvm(major: int = 19, *, search_path: str | None = None) -> Toolchain:
    """Find every LLVM tool of one major version, or say what to install."""
    env = {"PATH": search_path if search_path is not None else os.environ.get("PATH", ""),
           "LC_ALL": "C"}
    tools: dict[str, Tool] = {}
    missing: list[tuple[str, str]] = []
    for role, (stem, package) in LLVM_TOOLS.items():
        command = f"{stem}-{major}"
        found = shutil.which(command, path=env["PATH"])
        if found is None:
            missing.append((command, f"{package}-{major}"))
            continue
        real = os.path.realpath(found)
        tools[role] = Tool(role, command, found, _version_line(found, env), _sha256_file(real))
    if missing:
        raise _missing_error(missing)
    clang_version = tools["clang"].version
    if f"version {major}." not in clang_version:
        raise InputError(f"toolchain 'llvm': {tools['clang'].command} reports {clang_version!r}, "
                         f"expected major version {major}")
    return Toolchain("llvm", major, tools)


def resolve(provider: str = "llvm", major: int = 19) -> Toolchain:
    if provider == "llvm":
        return resolve_llvm(major)
    raise UnsupportedError(f"toolchain provider {provider!r} is not implemented "
                           "(only 'llvm'; see patches/README.md for cctools/ld64)")


def locate(provider: str = "llvm", major: int = 19) -> dict[str, str]:
    """Role -> path to run, without hashing (for the compile/link actions).

    Raises the same "what to install" error as ``resolve`` when a tool is missing.
    """
    if provider != "llvm":
        raise UnsupportedError(f"toolchain provider {provider!r} is not implemented "
                               "(only 'llvm'; see patches/README.md for cctools/ld64)")
    found: dict[str, str] = {}
    missing: list[tuple[str, str]] = []
    for role, (stem, package) in LLVM_TOOLS.items():
        path = shutil.which(f"{stem}-{major}")
        if path is None:
            missing.append((f"{stem}-{major}", f"{package}-{major}"))
        else:
            found[role] = path
    if missing:
        raise _missing_error(missing)
    return found


def tool_paths(provider: str = "llvm", major: int = 19) -> list[Path]:
    """The resolved executables a provider uses, for doit's file_dep."""
    return sorted({Path(os.path.realpath(p)) for p in locate(provider, major).values()})


def write_manifest(out_path: str | os.PathLike, provider: str = "llvm", major: int = 19) -> dict:
    """The toolchain stage: resolve the tools and write their manifest as JSON."""
    from .manifest import write_json

    data = resolve(provider, major).manifest()
    write_json(out_path, data)
    return data
