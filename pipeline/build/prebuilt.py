"""A bundle built elsewhere (CMake, cargo, Electron packagers...), brought
into the reproducible back half: copied without what a build host leaks.

What is removed or normalised, and reported: Finder droppings
(``.DS_Store``), archive-tool folders (``__MACOSX``) and AppleDouble files
(``._name``); modification times (set to the epoch); permission bits
(0755 for folders and executables, 0644 otherwise); owners (the volume
writer stores 0:0 whatever they were); extended attributes (not copied).
"""

from __future__ import annotations

import lzma
import os
import plistlib
import posixpath
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import tarball
from ..errors import CorruptError, InputError
from ..jsonfile import require_sha256, write_json
from .bundle import normalise_tree, replaced_folder
from .manifest import tree_entries

if TYPE_CHECKING:
    from .config import ReleaseConfig

NOISE_FILES = frozenset({".DS_Store"})
NOISE_FOLDERS = frozenset({"__MACOSX"})


@dataclass
class ImportReport:
    """What the import changed, relative to the bundle as it was given."""

    removed: list[str] = field(default_factory=list)   # noise files and folders, sorted
    modes: int = 0          # items whose permission bits were changed
    times: int = 0          # items whose modification time was changed
    xattrs: int = 0         # extended attributes not copied

    def to_json(self) -> dict:
        return {"removed": self.removed, "modes": self.modes, "times": self.times,
                "xattrs": self.xattrs}


def _is_noise(name: str, is_dir: bool) -> bool:
    return (name in NOISE_FOLDERS) if is_dir else (name in NOISE_FILES or name.startswith("._"))


def import_app(src: str | os.PathLike, dest_dir: str | os.PathLike, *,
               epoch: int, name: str | None = None) -> tuple[Path, ImportReport]:
    """Copy the bundle ``src`` to ``dest_dir/<name>`` (default: its own name)
    without host noise."""
    src = Path(src)
    if not (src.is_dir() and (src / "Contents").is_dir()):
        raise InputError(f"{src}: not an application bundle (no Contents folder)")
    report = ImportReport()
    final = Path(dest_dir) / (name or src.name)
    with replaced_folder(final) as tmp:
        tmp.mkdir(parents=True)
        for dirpath, dirnames, filenames in os.walk(src):
            here = Path(dirpath)
            rel = here.relative_to(src)
            for name in sorted(dirnames):
                path = here / name
                if _is_noise(name, True) and not path.is_symlink():
                    report.removed.append(f"{(rel / name).as_posix()}/")
                    dirnames.remove(name)
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                path = here / name
                target = tmp / rel / name
                report.xattrs += _count_xattrs(path)
                if path.is_symlink():
                    link = os.readlink(path)
                    _check_link(path, link, (rel / name).as_posix())
                    os.symlink(link, target)
                elif path.is_dir():
                    target.mkdir()
                elif _is_noise(name, False):
                    report.removed.append((rel / name).as_posix())
                elif not path.is_file():
                    raise InputError(f"{path}: not a file, folder or symbolic link")
                else:
                    shutil.copyfile(path, target)
                    os.chmod(target, os.stat(path).st_mode & 0o777)
        report.xattrs += _count_xattrs(src)
        before = _modes_and_times(src)
        normalise_tree(tmp, epoch)
        after = _modes_and_times(tmp)
        for rel, (mode, mtime) in after.items():
            old = before.get(rel)
            if old is not None:
                report.modes += old[0] != mode
                report.times += old[1] != mtime
    report.removed.sort()
    return final, report


def _check_link(path: Path, link: str, rel: str) -> None:
    """A link must stay inside the bundle: on the user's disk an absolute or
    escaping link would point at whatever that machine has there."""
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), link))
    if link.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise InputError(f"{path}: symbolic link to {link!r} leaves the bundle")


def _count_xattrs(path: Path) -> int:
    try:
        return len(os.listxattr(path, follow_symlinks=False))
    except OSError:
        return 0


def _modes_and_times(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, ""]:
            path = Path(dirpath) / name if name else Path(dirpath)
            if path.is_symlink():
                continue
            st = path.stat()
            out[path.relative_to(root).as_posix()] = (st.st_mode & 0o777, int(st.st_mtime))
    return out


# --------------------------------------------------------------------------
# The release's prebuilt bundle (``[app] prebuilt``)


