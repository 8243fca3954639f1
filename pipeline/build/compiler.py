"""Compile, archive, link and lipo: the LLVM steps from sources to a universal binary.

Every tool runs with a scrubbed environment (nothing inherited: LC_ALL=C,
TZ=UTC, ZERO_AR_DATE=1, SOURCE_DATE_EPOCH) from the source folder, with
relative source names and ``-ffile-prefix-map`` for every absolute folder
the compiler sees, so neither the checkout's nor the build folder's path
can reach an object file (``__FILE__`` in an SDK header's ``assert`` would
otherwise embed it).  Outputs are written under a temporary name and
renamed into place.

arm64 executables keep the ad-hoc ``linker-signed`` signature that lld adds
by default: Apple silicon refuses to run unsigned arm64 code.  lld derives
the signature's identifier from the output file's name, so the link writes
``<dir>/<executable>`` in a private folder and renames that folder's file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Collection, Mapping, Sequence

from ..errors import InputError

# Where mapped paths point: stable, obviously synthetic names.
SOURCE_PREFIX = "."
SDK_PREFIX = "/SDK"
BUILD_PREFIX = "/build"

# What clang needs on PATH is nothing (tools are run by absolute path), but
# a driver may exec helpers; keep the system folders only.
_PATH = "/usr/bin:/bin"


class ToolError(InputError):
    """A compiler, archiver, linker or lipo run failed (bad source or flags: an input problem)."""


def scrubbed_env(epoch: int) -> dict[str, str]:
    """The whole environment of every toolchain subprocess."""
    return {
        "PATH": _PATH,
        "LC_ALL": "C",
        "LANG": "C",
        "TZ": "UTC",
        "ZERO_AR_DATE": "1",
        "SOURCE_DATE_EPOCH": str(int(epoch)),
    }


def _run(cmd: Sequence[str], *, cwd: str | os.PathLike, epoch: int, what: str) -> None:
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, env=scrubbed_env(epoch), capture_output=True,
                              text=True, errors="replace", check=False, timeout=600)
    except FileNotFoundError:
        raise InputError(f"{what}: {cmd[0]} not found (run .ci/setup)") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"{what}: {Path(cmd[0]).name} did not finish in 600 s") from None
    if proc.returncode != 0:
        output = (proc.stderr + proc.stdout).strip()
        lines = output.splitlines()
        if len(lines) > 40:
            lines = lines[:40] + [f"... ({len(lines) - 40} more lines)"]
        raise ToolError(f"{what}: {Path(cmd[0]).name} exited with status {proc.returncode}:\n"
                        + "\n".join(lines))


def target_triple(arch: str, minimum_macos: str) -> str:
    return f"{arch}-apple-macos{minimum_macos}"


def _prefix_maps(source_root: Path, sdk_root: Path, build_root: Path) -> list[str]:
    # clang splits -ffile-prefix-map=OLD=NEW at the first '=': a folder with
    # '=' in its path would be mapped wrongly and leak into the objects.
    for what, folder in (("source", source_root), ("SDK", sdk_root), ("build", build_root)):
        if "=" in str(folder):
            raise InputError(f"{folder}: the {what} folder's path contains '=', which clang's "
                             "-ffile-prefix-map cannot map (the path would leak into the "
                             "objects); build from a folder without '='")
    # Longest first: clang applies the first matching map, and the build
    # folder may sit inside the source folder.
    pairs = sorted([(str(source_root), SOURCE_PREFIX), (str(sdk_root), SDK_PREFIX),
                    (str(build_root), BUILD_PREFIX)], key=lambda p: -len(p[0]))
    return [f"-ffile-prefix-map={path}={repl}" for path, repl in pairs]


def _depfile_paths(text: str) -> list[str]:
    """The prerequisites of a Make rule as clang's ``-MD`` writes it:
    ``target: a b \\<newline> c``, a space in a name escaped as ``\\ ``."""
    body = text.replace("\\\n", " ").split(": ", 1)[-1]
    paths: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in " #":
            current.append(body[i + 1])
            i += 2
            continue
        if ch == "$" and body[i + 1:i + 2] == "$":
            current.append("$")
            i += 2
            continue
        if ch.isspace():
            if current:
                paths.append("".join(current))
                current = []
        else:
            current.append(ch)
        i += 1
    if current:
        paths.append("".join(current))
    return paths


def _undeclared_reads(dep_text: str, *, root: Path, allowed_dirs: Sequence[Path],
                      declared: Collection[str]) -> list[str]:
    """Files clang read that are neither declared inputs (relative to ``root``)
    nor under ``allowed_dirs`` (the SDK, the toolchain's own headers)."""
    out = []
    for dep in _depfile_paths(dep_text):
        path = Path(os.path.normpath(root / dep))
        if any(path.is_relative_to(d) for d in allowed_dirs):
            continue
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else None
        if rel is None or rel not in declared:
            out.append(rel or str(path))
    return sorted(set(out))


_CXX_SUFFIXES = (".cpp", ".cc", ".cxx", ".mm")
_OBJC_SUFFIXES = (".m", ".mm")


def language_flags(source: str, *, cxx_standard: str | None = None,
                   objc_arc: bool = False) -> list[str]:
    """The flags a source's language takes from the release configuration
    (clang picks the language itself from the suffix)."""
    flags = []
    if source.endswith(_CXX_SUFFIXES) and cxx_standard:
        flags.append(f"-std={cxx_standard}")
    if source.endswith(_OBJC_SUFFIXES) and objc_arc:
        flags.append("-fobjc-arc")
    return flags


def runtime_libraries(sources: Sequence[str]) -> list[str]:
    """The language runtimes a product's sources need at link time."""
    libs = []
    if any(s.endswith(_CXX_SUFFIXES) for s in sources):
        libs.append("-lc++")
    if any(s.endswith(_OBJC_SUFFIXES) for s in sources):
        libs.append("-lobjc")
    return libs


def compile_object(tools: Mapping[str, str], *, source: str, source_root: str | os.PathLike,
                   out: str | os.PathLike, arch: str, minimum_macos: str,
                   sdk_root: str | os.PathLike, build_root: str | os.PathLike,
                   include_dirs: Sequence[str] = (), cflags: Sequence[str] = (),
                   epoch: int = 0, declared_inputs: Collection[str] | None = None,
                   cxx_standard: str | None = None, objc_arc: bool = False) -> None:
    """clang -c one C, C++, Objective-C or Objective-C++ ``source`` (relative
    to ``source_root``) for one arch.

    With ``declared_inputs`` (paths relative to ``source_root``), a source
    that reads any other file outside the SDK and the compiler's own
    headers is refused: the build graph and the manifests would not see it,
    so editing it would neither rebuild nor show up as a changed input.
    """
    root = Path(source_root).resolve()
    sdk = Path(sdk_root).resolve()
    build = Path(build_root).resolve()
    final = Path(out)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".partial")
    depfile = final.with_name(final.name + ".d.partial")
    cmd = [tools["clang"], "-target", target_triple(arch, minimum_macos),
           "-isysroot", str(sdk), f"-mmacosx-version-min={minimum_macos}",
           *_prefix_maps(root, sdk, build),
           # No debug info: DWARF would carry compilation folders and the
           # producer string; dSYMs are out of scope for the demo build.
           "-g0", "-Werror=date-time",
           *[f"-I{d}" for d in include_dirs], *cflags,
           *language_flags(source, cxx_standard=cxx_standard, objc_arc=objc_arc),
           # What the compiler read, for the declared-inputs check (the
           # object file does not change).
           "-MD", "-MT", "object", "-MF", str(depfile.resolve()),
           "-c", source, "-o", str(tmp.resolve())]
    try:
        _run(cmd, cwd=root, epoch=epoch, what=f"compile {source} ({arch})")
        if declared_inputs is not None:
            toolchain_dir = Path(os.path.realpath(tools["clang"])).parent.parent
            undeclared = _undeclared_reads(depfile.read_text(errors="replace"), root=root,
                                           allowed_dirs=[sdk, toolchain_dir],
                                           declared=set(declared_inputs) | {source})
            if undeclared:
                raise ToolError(f"compile {source} ({arch}): reads {', '.join(undeclared)}, "
                                "not a declared input (headers count when they end in .h "
                                "and live in build.include_dirs or beside a source)")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
        depfile.unlink(missing_ok=True)


