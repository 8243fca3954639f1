"""Finding the parts of a bundle that a signature seals.

macOS bundles keep everything under ``Contents/``; frameworks keep it in
``Versions/<v>/`` with ``Resources/Info.plist``.  Special slot -1 seals the
Info.plist, slot -3 the ``_CodeSignature/CodeResources`` of the bundle
whose main executable the code is.
"""

from __future__ import annotations

import os
import plistlib
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorruptError, InputError
from ..macho import is_macho


@dataclass
class BundleParts:
    contents: Path               # the folder CodeResources paths are relative to
    info_plist: Path | None
    code_resources: Path
    main_executable: Path | None

    @property
    def main_rel(self) -> str | None:
        if self.main_executable is None:
            return None
        return self.main_executable.relative_to(self.contents).as_posix()


def bundle_parts(root: Path) -> BundleParts:
    """Parts of the bundle at ``root``: an ``.app`` (or ``.bundle``, ``.xpc``...)
    folder with ``Contents/``, a versioned framework (its current version,
    ``Versions/<v>/``, is what codesign signs and seals), or a flat bundle."""
    current = root / "Versions" / "Current"
    if root.name.endswith(".framework") and current.is_symlink() and current.is_dir():
        target = os.readlink(current)
        # Current names a sibling version folder; anything else is not a framework layout.
        if "/" not in target and target not in (".", "..") and \
                not (root / "Versions" / target).is_symlink():
            root = root / "Versions" / target
    contents = root / "Contents" if (root / "Contents").is_dir() else root
    info = contents / "Info.plist"
    if not info.is_file() and (contents / "Resources" / "Info.plist").is_file():
        info = contents / "Resources" / "Info.plist"
    main = None
    if info.is_file():
        name = read_info_plist(info).get("CFBundleExecutable")
        if isinstance(name, str) and len(name.encode("utf-8", "surrogateescape")) > 255:
            # No file system holds such a name: refuse it rather than ask the OS.
            raise CorruptError(info, "Info.plist CFBundleExecutable",
                               f"{name[:40]!r}... is longer than 255 bytes")
        if isinstance(name, str) and name and "/" not in name and "\0" not in name:
            for cand in (contents / "MacOS" / name, contents / name):
                if cand.is_file():
                    main = cand
                    break
    return BundleParts(contents, info if info.is_file() else None,
                       contents / "_CodeSignature" / "CodeResources", main)


def read_info_plist(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            data = fh.read(16 << 20)
        value = plistlib.loads(data)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except Exception as exc:
        raise CorruptError(path, "Info.plist", f"not a property list ({exc})") from None
    if not isinstance(value, dict):
        raise CorruptError(path, "Info.plist", "top level is not a dictionary")
    return value


def owning_bundle(executable: Path, root: Path) -> BundleParts | None:
    """The bundle whose main executable ``executable`` is, if any (inside ``root``)."""
    folder = executable.parent
    candidates = []
    if folder.name == "MacOS":
        candidates.append(folder.parent.parent)          # X.app/Contents/MacOS/x
    candidates.append(folder)                            # X.framework/Versions/A/x
    for cand in candidates:
        try:
            cand.relative_to(root)
        except ValueError:
            continue
        parts = bundle_parts(cand)
        if parts.main_executable is not None and \
                os.path.samefile(parts.main_executable, executable):
            return parts
    return None


def macho_files(root: Path) -> list[Path]:
    """Every regular Mach-O file under ``root`` (or ``root`` itself), sorted."""
    if root.is_file():
        return [root]
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_size < 8:
                continue
            with open(path, "rb") as fh:
                if is_macho(fh.read(8)):
                    found.append(path)
    return found


def relative_name(path: Path, root: Path) -> str:
    if root.is_file():
        return root.name
    return path.relative_to(root).as_posix()
