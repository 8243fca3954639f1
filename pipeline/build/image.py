"""The image stage: stage the volume, author HFS+, wrap it as UDIF.

The staged tree is what the user sees when the DMG opens: ``Name.app`` and
an ``Applications`` symbolic link to ``/Applications`` (drag-to-install;
``[dmg] applications_link`` renames it or leaves it out).  The link is
stored as a link (HFS+ ``slnk`` file); nothing follows it.  A volume icon
(``[dmg] volume_icon``) becomes ``.VolumeIcon.icns`` with the root
folder's custom-icon flag.

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
    from ..hfs.tree import Tree
    from .config import LicenseConfig, ReleaseConfig, WindowConfig

APPLICATIONS_TARGET = "/Applications"
# The volume's custom icon: a file of this name at the root, and the root
# folder's kHasCustomIcon (Finder.h), as Finder's "paste icon" leaves them.
VOLUME_ICON = ".VolumeIcon.icns"
K_HAS_CUSTOM_ICON = 0x0400
K_IS_INVISIBLE = 0x4000


def stage(app_dir: str | os.PathLike, stage_dir: str | os.PathLike, *, epoch: int = 0,
          link_name: str | None = "Applications") -> Path:
    """``stage_dir`` = a copy of the .app plus the Applications link named
    ``link_name`` (none when None), replaced as a whole."""
    app = Path(app_dir)
    final = Path(stage_dir)
    with replaced_folder(final) as tmp:
        tmp.mkdir(parents=True)
        # copy2 keeps the bundle's SOURCE_DATE_EPOCH times and modes.
        shutil.copytree(app, tmp / app.name, symlinks=True, copy_function=shutil.copy2)
        if link_name is not None:
            os.symlink(APPLICATIONS_TARGET, tmp / link_name)
            os.utime(tmp / link_name, (epoch, epoch), follow_symlinks=False)
        os.chmod(tmp, 0o755)
        for path in (tmp, tmp / app.name):
            os.utime(path, (epoch, epoch))
    return final


def add_volume_icon(tree: "Tree", icns: bytes) -> None:
    """``.VolumeIcon.icns`` (invisible) at the root, and the root's custom-icon flag."""
    from ..errors import InputError
    from ..hfs.tree import File, FileData
    from .finder import with_finder_flags
    if VOLUME_ICON in tree.root.children:
        raise InputError(f"the volume already holds {VOLUME_ICON}, which dmg.volume_icon writes")
    tree.add(VOLUME_ICON, File(data=FileData.from_bytes(icns),
                               finder_info=with_finder_flags(None, K_IS_INVISIBLE, folder=False)))
    tree.root.finder_info = with_finder_flags(tree.root.finder_info, K_HAS_CUSTOM_ICON,
                                              folder=True)


