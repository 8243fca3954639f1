"""The image stage: stage the volume, author HFS+, wrap it as UDIF.

The staged tree is what the user sees when the DMG opens: ``Name.app`` and
an ``Applications`` symbolic link to ``/Applications`` (drag-to-install).
The link is stored as a link (HFS+ ``slnk`` file); nothing follows it.

The HFS+ volume is authored directly from the staged folder (no mounting,
no root) and streamed into the UDIF writer as an ``ImageSource``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

APPLICATIONS_LINK = ("Applications", "/Applications")


def stage(app_dir: str | os.PathLike, stage_dir: str | os.PathLike, *, epoch: int = 0) -> Path:
    """``stage_dir`` = a copy of the .app plus the Applications link (replaced as a whole)."""
    app = Path(app_dir)
    final = Path(stage_dir)
    tmp = final.with_name(final.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir(parents=True)
        # copy2 keeps the bundle's SOURCE_DATE_EPOCH times and modes.
        shutil.copytree(app, tmp / app.name, symlinks=True, copy_function=shutil.copy2)
        name, target = APPLICATIONS_LINK
        os.symlink(target, tmp / name)
        os.chmod(tmp, 0o755)
        for path in (tmp, tmp / app.name):
            os.utime(path, (epoch, epoch))
        os.utime(tmp / name, (epoch, epoch), follow_symlinks=False)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def build_dmg(stage_dir: str | os.PathLike, out_path: str | os.PathLike, *, volume_name: str,
              dmg_format: str, layout: str = "none", epoch: int = 0) -> dict[str, Any]:
    """HFS+ from ``stage_dir`` -> UDIF at ``out_path``; returns the UDIF writer's manifest.

    Uses the project's own format libraries (``pipeline.hfs.writer``,
    ``pipeline.udif.writer``); both are deterministic given the epoch.
    """
    # Imported here so that the compile/bundle stages work while the image
    # libraries are absent or broken.
    from .hfs.writer import build_volume
    from .udif.writer import write_udif

    volume = build_volume(os.fspath(stage_dir), volname=volume_name, case_sensitive=False,
                          epoch=epoch)
    info = write_udif(volume, out_path, format=dmg_format, layout=layout)
    return dict(info or {})
