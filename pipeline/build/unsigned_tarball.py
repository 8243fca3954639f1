"""The unsigned tarball the builders publish for the signer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from .. import tarball
from .tomlfile import without_signature

if TYPE_CHECKING:
    from .config import ReleaseConfig
    from .paths import BuildPaths


def pack_app_tarball(app_dir: str | os.PathLike, *, config_path: str | os.PathLike,
                     manifest_path: str | os.PathLike, out_path: str | os.PathLike,
                     epoch: int = 0, extra: Mapping[str, Path] | None = None) -> None:
    """The unsigned tarball for the signer: ``Name.app/...``, the release configuration
    (as ``release.toml``, without its ``[signature]`` pin, which is added only
    after signing), the app manifest (as ``build-manifest.json``) and
    ``extra`` files the signer needs (entitlements), at their paths
    relative to the configuration."""
    app = Path(app_dir)
    members: dict[str, Path | bytes | tarball.SymlinkMember] = {
        "release.toml": without_signature(config_path),
        "build-manifest.json": Path(manifest_path), **(extra or {})}
    executables = []
    for dirpath, dirnames, filenames in os.walk(app):
        dirnames.sort()
        here = Path(dirpath)
        # os.walk lists a link to a folder among the folders and does not enter it.
        for name in sorted(dirnames + filenames):
            path = here / name
            rel = f"{app.name}/{path.relative_to(app).as_posix()}"
            if path.is_symlink():
                members[rel] = tarball.SymlinkMember(os.readlink(path))
                continue
            if path.is_dir():
                continue
            members[rel] = path
            if os.stat(path).st_mode & 0o111:
                executables.append(rel)
    tarball.pack_members(members, out_path, mtime=epoch, executable=executables)


def write_unsigned_release(cfg: "ReleaseConfig", paths: "BuildPaths", *, epoch: int,
                           templates: Mapping[str, str | os.PathLike]) -> None:
    """The app manifest (what the app is a function of) and the unsigned tarball."""
    from ..jsonfile import read_json, write_json
    from .manifest import app_manifest
    if cfg.prebuilt is not None:
        data = app_manifest(cfg, epoch=epoch, app_dir=paths.app,
                            imported=read_json(paths.import_report))
    else:
        data = app_manifest(cfg, epoch=epoch, toolchain=read_json(paths.toolchain_json),
                            sdk=read_json(paths.sdk_stamp), app_dir=paths.app,
                            templates=templates)
    write_json(paths.app_manifest, data)
    pack_app_tarball(paths.app, config_path=cfg.path, manifest_path=paths.app_manifest,
                     out_path=paths.app_tar, epoch=epoch,
                     extra={rel: cfg.root / rel for rel in cfg.signing.files()})