def build_dmg(stage_dir: str | os.PathLike, out_path: str | os.PathLike, *, volume_name: str,
              dmg_format: str, layout: str = "none", epoch: int = 0,
              window: "WindowConfig | None" = None, config_root: str | os.PathLike = ".",
              config_name: str = "release.toml", volume_icon: str | None = None,
              open_on_mount: bool = False, link_name: str | None = None,
              license: "LicenseConfig | None" = None) -> dict[str, Any]:
    """HFS+ from ``stage_dir`` (plus the Finder layout of ``window``, the
    volume icon) -> UDIF at ``out_path``.  Returns ``{"udif": the UDIF
    writer's manifest}`` and, with a window, ``"finder_layout"``: its
    options, positions, CNIDs and library versions.  ``open_on_mount`` sets
    the volume header's folder to open (finderInfo[2]) to the root, so
    Finder opens the window when the image is attached.

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
    if volume_icon is not None:
        from .icons import icns_bytes
        add_volume_icon(tree, icns_bytes(Path(config_root) / volume_icon,
                                         f"{config_name}: dmg.volume_icon"))
    if window is not None:
        from . import finder as finder_layout

        out["finder_layout"] = finder_layout.add_layout(
            tree, window, config_root=config_root, config_name=config_name,
            volume_name=volume_name, epoch=epoch, case_sensitive=False, link_name=link_name)
        out["finder_layout"]["libraries"] = finder_layout.library_versions()
    volume = build_volume(tree, volname=volume_name, case_sensitive=False, epoch=epoch,
                          open_folder="/" if open_on_mount else None)
    if window is not None and volume.header.createDate != out["finder_layout"]["create_date"]:
        # The alias names the volume by its creation date: they must agree.
        raise VerificationError(f"{out_path}: volume header createDate "
                                f"{volume.header.createDate} differs from the background "
                                f"alias's {out['finder_layout']['create_date']}")
    resources = None
    if license is not None:
        resources = license_resources_of(license, Path(config_root), config_name)
        out["license"] = {"languages": [loc for loc, _ in license.texts],
                          "default": license.default}
    # The image manifest is recorded by the caller (image.json), not beside the DMG.
    info = write_udif(volume, out_path, format=dmg_format, layout=layout, manifest_path=False,
                      resources=resources)
    out["udif"] = dict(info or {})
    return out


def license_resources_of(license: "LicenseConfig", root: Path, config_name: str
                         ) -> dict[str, list[dict[str, Any]]]:
    """The UDIF resources of ``[dmg.license]`` (``pipeline.udif.license``)."""
    from ..errors import InputError
    from ..udif.license import ENGLISH_BUTTONS, LicenseText, license_resources
    buttons = dict(license.buttons)
    texts = []
    for locale, rel in license.texts:
        try:
            data = (root / rel).read_bytes()
        except OSError as exc:
            raise InputError(f"{config_name}: dmg.license.texts.{locale}: {rel}: cannot read: "
                             f"{exc.strerror}") from None
        texts.append(LicenseText(locale, data, rel.lower().endswith(".rtf"),
                                 buttons.get(locale, ENGLISH_BUTTONS)))
    # The default language first, as udifrez lists it.
    texts.sort(key=lambda t: t.locale != license.default)
    try:
        return license_resources(texts, license.default)
    except InputError as exc:
        raise InputError(f"{config_name}: dmg.{exc}") from None


def image_options(cfg: "ReleaseConfig", epoch: int) -> dict[str, Any]:
    """The release options that shape the image (recorded in image.json)."""
    options: dict[str, Any] = {"volume_name": cfg.volume_name, "format": cfg.dmg_format,
                               "layout": cfg.dmg_layout, "epoch": epoch,
                               "volume_icon": cfg.volume_icon,
                               "open_on_mount": cfg.open_on_mount,
                               "applications_link": cfg.applications_link,
                               "license": cfg.license.to_json() if cfg.license else None}
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
    from .preview import library_versions as preview_libraries
    inputs["preview_libraries"] = preview_libraries()
    if cfg.window is not None or cfg.volume_icon is not None:
        from .finder import library_versions
        inputs["layout_libraries"] = library_versions()
    return inputs


def make_image(cfg: "ReleaseConfig", app_dir: str | os.PathLike, stage_dir: str | os.PathLike,
               out_path: str | os.PathLike, info_path: str | os.PathLike, *, epoch: int,
               preview_path: str | os.PathLike | None = None) -> None:
    """The image stage: stage the app, author the DMG, draw its window (at
    ``preview_path``, when given), record image.json."""
    from ..jsonfile import write_json
    stage(app_dir, stage_dir, epoch=epoch, link_name=cfg.applications_link)
    info = build_dmg(stage_dir, out_path, volume_name=cfg.volume_name,
                     dmg_format=cfg.dmg_format, layout=cfg.dmg_layout, epoch=epoch,
                     window=cfg.window, config_root=cfg.root, config_name=cfg.path.name,
                     volume_icon=cfg.volume_icon, open_on_mount=cfg.open_on_mount,
                     link_name=cfg.applications_link, license=cfg.license)
    if preview_path is not None:
        from ..atomic import atomic_write_bytes
        from . import preview
        png, view = preview.preview_png(out_path)
        atomic_write_bytes(preview_path, png)
        info["preview"] = {"file": Path(preview_path).name, "problems": view.problems,
                           "libraries": preview.library_versions()}
    write_json(info_path, {**image_options(cfg, epoch), **info})
