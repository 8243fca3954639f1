"""The .app bundle stage: Info.plist keys (read back with plistlib), PkgInfo, icon, modes."""

from __future__ import annotations

import os
import plistlib
import stat
from pathlib import Path

from pipeline.build import bundle

INFO = bundle.BundleInfo(name="Tom & Jerry", bundle_id="org.example.tj", version="2.0.1",
                         build_number="42", executable="TomJerry", minimum_macos="12.3",
                         icon_file="App.icns")


def _exe(tmp_path: Path) -> Path:
    exe = tmp_path / "exe"
    exe.write_bytes(b"\xcf\xfa\xed\xfe" + b"\0" * 60)
    return exe


def test_info_plist_has_the_required_keys(tmp_path):
    icon = tmp_path / "App.icns"
    icon.write_bytes(b"icns\0\0\0\x08")
    app = bundle.build_app(INFO, executable=_exe(tmp_path), out_dir=tmp_path / "out", icon=icon,
                           epoch=1_600_000_000)
    assert app.name == "Tom & Jerry.app"
    info = plistlib.loads((app / "Contents" / "Info.plist").read_bytes())   # XML escaping works
    assert info["CFBundleIdentifier"] == "org.example.tj"
    assert info["CFBundleName"] == "Tom & Jerry"
    assert info["CFBundleShortVersionString"] == "2.0.1"
    assert info["CFBundleVersion"] == "42"
    assert info["CFBundleExecutable"] == "TomJerry"
    assert info["LSMinimumSystemVersion"] == "12.3"
    assert info["CFBundleIconFile"] == "App.icns"
    assert info["CFBundlePackageType"] == "APPL"
    assert (app / "Contents" / "PkgInfo").read_bytes() == b"APPL????"
    assert (app / "Contents" / "Resources" / "App.icns").read_bytes() == icon.read_bytes()
    assert (app / "Contents" / "MacOS" / "TomJerry").read_bytes() == _exe(tmp_path).read_bytes()


def test_no_icon_means_no_icon_key(tmp_path):
    info = bundle.BundleInfo("Hello", "org.example.h", "1.0", "1", "Hello", "11.0")
    app = bundle.build_app(info, executable=_exe(tmp_path), out_dir=tmp_path / "out")
    plist = plistlib.loads((app / "Contents" / "Info.plist").read_bytes())
    assert "CFBundleIconFile" not in plist
    assert not (app / "Contents" / "Resources").exists()


def test_modes_and_times_do_not_depend_on_umask(tmp_path):
    trees = []
    for umask in (0o022, 0o077):
        old = os.umask(umask)
        try:
            app = bundle.build_app(INFO, executable=_exe(tmp_path), out_dir=tmp_path / f"u{umask:o}",
                                   epoch=1_600_000_000)
        finally:
            os.umask(old)
        entries = []
        for path in sorted([app, *app.rglob("*")]):
            st = os.lstat(path)
            entries.append((path.relative_to(app).as_posix(), stat.S_IMODE(st.st_mode), st.st_mtime))
        trees.append(entries)
    assert trees[0] == trees[1]
    modes = dict((p, m) for p, m, _ in trees[0])
    assert modes["Contents/MacOS/TomJerry"] == 0o755
    assert modes["Contents/Info.plist"] == 0o644
    assert modes["Contents"] == 0o755
    assert {t for _, _, t in trees[0]} == {1_600_000_000}


def test_rebuild_replaces_the_bundle_whole(tmp_path):
    out = tmp_path / "out"
    app = bundle.build_app(INFO, executable=_exe(tmp_path), out_dir=out)
    (app / "Contents" / "stale.txt").write_text("left over")
    bundle.build_app(INFO, executable=_exe(tmp_path), out_dir=out)
    assert not (app / "Contents" / "stale.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["Tom & Jerry.app"]
