"""The image stage: stage the volume, author HFS+, wrap it as UDIF.

The staged tree is what the user sees when the DMG opens: ``Name.app`` and
an ``Applications`` symbolic link to ``/Applications`` (drag-to-install).
The link is stored as a link (HFS+ ``slnk`` file); nothing follows it.

The HFS+ volume is authored directly from the staged folder (no mounting,
no root) and streamed into the UDIF writer as an ``ImageSource``.  With a
``[dmg.window]`` configuration, ``pipeline.layout`` adds the Finder layout
(``.DS_Store``, ``.background/``) to the volume's tree on the way.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .bundle import replaced_folder

if TYPE_CHECKING:
    from .config import ReleaseConfig, WindowConfig

APPLICATIONS_LINK = ("Applications", "/Applications")


def stage(app_dir: str | os.PathLike, stage_dir: str | os.PathLike, *, epoch: int = 0) -> Path:
    """``stage_dir`` = a copy of the .app plus the Applications link (replaced as a whole)."""
    app = Path(app_dir)
    final = Path(stage_dir)
    with replaced_folder(final) as tmp:
        tmp.mkdir(parents=True)
        # copy2 keeps the bundle's SOURCE_DATE_EPOCH times and modes.
        shutil.copytree(app, tmp / app.name, symlinks=True, copy_function=shutil.copy2)
        name, target = APPLICATIONS_LINK
        os.symlink(target, tmp / name)
        os.chmod(tmp, 0o755)
        for path in (tmp, tmp / app.name):
            os.utime(path, (epoch, epoch))
        os.utime(tmp / name, (epoch, epoch), follow_symlinks=False)
    return final


def build_dmg(stage_dir: str | os.PathLike, out_path: str | os.PathLike, *, volume_name: str,
              dmg_format: str, layout: str = "none", epoch: int = 0,
              window: "WindowConfig | None" = None, config_root: str | os.PathLike = ".",
              config_name: str = "release.toml") -> dict[str, Any]:
    """HFS+ from ``stage_dir`` (plus the Finder layout of ``window``) -> UDIF at
    ``out_path``.  Returns ``{"udif": the UDIF writer's manifest}`` and, with
    a window, ``"finder_layout"``: its options, CNIDs and library versions.

    Uses the project's own format libraries (``pipeline.hfs.writer``,
    ``pipeline.udif.writer``); both are deterministic given the epoch.
    ``config_root`` is where the window's background path is resolved,
    ``config_name`` names the configuration in errors.
    """
    # Imported here so that the compile/bundle stages work while the image
    # libraries are absent or broken.
    from ..errors import VerificationError
    from ..hfs.tree import tree_from_directory
    from ..hfs.writer import build_volume
    from ..udif.writer import write_udif

    tree = tree_from_directory(stage_dir)
    out: dict[str, Any] = {}
    if window is not None:
        from . import finder as finder_layout

        out["finder_layout"] = finder_layout.add_layout(
            tree, window, config_root=config_root, config_name=config_name,
            volume_name=volume_name, epoch=epoch, case_sensitive=False)
        out["finder_layout"]["libraries"] = finder_layout.library_versions()
    volume = build_volume(tree, volname=volume_name, case_sensitive=False, epoch=epoch)
    if window is not None and volume.header.createDate != out["finder_layout"]["create_date"]:
        # The alias names the volume by its creation date: they must agree.
        raise VerificationError(f"{out_path}: volume header createDate "
                                f"{volume.header.createDate} differs from the background "
                                f"alias's {out['finder_layout']['create_date']}")
    # The image manifest is recorded by the caller (image.json), not beside the DMG.
    info = write_udif(volume, out_path, format=dmg_format, layout=layout, manifest_path=False)
    out["udif"] = dict(info or {})
    return out


def image_options(cfg: "ReleaseConfig", epoch: int) -> dict[str, Any]:
    """The release options that shape the image (recorded in image.json)."""
    options: dict[str, Any] = {"volume_name": cfg.volume_name, "format": cfg.dmg_format,
                               "layout": cfg.dmg_layout, "epoch": epoch}
    if cfg.window is not None:
        options["window"] = cfg.window.to_json()
    return options


def image_inputs(cfg: "ReleaseConfig", epoch: int) -> dict[str, Any]:
    """Everything besides files that shapes the image's bytes: the options, the
    codec's implementation and version (another libdeflate compresses to other
    bytes) and, with a Finder window, the layout packages' versions."""
    from .. import codecs
    from ..udif.formats import lookup_format
    inputs = image_options(cfg, epoch)
    inputs["codec"] = codecs.implementation(lookup_format(cfg.dmg_format).codec)
    if cfg.window is not None:
        from .finder import library_versions
        inputs["layout_libraries"] = library_versions()
    return inputs


def make_image(cfg: "ReleaseConfig", app_dir: str | os.PathLike, stage_dir: str | os.PathLike,
               out_path: str | os.PathLike, info_path: str | os.PathLike, *, epoch: int) -> None:
    """The image stage: stage the app, author the DMG, record image.json."""
    from ..jsonfile import write_json
    stage(app_dir, stage_dir, epoch=epoch)
    info = build_dmg(stage_dir, out_path, volume_name=cfg.volume_name,
                     dmg_format=cfg.dmg_format, layout=cfg.dmg_layout, epoch=epoch,
                     window=cfg.window, config_root=cfg.root, config_name=cfg.path.name)
    write_json(info_path, {**image_options(cfg, epoch), **info})
