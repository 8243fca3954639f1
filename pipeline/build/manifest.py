"""Build manifests and checksum files.

A manifest says what went in (inputs' hashes, toolchain, SDK pin, options)
and what came out (outputs' hashes), so an independent builder whose DMG
differs can see which input or stage diverged.  Paths in manifests are
relative (to the release configuration's folder for inputs, to the build
folder for outputs): absolute paths differ between builders.

JSON is canonical (``pipeline.jsonfile``): the manifest is itself an
artifact that must be reproducible.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ..atomic import atomic_write_bytes
from ..jsonfile import read_json, sha256_file, write_json  # noqa: F401 (API)
from .tomlfile import without_signature

if TYPE_CHECKING:
    from .config import ReleaseConfig
    from .paths import BuildPaths

MANIFEST_VERSION = 1


def write_app_stamp(app_dir: str | os.PathLike, out_path: str | os.PathLike) -> None:
    """The finished bundle's listing with hashes: the one file later tasks
    depend on, whether the bundle was assembled, imported or ad-hoc signed."""
    write_json(out_path, tree_entries(app_dir))


def tree_entries(root: str | os.PathLike) -> list[dict[str, Any]]:
    """Every file, folder and link under ``root``, sorted, with hashes and modes."""
    base = Path(root)
    out: list[dict[str, Any]] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(base).as_posix()
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out.append({"path": rel, "type": "symlink", "target": os.readlink(path)})
            elif stat.S_ISDIR(st.st_mode):
                out.append({"path": rel, "type": "dir"})
            else:
                out.append({"path": rel, "type": "file", "size": st.st_size,
                            "executable": bool(st.st_mode & 0o111), "sha256": sha256_file(path)})
    out.sort(key=lambda e: e["path"])
    return out


def file_hashes(root: str | os.PathLike, relpaths: Iterable[str]) -> dict[str, str]:
    """``{relative path: sha256}`` for files under ``root``."""
    base = Path(root)
    return {rel: sha256_file(base / rel) for rel in sorted(set(relpaths))}


def sha256sums(digests: Mapping[str, str]) -> bytes:
    """``SHA256SUMS`` text (``sha256sum -c`` format) for ``{name: sha256 hex}``, sorted by name.

    Takes digests, not paths: the release manifest has already hashed the
    outputs, and a DMG should not be read twice to be checksummed.
    """
    lines = [f"{digest}  {name}\n" for name, digest in sorted(digests.items())]
    return "".join(lines).encode("utf-8")


def write_sha256sums(out_path: str | os.PathLike, digests: Mapping[str, str]) -> None:
    atomic_write_bytes(out_path, sha256sums(digests))


# --------------------------------------------------------------------------
# The release's manifests


HEADER_SUFFIXES = (".h", ".hh", ".hpp", ".hxx")
# The default output folder (``reprodmg build``: build/ beside the
# configuration) is never an input, even under an include folder of ".".
DEFAULT_BUILD_FOLDER = "build"


def project_inputs(cfg: "ReleaseConfig") -> list[str]:
    """Files under the configuration's folder that shape the app, relative and sorted.

    Sources, every header in the include folders (recursively) and beside
    the sources (that folder only: a project keeping its sources beside
    release.toml must not declare its whole tree, outputs included), the
    icon, the configuration.
    """
    root = cfg.root
    found = {cfg.path.name, *cfg.all_sources()}
    if cfg.prebuilt is not None and cfg.prebuilt.is_tarball:
        found.add(cfg.prebuilt.path)
    if cfg.icon:
        found.add(cfg.icon)
    found.update(cfg.signing.files())
    for rel in cfg.resources:
        if (root / rel).is_file():
            found.add(rel)
            continue
        for dirpath, dirnames, filenames in os.walk(root / rel):
            dirnames.sort()
            found.update((Path(dirpath) / n).relative_to(root).as_posix() for n in filenames)
    skipped = {root / DEFAULT_BUILD_FOLDER}

    def headers(folder: Path, recursive: bool) -> None:
        for dirpath, dirnames, filenames in os.walk(folder):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if recursive and not d.startswith(".")
                                 and here / d not in skipped)
            for name in filenames:
                if name.endswith(HEADER_SUFFIXES):
                    found.add((here / name).relative_to(root).as_posix())

    for folder in sorted(set(cfg.include_dirs)):
        headers(root / folder, recursive=True)
    for folder in sorted({os.path.dirname(s) or "." for s in cfg.all_sources()}):
        headers(root / folder, recursive=False)
    return sorted(found)


def app_manifest(cfg: "ReleaseConfig", *, epoch: int, app_dir: str | os.PathLike,
                 toolchain: Mapping[str, Any] | None = None, sdk: Mapping[str, Any] | None = None,
                 templates: Mapping[str, str | os.PathLike] | None = None,
                 imported: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the unsigned app is a function of, and the app's files.

    A compiled app records its toolchain, SDK and templates; a prebuilt one
    (``imported``: the import report) records where it came from and what
    the import normalised instead."""
    app = Path(app_dir)
    inputs = file_hashes(cfg.root, project_inputs(cfg))
    # The configuration as the unsigned tarball carries it (no signature pin).
    inputs[cfg.path.name] = hashlib.sha256(without_signature(cfg.path)).hexdigest()
    release: dict[str, Any] = {
        "name": cfg.name, "bundle_id": cfg.bundle_id, "version": cfg.version,
        "build": cfg.build_number,
    }
    made: dict[str, Any]
    if imported is not None:
        made = {"prebuilt": {k: imported[k] for k in ("source", "sha256", "normalised")
                             if k in imported}}
    else:
        release.update({"executable": cfg.executable, "targets": list(cfg.targets), "minimum_macos": cfg.minimum_macos,
                        "cflags": list(cfg.cflags)})
        made = {
            "templates": {name: sha256_file(path) for name, path in sorted((templates or {}).items())},
            "toolchain": dict(toolchain or {}),
            "sdk": dict(sdk or {}),
        }
    release["source_date_epoch"] = epoch
    return {
        "manifest_version": MANIFEST_VERSION,
        "release": release,
        "inputs": inputs,
        **made,
        "app": [{**e, "path": f"{app.name}/{e['path']}"} for e in tree_entries(app)],
    }


