"""The Finder layout as the Linux kernel's hfsplus driver reads it.

pyfshfs and 7-Zip do not show Finder info; fs/hfsplus does, as the
``osx.com.apple.FinderInfo`` attribute (fs/hfsplus/xattr.c), and its inode
numbers are CNIDs (fs/hfsplus/inode.c).  The layout DMG is expanded by
qemu-img (not our UDIF reader) and mounted read-only in one libguestfs
appliance session (TCG, ~15 s): the ``.background`` folder must carry
kIsInvisible, the alias's CNIDs must be the kernel's inode numbers, the root folder must
carry kHasCustomIcon and ``.VolumeIcon.icns`` kIsInvisible, and the
``.DS_Store`` the kernel reads must be the one 7-Zip reads.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import mac_alias
import pytest

from helpers import require_tool
from pipeline.build import config
from pipeline.picture import write_png
from test_layout import K_IS_INVISIBLE, build, copy_example, ds_store_records, read_with_7z

GUESTFS_ENV = {"LIBGUESTFS_BACKEND": "direct", "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg"}
FINDER_INFO = "osx.com.apple.FinderInfo"
# Finder info: FileInfo/FolderInfo (16 bytes) with the flags word at offset 8.
FLAGS_OFFSET = 8
K_HAS_CUSTOM_ICON = 0x0400      # Finder.h


@pytest.fixture(scope="module")
def kernel_read(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layout-kernel")
    cfg = copy_example(tmp / "project")
    # A volume icon too: the root folder's custom-icon flag and the icon
    # file's invisible flag are Finder info as well.
    (cfg.root / "icon.png").write_bytes(write_png(32, 32, bytes(range(256)) * 16))
    cfg.path.write_text(cfg.path.read_text().replace('[dmg]\n', '[dmg]\nvolume_icon = "icon.png"\n'))
    cfg = config.load(cfg.path)
    dmg = build(tmp, cfg)
    raw = tmp / "volume.img"
    subprocess.run([require_tool("qemu-img"), "convert", "-f", "dmg", "-O", "raw", str(dmg),
                    str(raw)], check=True, capture_output=True)
    picture = f".background/{Path(cfg.window.background).name}"
    store_copy = tmp / "kernel.DS_Store"
    script = ["run", "-mount-options ro /dev/sda /"]
    probes = {"finder:.background": f"getxattr /.background {FINDER_INFO}",
              "finder:.DS_Store": f"getxattr /.DS_Store {FINDER_INFO}",
              "finder:Hello.app": f"getxattr /Hello.app {FINDER_INFO}",
              "finder:/": f"getxattr / {FINDER_INFO}",
              "finder:.VolumeIcon.icns": f"getxattr /.VolumeIcon.icns {FINDER_INFO}",
              "stat:.background": "lstatns /.background",
              f"stat:{picture}": f'lstatns "/{picture}"'}
    for key, command in probes.items():
        script += [f"-echo @@MARK:{key}", f"-{command}"]
    script += [f'-download /.DS_Store "{store_copy}"', "-echo @@MARK:end"]
    proc = subprocess.run([require_tool("guestfish"), "--format=raw", "-a", str(raw)],
                          input=("\n".join(script) + "\n").encode(), capture_output=True,
                          env={**os.environ, **GUESTFS_ENV}, timeout=600)
    parts = re.split(rb"@@MARK:([^\n]*)\n", proc.stdout)
    out = {parts[i].decode(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    if "end" not in out:
        pytest.fail(f"guestfish failed (rc {proc.returncode}): {proc.stderr[-3000:]!r}")
    return cfg, dmg, picture, out, store_copy


def _finder_flags(info: bytes) -> int:
    assert len(info) == 32, info
    return int.from_bytes(info[FLAGS_OFFSET:FLAGS_OFFSET + 2], "big")


def _inode(stat_lines: bytes) -> int:
    return int(re.search(rb"^st_ino: (\d+)$", stat_lines, re.M).group(1))


def test_kernel_sees_the_background_folder_invisible(kernel_read):
    _, _, _, out, _ = kernel_read
    assert _finder_flags(out["finder:.background"]) & K_IS_INVISIBLE
    assert not _finder_flags(out["finder:.DS_Store"]) & K_IS_INVISIBLE
    assert not _finder_flags(out["finder:Hello.app"]) & K_IS_INVISIBLE


def test_kernel_sees_the_volume_icon_flags(kernel_read):
    _, _, _, out, _ = kernel_read
    assert _finder_flags(out["finder:/"]) & K_HAS_CUSTOM_ICON
    assert _finder_flags(out["finder:.VolumeIcon.icns"]) & K_IS_INVISIBLE


def test_alias_cnids_are_the_kernel_inode_numbers(kernel_read, tmp_path):
    cfg, dmg, picture, out, store_copy = kernel_read
    records = ds_store_records(store_copy.read_bytes())
    alias = mac_alias.Alias.from_bytes(records[(".", "icvp")]["backgroundImageAlias"])
    assert alias.target.cnid == _inode(out[f"stat:{picture}"])
    assert alias.target.folder_cnid == _inode(out["stat:.background"])
    # The kernel and 7-Zip read the same .DS_Store.
    assert store_copy.read_bytes() == read_with_7z(dmg, ".DS_Store", tmp_path / "7z")
