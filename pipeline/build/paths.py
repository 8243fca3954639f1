"""Where the build puts everything: one definition for doit and the tests.

Every path is relative to the project's ``build/`` folder (or absolute when
that folder is), so the same object serves a task graph run in a checkout
and a test that inspects the outputs of a build made in another folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Product, ReleaseConfig
    from .sdk import SdkPin


@dataclass(frozen=True)
class BuildPaths:
    build: Path                 # the project's build/ folder
    name: str                   # the app's name (Hello)
    version: str
    slug: str                   # build/<slug>/ holds the release's outputs
    executable: str
    icon_file: str | None = None
    sdk_name: str = ""
    sdk_root_name: str = "MacOSX.sdk"

    @classmethod
    def for_release(cls, build: str | os.PathLike, cfg: "ReleaseConfig",
                    pin: "SdkPin | None" = None) -> "BuildPaths":
        return cls(Path(build), cfg.name, cfg.version, cfg.slug, cfg.executable,
                   Path(cfg.icon).name if cfg.icon else None,
                   pin.name if pin else cfg.sdk_name, pin.root if pin else "MacOSX.sdk")

    # The release's outputs -------------------------------------------------
    @property
    def out(self) -> Path:
        return self.build / self.slug

    def obj(self, arch: str, source: str) -> Path:
        return self.out / "obj" / arch / (os.path.splitext(source)[0] + ".o")

    def lib(self, arch: str, name: str) -> Path:
        return self.out / "obj" / arch / f"lib{name}.a"

    def exe(self, arch: str) -> Path:
        return self.out / arch / self.executable

    def product_exe(self, arch: str, product: "Product") -> Path:
        return self.out / arch / f"{product.kind}-{product.name}" / product.binary

    def product_universal(self, product: "Product") -> Path:
        return self.out / "universal" / f"{product.kind}-{product.name}" / product.binary

    @property
    def universal(self) -> Path:
        return self.out / "universal" / self.executable

    @property
    def app(self) -> Path:
        return self.out / f"{self.name}.app"

    @property
    def app_files(self) -> list[Path]:
        contents = self.app / "Contents"
        files = [contents / "Info.plist", contents / "PkgInfo", contents / "MacOS" / self.executable]
        if self.icon_file:
            files.append(contents / "Resources" / self.icon_file)
        return files

    @property
    def app_stamp(self) -> Path:
        """The finished bundle's file listing (later tasks depend on it)."""
        return self.out / "app.json"

    @property
    def import_report(self) -> Path:
        """A prebuilt bundle's import: what was normalised, and the files imported."""
        return self.out / "import.json"

    @property
    def toolchain_json(self) -> Path:
        return self.out / "toolchain.json"

    @property
    def app_manifest(self) -> Path:
        return self.out / "app-manifest.json"

    @property
    def app_tar(self) -> Path:
        return self.out / f"{self.name}-{self.version}-unsigned.tar"

    @property
    def dmg(self) -> Path:
        return self.out / f"{self.name}-{self.version}.dmg"

    @property
    def image_info(self) -> Path:
        return self.out / "image.json"

    @property
    def preview(self) -> Path:
        """The Finder window the DMG opens, drawn (``pipeline.build.preview``)."""
        return self.out / f"{self.name}-{self.version}-preview.png"

    @property
    def stage(self) -> Path:
        return self.out / "stage"

    @property
    def signed_app(self) -> Path:
        return self.out / "signed" / f"{self.name}.app"

    @property
    def signed_stage(self) -> Path:
        return self.out / "stage-signed"

    @property
    def signed_dmg(self) -> Path:
        return self.out / f"{self.name}-{self.version}-signed.dmg"

    @property
    def signed_image_info(self) -> Path:
        return self.out / "image-signed.json"

    @property
    def sums(self) -> Path:
        return self.out / "SHA256SUMS"

    @property
    def release_manifest(self) -> Path:
        return self.out / "build-manifest.json"

    # The extracted SDK -----------------------------------------------------
    @property
    def sdk_dir(self) -> Path:
        return self.build / "sdk" / self.sdk_name

    @property
    def sdk_stamp(self) -> Path:
        return self.sdk_dir / "sdk.json"

    @property
    def sdk_root(self) -> Path:
        return self.sdk_dir / "contents" / self.sdk_root_name