def release_manifest(*, app_manifest_path: str | os.PathLike, images: Mapping[str, Mapping[str, Any]],
                     outputs: Mapping[str, str | os.PathLike],
                     signature: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The manifest beside the DMG: the app manifest, image options and codecs, outputs' hashes."""
    data: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "app": read_json(app_manifest_path),
        "images": {name: dict(info) for name, info in sorted(images.items())},
        "outputs": {name: sha256_file(path) for name, path in sorted(outputs.items())},
    }
    if signature is not None:
        data["signature"] = dict(signature)
    return data


def release_outputs(cfg: "ReleaseConfig", paths: "BuildPaths") -> tuple[dict[str, Path], dict[str, Path]]:
    """The artifacts in SHA256SUMS and the image records behind them, by file name."""
    outputs = {paths.app_tar.name: paths.app_tar, paths.dmg.name: paths.dmg,
               paths.preview.name: paths.preview}
    images = {paths.dmg.name: paths.image_info}
    if cfg.signature is not None:
        outputs[paths.signed_dmg.name] = paths.signed_dmg
        images[paths.signed_dmg.name] = paths.signed_image_info
    return outputs, images


def write_checksums(cfg: "ReleaseConfig", paths: "BuildPaths") -> None:
    """The checksums stage: build-manifest.json, then SHA256SUMS of every artifact."""
    outputs, images = release_outputs(cfg, paths)
    signature = None
    if cfg.signature is not None:
        signature = {"path": cfg.signature.path, "sha256": cfg.signature.sha256}
    data = release_manifest(app_manifest_path=paths.app_manifest,
                            images={name: read_json(path) for name, path in images.items()},
                            outputs=outputs, signature=signature)
    write_json(paths.release_manifest, data)
    write_sha256sums(paths.sums, {**data["outputs"],
                                  paths.release_manifest.name: sha256_file(paths.release_manifest)})
