"""Toolchains built from pinned sources with the project's patches.

A recipe (``patches/<component>/recipe.toml``) names its source archives by
SHA-256 (and, optionally, the Debian source package that provides one),
the parts of them the build needs, the host tools it runs, the build steps
and the files it installs; the patch series is
``patches/<component>/NNNN-*.patch``, applied in order.  ``provide``:

    fetch (apt-get source, into the cache) -> verify SHA-256 before reading
    -> extract only the named paths -> apply the patches (a hunk that does
    not apply stops the build naming patch and hunk) -> run the steps with
    a scrubbed environment -> install into the cache, keyed by the hashes of
    sources, patches, recipe and host tools -> toolchain.json

A key that is already installed is reused: a second run does nothing, a
changed patch (or recipe, source, host tool) builds into a new key.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import patchfile, tarball
from ..errors import CorruptError, InputError
from ..jsonfile import canonical_json, require_sha256, sha256_file, write_json
from .compiler import scrubbed_env
from .debsource import SourceTarball
from . import debsource
from .tomlfile import Table, read_toml
from .toolchain import BuiltTree

_PATCH_RE = re.compile(r"^[0-9]{4}-[A-Za-z0-9._-]+\.patch$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MANIFEST = "toolchain.json"
_MAX_MEMBER = 1 << 30


@dataclass(frozen=True)
class Source:
    file: str
    sha256: str
    debian: SourceTarball | None = None     # how to fetch it, if not already in the cache


@dataclass(frozen=True)
class Recipe:
    path: Path
    name: str
    sources: tuple[Source, ...]
    strip: int                      # leading folders dropped from member names
    paths: tuple[str, ...]          # what to extract (after strip), as prefixes
    host_tools: tuple[str, ...]
    steps: tuple[tuple[str, ...], ...]
    install: tuple[tuple[str, str], ...]   # (installed path, built path with placeholders)
    support: tuple[str, ...] = ()   # files beside the recipe the steps read, as {support}/...

    @property
    def patches_dir(self) -> Path:
        return self.path.parent


def load_recipe(path: str | os.PathLike) -> Recipe:
    """Read and check a recipe; unknown keys and bad values name the key."""
    where = os.fspath(path)
    top = Table(read_toml(path, "toolchain recipe"), "", where,
                ("name", "sources", "extract", "host_tools", "steps", "install", "support"))
    name = top.get("name", str)
    if not _NAME_RE.match(name):
        raise top.error("name", f"{name!r}: not a plain name")
    sources = []
    for i, raw in enumerate(top.get("sources", list)):
        if not isinstance(raw, dict):
            raise top.error(f"sources[{i}]", "expected a table")
        t = Table(raw, f"sources[{i}].", where, ("file", "sha256", "debian"))
        file = t.get("file", str)
        if not _NAME_RE.match(file):
            raise t.error("file", f"{file!r}: not a plain file name")
        debian = None
        if "debian" in raw:
            d = t.table("debian", ("package", "version"))
            debian = SourceTarball(d.get("package", str), d.get("version", str), file,
                                   t.sha256("sha256"))
            d.finish()
        sources.append(Source(file, t.sha256("sha256"), debian))
        t.finish()
    if len(sources) != 1:
        raise top.error("sources", "exactly one source archive is supported")
    extract = top.table("extract", ("strip", "paths"))
    strip = extract.get("strip", int, default=0)
    paths = extract.strings("paths")
    for i, p in enumerate(paths):
        if p.startswith("/") or ".." in p.split("/") or not p:
            raise extract.error(f"paths[{i}]", f"{p!r}: not a relative path")
    extract.finish()
    host_tools = top.strings("host_tools", default=())
    steps = []
    for i, step in enumerate(top.get("steps", list)):
        if not isinstance(step, list) or not step or not all(isinstance(a, str) for a in step):
            raise top.error(f"steps[{i}]", "expected a non-empty array of strings")
        if step[0] not in host_tools:
            raise top.error(f"steps[{i}]", f"{step[0]!r} is not one of host_tools")
        steps.append(tuple(step))
    install = top.get("install", dict)
    for dest, built in install.items():
        if not isinstance(built, str) or dest.startswith("/") or ".." in dest.split("/"):
            raise top.error(f"install.{dest}", "expected 'relative/path' = '{build}/...'")
    support = top.strings("support", default=())
    for i, rel in enumerate(support):
        if rel.startswith("/") or ".." in rel.split("/") or rel.endswith(".patch") \
                or not (Path(path).parent / rel).is_file():
            raise top.error(f"support[{i}]", f"{rel!r}: not a file beside the recipe")
    top.finish()
    return Recipe(Path(path), name, tuple(sources), strip, tuple(paths), tuple(host_tools),
                  tuple(steps), tuple(sorted(install.items())), tuple(sorted(support)))


def patch_series(recipe: Recipe) -> list[Path]:
    """``NNNN-*.patch`` beside the recipe, in order; other names are refused."""
    found = sorted(p for p in recipe.patches_dir.iterdir() if p.suffix == ".patch")
    for p in found:
        if not _PATCH_RE.match(p.name):
            raise InputError(f"{p}: patch names are NNNN-what.patch (applied in that order)")
    return found


def _host_tool_path(name: str) -> str:
    path = shutil.which(name, path=scrubbed_env(0)["PATH"])
    if path is None:
        raise InputError(f"host tool {name!r} not found (run .ci/setup)")
    return path


def _host_tool(name: str) -> dict[str, str]:
    """What identifies a host tool: its file's hash and version line (not
    its path, which says nothing about the code that runs)."""
    path = _host_tool_path(name)
    proc = subprocess.run([path, "--version"], capture_output=True, text=True,
                          env=scrubbed_env(0), check=False)
    first = (proc.stdout or proc.stderr).strip().splitlines()[:1]
    return {"sha256": sha256_file(os.path.realpath(path)), "version": first[0] if first else ""}


def build_inputs(recipe: Recipe) -> dict[str, Any]:
    """Everything the installed tree is a function of (hashed into the key)."""
    folder = recipe.patches_dir
    return {
        "recipe": {"name": recipe.name, "sha256": sha256_file(recipe.path)},
        "sources": {s.file: s.sha256 for s in recipe.sources},
        "patches": {p.name: sha256_file(p) for p in patch_series(recipe)},
        "support": {rel: sha256_file(folder / rel) for rel in recipe.support},
        "host_tools": {t: _host_tool(t) for t in recipe.host_tools},
    }


def install_dir(recipe: Recipe, cache_dir: str | os.PathLike) -> Path:
    """Where ``provide`` installs (or has installed) the recipe's tree for
    today's inputs; nothing is built."""
    return _install_path(recipe, Path(cache_dir).resolve(), build_inputs(recipe))


