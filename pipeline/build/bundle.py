"""The ``Name.app`` bundle, rendered from ``templates/`` with jinja2.

Structure (Apple's "Bundle Programming Guide", macOS application bundles)::

    Name.app/Contents/Info.plist
    Name.app/Contents/PkgInfo
    Name.app/Contents/MacOS/<executable>
    Name.app/Contents/Resources/<icon>.icns     (optional)
    Name.app/Contents/Resources/<resources>     (optional, [app] resources)
    Name.app/Contents/Frameworks, Helpers, PlugIns   (products, see products.py)

A framework has the versioned layout: ``Versions/A/<N>``,
``Versions/A/Resources/Info.plist``, and the links ``Versions/Current -> A``,
``<N> -> Versions/Current/<N>``, ``Resources -> Versions/Current/Resources``.

The bundle is assembled in a temporary folder and renamed into place.  Modes
are set explicitly (0755 folders and the executable, 0644 the rest) and
every modification time is SOURCE_DATE_EPOCH, so neither the umask nor the
clock reaches the tarball or the volume.
"""

from __future__ import annotations

import os
import plistlib
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import jinja2

from ..errors import InputError
from . import products as products_layout
from .shipped import TEMPLATES_DIR

if TYPE_CHECKING:
    from .config import Product, ReleaseConfig

TEMPLATES = TEMPLATES_DIR


@dataclass(frozen=True)
class BundleInfo:
    name: str
    bundle_id: str
    version: str
    build_number: str
    executable: str
    minimum_macos: str
    icon_file: str | None = None     # file name inside Contents/Resources
    extra_keys: tuple[tuple[str, Any], ...] = ()   # [app] info_plist


def bundle_info(cfg: "ReleaseConfig") -> BundleInfo:
    """What the release configuration says the bundle is."""
    return BundleInfo(name=cfg.name, bundle_id=cfg.bundle_id, version=cfg.version,
                      build_number=cfg.build_number, executable=cfg.executable,
                      minimum_macos=cfg.minimum_macos,
                      icon_file=Path(cfg.icon).name if cfg.icon else None,
                      extra_keys=cfg.info_plist)


def _with_extra_keys(rendered: bytes, extra: tuple[tuple[str, Any], ...]) -> bytes:
    """The template's Info.plist plus the configuration's own keys, sorted as
    Xcode writes them (only re-serialised when there are extra keys)."""
    if not extra:
        return rendered
    info = plistlib.loads(rendered)
    info.update(dict(extra))
    return plistlib.dumps(info, fmt=plistlib.FMT_XML, sort_keys=True)