def check_info_plist(app: Path, cfg: "ReleaseConfig", shown: str) -> dict[str, Any]:
    """The bundle must be the one the configuration describes: its identifier
    and version, and an executable where Info.plist says.  ``shown`` names
    the bundle in errors as the user gave it."""
    where = f"{shown}/Contents/Info.plist"
    try:
        with open(app / "Contents" / "Info.plist", "rb") as fh:
            info = plistlib.load(fh)
    except FileNotFoundError:
        raise InputError(f"{where}: missing (an application bundle needs one)") from None
    except (plistlib.InvalidFileException, ValueError, OverflowError) as exc:
        raise InputError(f"{where}: not a property list ({exc})") from None
    if not isinstance(info, dict):
        raise InputError(f"{where}: not a dictionary at the top")
    checks = (("CFBundleIdentifier", cfg.bundle_id, "app.bundle_id", True),
              ("CFBundleShortVersionString", cfg.version, "app.version", False))
    for key, expected, config_key, required in checks:
        value = info.get(key)
        if value is None and not required:
            continue
        if value != expected:
            raise InputError(f"{where}: {key} is {value!r} but {cfg.path.name} says "
                             f"{config_key} = {expected!r}")
    executable = info.get("CFBundleExecutable")
    if not isinstance(executable, str) or "/" in executable or not executable:
        raise InputError(f"{where}: CFBundleExecutable missing or not a file name")
    if not (app / "Contents" / "MacOS" / executable).is_file():
        raise InputError(f"{shown}/Contents/MacOS/{executable}: missing (Info.plist's "
                         "CFBundleExecutable)")
    return info


def _single_app(folder: Path, archive: str) -> Path:
    apps = sorted(p for p in folder.iterdir() if p.name.endswith(".app") and p.is_dir()
                  and not p.is_symlink())
    if len(apps) != 1:
        found = ", ".join(p.name for p in apps) or "none"
        raise InputError(f"{archive}: expected one Name.app at the top of the tarball, "
                         f"found {found}")
    return apps[0]


def _uncompressed(source: Path, scratch: Path) -> Path:
    """A compressed tarball, decompressed into ``scratch`` (bounded: a
    decompression bomb stops at the tarball reader's total limit)."""
    if not source.name.endswith(tuple(tarball.DECOMPRESSORS)):
        return source
    written = 0
    try:
        with tarball.open_decompressed(source) as src, open(scratch, "wb") as dst:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > tarball.DEFAULT_MAX_TOTAL:
                    raise InputError(f"{source}: expands to more than "
                                     f"{tarball.DEFAULT_MAX_TOTAL >> 30} GiB")
                dst.write(chunk)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise CorruptError(source, "compressed stream", str(exc)) from None
    return scratch


def import_release_app(cfg: "ReleaseConfig", out_dir: str | os.PathLike,
                       report_path: str | os.PathLike, *, epoch: int) -> Path:
    """``[app] prebuilt`` -> ``out_dir/<name>.app`` and the import report
    (what was normalised, and every imported file with its hash)."""
    spec = cfg.prebuilt
    assert spec is not None
    source = cfg.root / spec.path
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"source": spec.path}
    with tempfile.TemporaryDirectory(prefix=".import-", dir=out_dir) as work:
        if spec.is_tarball:
            record["sha256"] = require_sha256(source, spec.sha256,
                                              "prebuilt tarball refused before extraction")
            tarball.safe_extract(_uncompressed(source, Path(work) / "plain.tar"),
                                 Path(work) / "x")
            src_app = _single_app(Path(work) / "x", spec.path)
            shown = f"{spec.path}:{src_app.name}"
        else:
            src_app, shown = source, spec.path
        check_info_plist(src_app, cfg, shown)
        app, report = import_app(src_app, out_dir, epoch=epoch, name=f"{cfg.name}.app")
    record["normalised"] = report.to_json()
    record["app"] = [{**e, "path": f"{app.name}/{e['path']}"} for e in tree_entries(app)]
    write_json(report_path, record)
    return app


def source_listing(source: Path) -> tuple[list[Path], list[list[str]]]:
    """A prebuilt source in one walk: its regular files (doit's file_dep) and
    its symbolic links with their targets (links are no file_dep)."""
    if not source.is_dir():
        return [source], []
    files, links = [], []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            if path.is_symlink():
                links.append([path.relative_to(source).as_posix(), os.readlink(path)])
            elif path.is_file():
                files.append(path)
    return files, links