def planned_tree(recipe: Recipe, cache_dir: str | os.PathLike) -> BuiltTree:
    """The tree ``provide`` installs for today's inputs, and what it holds
    (for the toolchain stage, before anything is built)."""
    return BuiltTree(install_dir(recipe, cache_dir), tuple(dest for dest, _ in recipe.install))


def _key(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(inputs)).hexdigest()


def _install_path(recipe: Recipe, cache: Path, inputs: dict[str, Any]) -> Path:
    return cache / "toolchains" / f"{recipe.name}-{_key(inputs)[:16]}"


def _fetch(source: Source, cache: Path) -> Path:
    path = cache / source.file
    if not path.exists():
        if source.debian is None:
            raise InputError(f"{source.file}: not in {cache} and the recipe names no Debian "
                             "source package to fetch it from")
        return debsource.fetch(source.debian, cache)
    require_sha256(path, source.sha256, "source archive refused before extraction")
    return path


def _extract(archive: Path, dest: Path, strip: int, wanted: tuple[str, ...]) -> int:
    """Only the members under ``wanted`` (after dropping ``strip`` folders):
    files, folders and links that stay inside; returns the file count."""
    count = 0
    with tarball.stream_members(archive) as tar:
        for info in tar:
            parts = info.name.split("/")[strip:]
            rel = "/".join(p for p in parts if p)
            if not rel or not any(rel == w.rstrip("/") or rel.startswith(w.rstrip("/") + "/")
                                  for w in wanted):
                continue
            if rel.startswith("/") or ".." in rel.split("/"):
                raise CorruptError(archive, info.name, "member name leaves the tree")
            target = dest / rel
            if info.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif info.isfile():
                if info.size > _MAX_MEMBER:
                    raise CorruptError(archive, info.name, f"{info.size} bytes")
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                os.chmod(target, 0o755 if info.mode & 0o100 else 0o644)
                count += 1
            elif info.issym():
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel),
                                                             info.linkname))
                if info.linkname.startswith("/") or resolved.startswith(".."):
                    raise CorruptError(archive, info.name, "link leaves the tree")
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(info.linkname, target)
            else:
                raise CorruptError(archive, info.name, "not a file, folder or link")
    if count == 0:
        raise CorruptError(archive, "extract.paths", f"nothing under {', '.join(wanted)}")
    return count


def _expand(arg: str, work: Path, jobs: int) -> str:
    for name in ("src", "build", "support"):
        arg = arg.replace("{" + name + "}", os.fspath(work / name))
    return arg.replace("{jobs}", str(jobs))


def provide(recipe: Recipe, cache_dir: str | os.PathLike, *, jobs: int | None = None) -> Path:
    """The recipe's installed tree in the cache (built now if its key is new)."""
    # Steps run in the build folder: every path handed to them must be absolute.
    cache = Path(cache_dir).resolve()
    inputs = build_inputs(recipe)
    key = _key(inputs)
    final = _install_path(recipe, cache, inputs)
    if (final / MANIFEST).is_file():
        return final
    archive = _fetch(recipe.sources[0], cache)
    final.parent.mkdir(parents=True, exist_ok=True)
    jobs = jobs or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix=f".{recipe.name}-", dir=final.parent) as tmp:
        work = Path(tmp)
        src, build, out = work / "src", work / "build", work / "install"
        src.mkdir()
        build.mkdir()
        _extract(archive, src, recipe.strip, recipe.paths)
        for patch in patch_series(recipe):
            patchfile.apply_to_tree(patch, src)
        for rel in recipe.support:
            (work / "support" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(recipe.patches_dir / rel, work / "support" / rel)
        env = scrubbed_env(0)
        tools = {t: _host_tool_path(t) for t in recipe.host_tools}
        for step in recipe.steps:
            cmd = [tools[step[0]], *(_expand(a, work, jobs) for a in step[1:])]
            proc = subprocess.run(cmd, cwd=build, env=env, capture_output=True, text=True,
                                  errors="replace", check=False)
            if proc.returncode != 0:
                # The whole output outlives the work folder, for the reader.
                log = final.parent / f"{final.name}.failed.log"
                log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
                raise InputError(f"{recipe.path}: step {' '.join(step)!r} failed "
                                 f"(exit {proc.returncode}; whole output in {log}): "
                                 + " / ".join(tail))
        installed = {}
        for dest, built in recipe.install:
            source = Path(_expand(built, work, jobs))
            if not source.is_file():
                raise InputError(f"{recipe.path}: install.{dest}: the build made no {built}")
            target = out / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            os.chmod(target, 0o755)
            installed[dest] = sha256_file(target)
        write_json(out / MANIFEST, {**inputs, "installed": installed, "key": key})
        os.replace(out, final)
    return final