def archive(tools: Mapping[str, str], *, objects: Sequence[str | os.PathLike],
            out: str | os.PathLike, epoch: int = 0) -> None:
    """A static library with llvm-ar in deterministic mode (D: zero dates, uid, gid, mode 644)."""
    final = Path(out)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".partial")
    tmp.unlink(missing_ok=True)   # 'r' would add to a leftover archive
    cmd = [tools["llvm-ar"], "--format=darwin", "rcsD", str(tmp.resolve()),
           *[str(Path(o).resolve()) for o in objects]]
    try:
        _run(cmd, cwd=final.parent, epoch=epoch, what=f"archive {final.name}")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


LINK_KINDS = ("executable", "dylib", "bundle")


def link(tools: Mapping[str, str], *, objects: Sequence[str | os.PathLike],
         libraries: Sequence[str | os.PathLike] = (), out: str | os.PathLike, arch: str,
         minimum_macos: str, sdk_root: str | os.PathLike, epoch: int = 0,
         kind: str = "executable", install_name: str | None = None,
         rpaths: Sequence[str] = (), runtime: Sequence[str] = ()) -> None:
    """Link one architecture's executable, dylib or loadable bundle with
    ld64.lld (arm64: ad-hoc signed by lld).  ``libraries`` are static
    archives or other products' dylibs (their install names are recorded);
    ``runtime`` the language runtimes (``-lc++``, ``-lobjc``)."""
    if kind not in LINK_KINDS:
        raise ValueError(f"link kind {kind!r}")
    final = Path(out)
    final.parent.mkdir(parents=True, exist_ok=True)
    sdk = Path(sdk_root).resolve()
    shape = {"executable": [], "bundle": ["-bundle"],
             "dylib": ["-dynamiclib", "-install_name", install_name or f"@rpath/{final.name}"]}
    with tempfile.TemporaryDirectory(prefix=".link-", dir=final.parent) as private:
        tmp = Path(private) / final.name
        cmd = [tools["clang"], "-target", target_triple(arch, minimum_macos),
               "-isysroot", str(sdk), f"-mmacosx-version-min={minimum_macos}",
               "-fuse-ld=lld", f"--ld-path={tools['ld64.lld']}", *shape[kind],
               *[f"-Wl,-rpath,{r}" for r in rpaths],
               *[str(Path(o).resolve()) for o in objects],
               *[str(Path(lib).resolve()) for lib in libraries], *runtime,
               "-o", str(tmp.resolve())]
        _run(cmd, cwd=private, epoch=epoch, what=f"link {final.name} ({arch})")
        os.chmod(tmp, 0o755)
        os.replace(tmp, final)


def lipo(tools: Mapping[str, str], *, slices: Mapping[str, str | os.PathLike],
         out: str | os.PathLike, epoch: int = 0) -> None:
    """One universal binary from per-arch executables (a single arch is copied as is)."""
    final = Path(out)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".partial")
    try:
        if len(slices) == 1:
            shutil.copyfile(next(iter(slices.values())), tmp)
        else:
            cmd = [tools["llvm-lipo"], "-create",
                   *[str(Path(slices[arch]).resolve()) for arch in sorted(slices)],
                   "-output", str(tmp.resolve())]
            _run(cmd, cwd=final.parent, epoch=epoch, what=f"lipo {final.name}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
