"""An unsigned app with nested code of every kind, linked by clang-19 +
ld64.lld-19 (``macho_builder``): a universal main executable, a versioned
framework (Versions/A, Current and the top-level links), a plug-in bundle,
a helper executable and a loose dylib."""

from __future__ import annotations

import os
import plistlib
import shutil
from pathlib import Path

from macho_builder import Builder


def _plist(path: Path, **keys) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plistlib.dumps(keys))


def make_nested_app(builder: Builder, root: Path) -> Path:
    app = root / "Multi.app"
    contents = app / "Contents"
    (contents / "MacOS").mkdir(parents=True)
    shutil.copy(builder.lipo("multi-uni", builder.link("x86_64", "multi-x86/Multi"),
                             builder.link("arm64", "multi-arm/Multi")),
                contents / "MacOS" / "Multi")
    _plist(contents / "Info.plist", CFBundleExecutable="Multi",
           CFBundleIdentifier="org.example.multi", CFBundlePackageType="APPL")
    (contents / "PkgInfo").write_bytes(b"APPL????")
    _plist(contents / "Resources" / "en.lproj" / "InfoPlist.strings", CFBundleName="Multi")
    # A versioned framework: Versions/A, Current, and the top-level links.
    fw = contents / "Frameworks" / "Tiny.framework"
    version = fw / "Versions" / "A"
    (version / "Resources").mkdir(parents=True)
    shutil.copy(builder.link("arm64", "fw/Tiny", dylib=True), version / "Tiny")
    _plist(version / "Resources" / "Info.plist", CFBundleExecutable="Tiny",
           CFBundleIdentifier="org.example.tiny", CFBundlePackageType="FMWK")
    (version / "Resources" / "tiny.txt").write_bytes(b"framework data\n")
    os.symlink("A", fw / "Versions" / "Current")
    os.symlink("Versions/Current/Tiny", fw / "Tiny")
    os.symlink("Versions/Current/Resources", fw / "Resources")
    # A plug-in bundle with its own Contents.
    plug = contents / "PlugIns" / "Plug.bundle" / "Contents"
    (plug / "MacOS").mkdir(parents=True)
    shutil.copy(builder.link("arm64", "plug/Plug", dylib=True), plug / "MacOS" / "Plug")
    _plist(plug / "Info.plist", CFBundleExecutable="Plug", CFBundleIdentifier="org.example.plug",
           CFBundlePackageType="BNDL")
    # A helper executable and a loose dylib.
    (contents / "Helpers").mkdir()
    shutil.copy(builder.link("arm64", "helper/helper"), contents / "Helpers" / "helper")
    shutil.copy(builder.link("x86_64", "loose/libloose.dylib", dylib=True),
                contents / "Frameworks" / "libloose.dylib")
    return app
