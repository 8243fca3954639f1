"""The order in which a bundle's code is signed: inside out.

A seal (CodeResources) records the cdhash of every piece of nested code,
so that code must be signed first: the loose Mach-O files of the innermost
bundles (dylibs, helpers), then those bundles' main executables (which seal
their Info.plist and CodeResources), then the next bundle out, ending with
the outer bundle's main executable.  Bundles are folders with a bundle
suffix (``.framework``, ``.app``, ``.bundle``, ``.plugin``, ``.xpc``,
``.appex``, ``.kext``) that have a main executable; links are never
followed, so a framework's ``Versions/Current`` is visited once, as
``Versions/A``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .bundle import BundleParts, bundle_parts, macho_files
from .coderesources import BUNDLE_SUFFIXES


@dataclass
class BundleCode:
    """One bundle in signing order: its loose code, then its main executable."""
    root: Path                        # the bundle folder (Foo.framework, Bar.app)
    parts: BundleParts
    loose: list[Path] = field(default_factory=list)   # Mach-O files that are not a main executable


def _nested_bundles(root: Path) -> list[BundleCode]:
    """Folders under ``root`` (not ``root`` itself) that are bundles with code,
    each with its parts (read once)."""
    found = []
    for dirpath, dirnames, _files in os.walk(root):
        dirnames.sort()
        here = Path(dirpath)
        for name in dirnames:
            path = here / name
            if name.endswith(BUNDLE_SUFFIXES) and not path.is_symlink():
                parts = bundle_parts(path)
                if parts.main_executable is not None:
                    found.append(BundleCode(path, parts))
    return found


def signing_order(app: Path) -> list[BundleCode]:
    """Every bundle of ``app`` with its loose code, deepest first, ``app`` last."""
    bundles = [*_nested_bundles(app), BundleCode(app, bundle_parts(app))]
    # Each Mach-O file belongs to the innermost bundle folder that holds it.
    by_depth = sorted(bundles, key=lambda b: len(b.root.parts), reverse=True)
    mains = {b.parts.main_executable for b in bundles if b.parts.main_executable}
    for path in macho_files(app):
        if path in mains:
            continue
        owner = next(b for b in by_depth if b.root == app or b.root in path.parents)
        owner.loose.append(path)
    for b in bundles:
        b.loose.sort(key=lambda p: (-len(p.parts), p.as_posix()))
    return sorted(bundles, key=lambda b: (b.root != app, len(b.root.parts), b.root.as_posix()),
                  reverse=True)