def _environment(templates: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.fspath(templates)),
        # Plist values are XML text: a name like "Tom & Jerry" must be escaped.
        autoescape=jinja2.select_autoescape(enabled_extensions=("plist.j2",),
                                            default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(info: BundleInfo, templates: str | os.PathLike = TEMPLATES) -> dict[str, bytes]:
    """``{path inside Contents: bytes}`` for the templated files."""
    env = _environment(Path(templates))
    values = {
        "name": info.name, "bundle_id": info.bundle_id, "version": info.version,
        "build_number": info.build_number, "executable": info.executable,
        "minimum_macos": info.minimum_macos, "icon_file": info.icon_file or "",
    }
    try:
        return {
            "Info.plist": _with_extra_keys(
                env.get_template("Info.plist.j2").render(values).encode("utf-8"),
                info.extra_keys),
            "PkgInfo": env.get_template("PkgInfo.j2").render(values).encode("ascii"),
        }
    except jinja2.TemplateError as exc:
        raise InputError(f"{templates}: template error: {exc}") from None


def render_nested_info(product: "Product", info: BundleInfo,
                       templates: str | os.PathLike = TEMPLATES) -> bytes:
    """A framework's or plug-in's Info.plist (the app's version and minimum)."""
    env = _environment(Path(templates))
    values = {"name": product.name, "bundle_id": product.bundle_id, "executable": product.name,
              "package_type": "FMWK" if product.kind == "framework" else "BNDL",
              "version": info.version, "build_number": info.build_number,
              "minimum_macos": info.minimum_macos}
    try:
        return env.get_template("Bundle-Info.plist.j2").render(values).encode("utf-8")
    except jinja2.TemplateError as exc:
        raise InputError(f"{templates}: template error: {exc}") from None


def _copy_file(src: Path, dest: Path, executable: bool = False) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    os.chmod(dest, 0o755 if executable else 0o644)


def place_products(app: Path, products: Sequence[tuple["Product", Path]], info: BundleInfo,
                   templates: str | os.PathLike = TEMPLATES) -> None:
    """Each product's binary (and a bundle's Info.plist and links) in the app."""
    for product, binary in products:
        dest = app / products_layout.binary_path(product)
        _copy_file(binary, dest, executable=True)
        if product.kind == "framework":
            root = app / products_layout.framework_root(product)
            version = products_layout.FRAMEWORK_VERSION
            plist = root / "Versions" / version / "Resources" / "Info.plist"
            plist.parent.mkdir(parents=True)
            plist.write_bytes(render_nested_info(product, info, templates))
            os.symlink(version, root / "Versions" / "Current")
            os.symlink(f"Versions/Current/{product.name}", root / product.name)
            os.symlink("Versions/Current/Resources", root / "Resources")
        elif product.kind == "plugin":
            root = app / products_layout.bundle_root(product)
            (root / "Contents" / "Info.plist").write_bytes(
                render_nested_info(product, info, templates))


def copy_resources(contents: Path, resources: Sequence[Path]) -> None:
    """Files and folders into Contents/Resources by base name; links are refused
    (they would point into the builder's disk)."""
    base = contents / "Resources"
    for src in resources:
        if src.is_symlink():
            raise InputError(f"{src}: a symbolic link; resources must be files or folders")
        if src.is_file():
            _copy_file(src, base / src.name)
            continue
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            here = Path(dirpath)
            for name in sorted(dirnames + filenames):
                path = here / name
                target = base / src.name / path.relative_to(src)
                if path.is_symlink():
                    raise InputError(f"{path}: a symbolic link; resources must be files or "
                                     "folders")
                if path.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    _copy_file(path, target)
        (base / src.name).mkdir(parents=True, exist_ok=True)


def normalise_tree(root: Path, epoch: int) -> None:
    """Fixed modes and times for everything under (and including) ``root``."""
    paths = [root]
    for dirpath, dirnames, filenames in os.walk(root):
        paths += [Path(dirpath) / n for n in dirnames + filenames]
    # Children before parents: setting a file's time does not touch its
    # folder's, but creating files did, so folders are stamped last.
    for path in sorted(paths, key=lambda p: -len(p.parts)):
        if path.is_symlink():
            continue
        if path.is_dir():
            os.chmod(path, 0o755)
        else:
            os.chmod(path, 0o755 if os.stat(path).st_mode & 0o100 else 0o644)
        os.utime(path, (epoch, epoch))


@contextmanager
def replaced_folder(final: Path, tmp: Path | None = None) -> Iterator[Path]:
    """Build a folder at ``tmp`` (default ``<final>.partial``), then rename it
    over ``final`` as a whole; on any failure ``tmp`` is removed and
    ``final`` is left as it was.  The caller creates ``tmp``."""
    tmp = tmp if tmp is not None else final.with_name(final.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def build_app(info: BundleInfo, *, executable: str | os.PathLike, out_dir: str | os.PathLike,
              icon: str | os.PathLike | None = None, epoch: int = 0,
              templates: str | os.PathLike = TEMPLATES,
              products: Sequence[tuple["Product", Path]] = (),
              resources: Sequence[Path] = ()) -> Path:
    """Write ``out_dir/<name>.app``; returns its path."""
    out = Path(out_dir)
    final = out / f"{info.name}.app"
    with replaced_folder(final, out / f".{info.name}.app.partial") as tmp:
        contents = tmp / "Contents"
        (contents / "MacOS").mkdir(parents=True)
        for rel, data in sorted(render(info, templates).items()):
            (contents / rel).write_bytes(data)
        exe = contents / "MacOS" / info.executable
        shutil.copyfile(executable, exe)
        os.chmod(exe, 0o755)
        if icon is not None:
            if not info.icon_file:
                raise InputError(f"{icon}: an icon needs BundleInfo.icon_file")
            (contents / "Resources").mkdir()
            shutil.copyfile(icon, contents / "Resources" / info.icon_file)
            os.chmod(contents / "Resources" / info.icon_file, 0o644)
        copy_resources(contents, [Path(r) for r in resources])
        place_products(tmp, products, info, templates)
        normalise_tree(tmp, epoch)
    return final
