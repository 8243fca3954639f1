"""The release configuration: one TOML file per app.

Everything that shapes a release's bytes is declared here (sources, targets,
minimum macOS, toolchain, SDK pin, volume name, DMG format, epoch), so a
build is a function of this file plus the files it names.  Unknown keys and
wrong types are refused with the dotted key name: a typo must not silently
fall back to a default and change the output.

Paths in the file are relative to the file's own folder and may not leave it
(an absolute path would leak into manifests and differ between builders).
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..epoch import MAX_EPOCH
from ..hfs.unicode import decompose
from .tomlfile import Table, read_toml, toml_type, without_signature
from .toolchain import PROVIDERS

__all__ = ["PrebuiltApp", "Product", "ReleaseConfig", "SigningConfig", "SigningItem", "WindowConfig", "load", "parse", "without_signature"]

ARCHS = ("x86_64", "arm64")
C_SUFFIXES = (".c",)
CXX_SUFFIXES = (".cpp", ".cc", ".cxx")
OBJC_SUFFIXES = (".m",)
OBJCXX_SUFFIXES = (".mm",)
SOURCE_SUFFIXES = (*C_SUFFIXES, *CXX_SUFFIXES, *OBJC_SUFFIXES, *OBJCXX_SUFFIXES)
PRODUCT_KINDS = ("framework", "dylib", "helper", "plugin")
HELPER_LOCATIONS = ("Helpers", "MacOS")
CXX_STANDARDS = ("c++11", "c++14", "c++17", "c++20", "c++23")
# Info.plist keys the templates write: [app] info_plist may not override them.
TEMPLATE_INFO_KEYS = frozenset({
    "CFBundleDevelopmentRegion", "CFBundleExecutable", "CFBundleIconFile", "CFBundleIdentifier",
    "CFBundleInfoDictionaryVersion", "CFBundleName", "CFBundlePackageType",
    "CFBundleShortVersionString", "CFBundleSupportedPlatforms", "CFBundleVersion",
    "LSMinimumSystemVersion"})
DMG_FORMATS = ("UDRO", "UDZO", "UDBZ", "ULFO", "ULMO")
DMG_LAYOUTS = ("none", "gpt")
TOOLCHAIN_PROVIDERS = PROVIDERS     # the toolchain stage's own list
# What provider "source" builds unless [toolchain] recipes says otherwise:
# patches/<name>/recipe.toml (the linker, then LLVM's Mach-O binutils).
DEFAULT_SOURCE_RECIPES = ("lld", "binutils")

_VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+){0,2}$")
_BUNDLE_ID_RE = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$")
# Flags that would undo the build's path and time hygiene, or add inputs
# the task graph does not see.  Any debug info ("-g3", "-gline-tables-only")
# makes ld64.lld write N_OSO stabs naming each object file by its absolute
# path in the build folder; "@file" and "--config" read more flags from
# files; profiles and plugins are files too; the -M family would fight the
# build's own dependency listing; the target and minimum are set from
# build.targets and build.minimum_macos.
_FORBIDDEN_FLAG_PREFIXES = ("-isysroot", "--sysroot", "-target", "--target", "-arch",
                            "-mmacosx-version-min", "-mmacos-version-min", "-fdebug-prefix-map",
                            "-ffile-prefix-map", "-fmacro-prefix-map", "-fdebug-compilation-dir",
                            "-fcoverage-", "-fprofile-", "-fplugin", "-save-temps", "-Xclang",
                            "--config", "@", "-g", "-M", "-I/", "-L/", "-F/")
# "-g0" (no debug info) is what the build passes anyway.
_ALLOWED_FLAGS = ("-g0",)


@dataclass(frozen=True)
class Library:
    """A static library archived with llvm-ar and linked into the executable."""
    name: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Product:
    """``[[build.products]]``: code the app carries besides its main executable.

    framework -> Contents/Frameworks/<name>.framework (Versions/A), install name
    ``@rpath/<name>.framework/Versions/A/<name>``; dylib ->
    Contents/Frameworks/lib<name>.dylib, ``@rpath/lib<name>.dylib``; helper ->
    Contents/Helpers/<name>; plugin -> Contents/PlugIns/<name>.bundle.
    ``links`` names frameworks and dylibs it links against."""
    kind: str
    name: str
    sources: tuple[str, ...]
    bundle_id: str | None = None          # framework and plugin bundles
    links: tuple[str, ...] = ()
    location: str | None = None           # helpers: "Helpers" (default) or "MacOS"

    @property
    def binary(self) -> str:
        """The Mach-O file's name (lld names its ad-hoc signature after it)."""
        return f"lib{self.name}.dylib" if self.kind == "dylib" else self.name

    @property
    def is_library(self) -> bool:
        return self.kind in ("framework", "dylib")


@dataclass(frozen=True)
class PrebuiltApp:
    """``[app] prebuilt``: a bundle built elsewhere (a folder ``Name.app``, or a
    tarball holding one, pinned by ``prebuilt_sha256``), fed to the back half."""
    path: str
    sha256: str | None = None     # tarballs only: checked before the tarball is read

    @property
    def is_tarball(self) -> bool:
        return self.sha256 is not None


@dataclass(frozen=True)
class SigningItem:
    """``[signing.items."<path in the app>"]``: how one nested item is signed."""
    path: str                         # relative to the .app folder: Contents/Helpers/tool
    identifier: str | None = None
    entitlements: str | None = None   # relative to the configuration
    hardened_runtime: bool | None = None   # None: as the app


@dataclass(frozen=True)
class SigningConfig:
    """``[signing]``: what the signer (``sig sign --config``) and the ad-hoc
    bundle stage apply; entitlements files travel in the unsigned tarball."""
    identifier: str | None = None
    entitlements: str | None = None
    hardened_runtime: bool = False
    adhoc: bool = False               # ad-hoc sign the whole unsigned bundle, nested code first
    items: tuple[SigningItem, ...] = ()

    def files(self) -> list[str]:
        return sorted({f for f in [self.entitlements, *(i.entitlements for i in self.items)] if f})


@dataclass(frozen=True)
class SignaturePin:
    """A detached signature tarball (issue 5): path relative to the config, and its hash;
    ``dmg``: the disk image's own detached signature (issue 14), applied to the signed DMG."""
    path: str
    sha256: str
    dmg: "SignaturePin | None" = None


@dataclass(frozen=True)
class WindowConfig:
    """``[dmg.window]``: the Finder window the DMG opens in (``pipeline.layout``).

    Coordinates are Finder's points: ``origin`` is the window's top-left
    corner on the screen, ``positions`` the centre of each named entry's
    icon in the window.  ``background`` is a PNG/TIFF relative to the
    configuration's folder.
    """
    origin: tuple[int, int] = (100, 100)
    size: tuple[int, int] = (600, 400)
    icon_size: int = 128
    text_size: int = 12
    positions: tuple[tuple[str, tuple[int, int]], ...] = ()    # sorted by name
    background: str | None = None                   # a picture, relative to the configuration
    background_2x: str | None = None                # its "@2x" sibling, when there is one
    background_color: tuple[int, int, int] | None = None     # 0-255 each
    show_toolbar: bool = False
    show_sidebar: bool = False
    label_position: str = "bottom"                   # or "right"
    arrange_by: str = "none"
    hide: tuple[str, ...] = ()                      # top-level names made invisible

    def to_json(self) -> dict[str, Any]:
        """Everything that shapes the .DS_Store, as plain JSON values (doit, manifests)."""
        return {"origin": list(self.origin), "size": list(self.size),
                "icon_size": self.icon_size, "text_size": self.text_size,
                "positions": {name: list(xy) for name, xy in self.positions},
                "background": self.background, "background_2x": self.background_2x,
                "background_color": list(self.background_color) if self.background_color
                else None, "show_toolbar": self.show_toolbar, "show_sidebar": self.show_sidebar,
                "label_position": self.label_position, "arrange_by": self.arrange_by,
                "hide": list(self.hide)}


@dataclass(frozen=True)
class LicenseConfig:
    """``[dmg.license]``: the agreement shown before the image attaches
    (``pipeline.udif.license``): one text per locale, plain text or RTF."""
    default: str
    texts: tuple[tuple[str, str], ...]              # (locale, path), in locale order
    buttons: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"default": self.default, "texts": dict(self.texts),
                "buttons": {k: list(v) for k, v in self.buttons}}


@dataclass(frozen=True)
class ReleaseConfig:
    path: Path                       # the TOML file (not recorded in outputs)
    name: str
    bundle_id: str
    version: str
    build_number: str
    executable: str
    sources: tuple[str, ...]
    libraries: tuple[Library, ...]
    include_dirs: tuple[str, ...]
    cflags: tuple[str, ...]
    targets: tuple[str, ...]
    minimum_macos: str
    icon: str | None
    toolchain_provider: str
    toolchain_version: int
    sdk_name: str
    sdk_sha256: str
    volume_name: str
    dmg_format: str
    dmg_layout: str
    source_date_epoch: int | None
    signature: SignaturePin | None = None
    window: WindowConfig | None = WindowConfig()
    prebuilt: PrebuiltApp | None = None
    signing: SigningConfig = SigningConfig()
    volume_icon: str | None = None                 # .icns or .png, relative to the configuration
    open_on_mount: bool = True
    applications_link: str | None = "Applications"   # the link's name; None: no link
    license: LicenseConfig | None = None

    def image_files(self) -> list[str]:
        """The files besides the app the image reads (relative to ``root``)."""
        w = self.window
        files = [w.background, w.background_2x] if w is not None else []
        files += [path for _locale, path in self.license.texts] if self.license else []
        return [f for f in files + [self.volume_icon] if f is not None]
    products: tuple[Product, ...] = ()
    links: tuple[str, ...] = ()               # products the main executable links against
    cxx_standard: str | None = None
    objc_arc: bool = False
    resources: tuple[str, ...] = ()           # files and folders copied into Contents/Resources
    info_plist: tuple[tuple[str, Any], ...] = ()   # extra Info.plist keys, sorted
    toolchain_recipes: tuple[str, ...] = ()   # provider "source": patches/<name>/recipe.toml

    @property
    def root(self) -> Path:
        """The folder every relative path in the configuration is resolved against."""
        return self.path.parent

    @property
    def slug(self) -> str:
        """The folder name under build/ for this release."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    def all_sources(self) -> tuple[str, ...]:
        return (self.sources + tuple(s for lib in self.libraries for s in lib.sources)
                + tuple(s for p in self.products for s in p.sources))

    def product(self, name: str) -> Product:
        return next(p for p in self.products if p.name == name)


# --------------------------------------------------------------------------
# Schema checking


def _relative_path(table: Table, key: str, value: str, root: Path, *,
                   must_exist: bool = True) -> str:
    """A path inside the configuration's folder, in POSIX form."""
    if not value or value.startswith("/") or "\\" in value or "\0" in value:
        raise table.error(key, f"{value!r}: must be a relative POSIX path")
    norm = posixpath.normpath(value)
    if norm == ".." or norm.startswith("../"):
        raise table.error(key, f"{value!r}: leaves the configuration's folder")
    if must_exist:
        try:
            os.stat(root / norm)
        except FileNotFoundError:
            raise table.error(key, f"{value!r}: no such file or folder") from None
        except OSError as exc:      # a name too long, a component that is a file...
            raise table.error(key, f"{value[:80]!r}: {exc.strerror}") from None
    return norm


def _choice(table: Table, key: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise table.error(key, f"{value!r}: expected one of {', '.join(allowed)}")
    return value


def _pattern(table: Table, key: str, value: str, regex: re.Pattern, what: str) -> str:
    if not regex.match(value):
        raise table.error(key, f"{value!r}: not {what}")
    return value


def _flags(table: Table, key: str) -> tuple[str, ...]:
    flags = table.strings(key, default=())
    for i, flag in enumerate(flags):
        if flag.startswith(_FORBIDDEN_FLAG_PREFIXES) and flag not in _ALLOWED_FLAGS:
            raise table.error(f"{key}[{i}]", f"{flag!r}: set by the build itself, or would "
                              "leak a build path or read undeclared files; not allowed here")
    return flags


def _sources(table: Table, key: str, root: Path) -> tuple[str, ...]:
    sources = table.strings(key)
    if not sources:
        raise table.error(key, "must name at least one source file")
    out = []
    for i, src in enumerate(sources):
        rel = _relative_path(table, f"{key}[{i}]", src, root)
        if not rel.endswith(SOURCE_SUFFIXES) or not (root / rel).is_file():
            raise table.error(f"{key}[{i}]", f"{src!r}: not a C (.c), C++ (.cpp, .cc, .cxx), "
                              "Objective-C (.m) or Objective-C++ (.mm) source file")
        out.append(rel)
    if len(set(out)) != len(out):
        raise table.error(key, "names the same file twice")
    return tuple(out)


_WINDOW_KEYS = ("enabled", "origin", "size", "icon_size", "text_size", "positions",
                "background", "show_toolbar", "show_sidebar", "label_position", "arrange_by",
                "hide")
# Finder's "Arrange By" choices, as the icvp plist spells them (dmgbuild's
# names with dashes are accepted too).
ARRANGE_BY = ("none", "name", "kind", "dateModified", "dateCreated", "dateAdded",
              "dateLastOpened", "size", "label")
_COLOR_RE = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_ICON_EXTS = (".icns", ".png")
# Finder's own limits: the View Options sliders (icon size 16-512 points,
# text size 10-16 points); a window must fit a plausible screen.
_ICON_SIZE_RANGE = (16, 512)
_TEXT_SIZE_RANGE = (10, 16)
_MAX_COORD = 16384
_BACKGROUND_EXTS = (".png", ".tif", ".tiff")
PREBUILT_TARBALL_EXTS = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def _point(table: Table, key: str, value: Any, lo: int) -> tuple[int, int]:
    """``[x, y]``: two integers in ``lo.._MAX_COORD``."""
    if not isinstance(value, list) or len(value) != 2:
        raise table.error(key, f"expected an array of two integers, got {toml_type(value)}"
                          + (f" of length {len(value)}" if isinstance(value, list) else ""))
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int):
            raise table.error(f"{key}[{i}]", f"expected an integer, got {toml_type(v)}")
        if not lo <= v <= _MAX_COORD:
            raise table.error(f"{key}[{i}]", f"{v}: must be {lo}..{_MAX_COORD}")
    return (value[0], value[1])


def _int_range(table: Table, key: str, default: int, bounds: tuple[int, int]) -> int:
    value = table.get(key, int, default=default)
    if not bounds[0] <= value <= bounds[1]:
        raise table.error(key, f"{value}: must be {bounds[0]}..{bounds[1]}")
    return value


def _color(table: Table, key: str, value: str) -> tuple[int, int, int]:
    m = _COLOR_RE.match(value)
    if not m:
        raise table.error(key, f"{value!r}: expected a picture path or a colour '#rrggbb'")
    digits = m.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    r, g, b = (int(digits[i:i + 2], 16) for i in (0, 2, 4))
    return (r, g, b)


def _retina_sibling(background: str, root: Path) -> str | None:
    """``name@2x.ext`` beside ``name.ext``, as dmgbuild and Finder pair them."""
    stem, ext = posixpath.splitext(background)
    twin = f"{stem}@2x{ext}"
    return twin if (root / twin).is_file() else None


def _window(win: Table, root: Path) -> WindowConfig | None:
    """``[dmg.window]`` (None when ``enabled = false``).  Position and hidden
    names are checked against the volume by the layout stage, which knows
    what the volume holds."""
    defaults = WindowConfig()
    if not win.get("enabled", bool, default=True):
        return None
    origin = _point(win, "origin", win.get("origin", list, default=list(defaults.origin)), 0)
    size = _point(win, "size", win.get("size", list, default=list(defaults.size)), 1)
    icon_size = _int_range(win, "icon_size", defaults.icon_size, _ICON_SIZE_RANGE)
    text_size = _int_range(win, "text_size", defaults.text_size, _TEXT_SIZE_RANGE)
    raw_positions = win.get("positions", dict, default={})
    positions = []
    for name in sorted(raw_positions):
        if not name or "/" in name or name in (".", ".."):
            raise win.error(f"positions.{name!r}", "must be the name of an entry at the "
                            "top of the volume")
        positions.append((name, _point(win, f"positions.{name!r}", raw_positions[name], 0)))
    background = win.get("background", str, default=None)
    background_2x = color = None
    if background is not None and background.startswith("#"):
        color, background = _color(win, "background", background), None
    elif background is not None:
        background = _relative_path(win, "background", background, root)
        if not background.lower().endswith(_BACKGROUND_EXTS) or not (root / background).is_file():
            raise win.error("background", f"{background!r}: expected a .png or .tiff file "
                            "or a colour '#rrggbb'")
        background_2x = _retina_sibling(background, root)
    show_toolbar = win.get("show_toolbar", bool, default=False)
    show_sidebar = win.get("show_sidebar", bool, default=False)
    label_position = _choice(win, "label_position",
                             win.get("label_position", str, default="bottom"), ("bottom", "right"))
    arrange_by = win.get("arrange_by", str, default="none")
    arrange_by = _choice(win, "arrange_by", _camel(arrange_by), ARRANGE_BY)
    hide = win.get("hide", list, default=[])
    for i, name in enumerate(hide):
        if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
            raise win.error(f"hide[{i}]", "must be the name of an entry at the top of the volume")
    win.finish()
    return WindowConfig(origin=origin, size=size, icon_size=icon_size, text_size=text_size,
                        positions=tuple(positions), background=background,
                        background_2x=background_2x, background_color=color,
                        show_toolbar=show_toolbar, show_sidebar=show_sidebar,
                        label_position=label_position, arrange_by=arrange_by,
                        hide=tuple(sorted(set(hide))))


def _camel(name: str) -> str:
    """dmgbuild's 'date-modified' is Finder's 'dateModified'."""
    head, *rest = name.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_PRODUCT_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")


def _links(table: Table, key: str, products: list[Product] | tuple[Product, ...],
           *, of: str | None = None) -> tuple[str, ...]:
    """Names of framework or dylib products (never ``of`` itself)."""
    names = table.strings(key, default=())
    libraries = {p.name for p in products if p.is_library}
    for i, name in enumerate(names):
        if name not in libraries or name == of:
            raise table.error(f"{key}[{i}]", f"{name!r}: not a framework or dylib product "
                              f"(have: {', '.join(sorted(libraries - {of})) or 'none'})")
    if len(set(names)) != len(names):
        raise table.error(key, "names the same product twice")
    return tuple(names)


def _products(build: Table, root: Path, app_bundle_id: str) -> tuple[Product, ...]:
    """``[[build.products]]``; links are checked once all are known, and may not loop."""
    raw = build.get("products", list, default=[])
    tables, products = [], []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise build.error(f"products[{i}]", f"expected a table, got {toml_type(item)}")
        t = Table(item, f"build.products[{i}].", build.origin,
                  ("kind", "name", "sources", "bundle_id", "links", "location"))
        kind = _choice(t, "kind", t.get("kind", str), PRODUCT_KINDS)
        name = _pattern(t, "name", t.get("name", str), _PRODUCT_NAME_RE,
                        "a product name ([A-Za-z][A-Za-z0-9_-]*)")
        if any(p.name == name for p in products):
            raise t.error("name", f"{name!r}: two products with this name")
        bundle_id = None
        if kind in ("framework", "plugin"):
            bundle_id = _pattern(t, "bundle_id",
                                 t.get("bundle_id", str, default=f"{app_bundle_id}.{name}"),
                                 _BUNDLE_ID_RE, "a reverse-DNS bundle identifier")
        elif "bundle_id" in item:
            raise t.error("bundle_id", f"only frameworks and plugins are bundles, not a {kind}")
        location = None
        if kind == "helper":
            location = _choice(t, "location", t.get("location", str, default="Helpers"),
                               HELPER_LOCATIONS)
        elif "location" in item:
            raise t.error("location", f"only helpers choose their folder, not a {kind}")
        products.append(Product(kind, name, _sources(t, "sources", root), bundle_id,
                                location=location))
        tables.append(t)
    linked = []
    for t, product in zip(tables, products):
        links = _links(t, "links", products, of=product.name)
        t.finish()
        linked.append(Product(product.kind, product.name, product.sources, product.bundle_id,
                              links, product.location))
    # A library may only link libraries defined before it: no loops, and a
    # link order every builder agrees on.
    for i, product in enumerate(linked):
        earlier = {p.name for p in linked[:i]}
        for name in product.links:
            if name not in earlier:
                raise tables[i].error("links", f"{name!r}: list a product before the products "
                                      "that link it (no loops)")
    return tuple(linked)


def _resources(app: Table, root: Path) -> tuple[str, ...]:
    """``[app] resources``: files and folders copied into Contents/Resources by base name."""
    out = []
    for i, raw in enumerate(app.strings("resources", default=())):
        rel = _relative_path(app, f"resources[{i}]", raw, root)
        if rel == ".":
            raise app.error(f"resources[{i}]", "the configuration's whole folder")
        out.append(rel)
    names = [posixpath.basename(r) for r in out]
    if len(set(names)) != len(names):
        raise app.error("resources", "two resources with the same name")
    return tuple(out)


def _plist_value(app: Table, key: str, value: Any) -> Any:
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, list):
        return [_plist_value(app, f"{key}[{i}]", v) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _plist_value(app, f"{key}.{k}", v) for k, v in value.items()}
    raise app.error(key, f"{toml_type(value)}: Info.plist values are strings, booleans, "
                    "integers, arrays and tables")


def _info_plist(app: Table) -> tuple[tuple[str, Any], ...]:
    """``[app] info_plist``: extra Info.plist keys (not those the template writes)."""
    raw = app.get("info_plist", dict, default={})
    out = []
    for key in sorted(raw):
        if key in TEMPLATE_INFO_KEYS:
            raise app.error(f"info_plist.{key}", "set by the bundle stage from [app] and [build]")
        out.append((key, _plist_value(app, f"info_plist.{key}", raw[key])))
    return tuple(out)


def _prebuilt(app: Table, root: Path) -> PrebuiltApp | None:
    """``[app] prebuilt`` (and, for a tarball, its ``prebuilt_sha256`` pin)."""
    raw = app.get("prebuilt", str, default=None)
    if raw is None:
        if "prebuilt_sha256" in app.data:
            raise app.error("prebuilt_sha256", "only with app.prebuilt (a tarball)")
        return None
    rel = _relative_path(app, "prebuilt", raw, root)
    if (root / rel).is_dir():
        if not rel.endswith(".app"):
            raise app.error("prebuilt", f"{rel!r}: a folder must be an application bundle "
                            "(Name.app)")
        if "prebuilt_sha256" in app.data:
            raise app.error("prebuilt_sha256", "only for a tarball; a folder is recorded "
                            "file by file in the build manifest")
        return PrebuiltApp(rel)
    if not rel.endswith(PREBUILT_TARBALL_EXTS):
        raise app.error("prebuilt", f"{rel!r}: expected Name.app or a tarball "
                        f"({', '.join(PREBUILT_TARBALL_EXTS)})")
    if "prebuilt_sha256" not in app.data:
        raise app.error("prebuilt_sha256", "missing (required for a prebuilt tarball)")
    return PrebuiltApp(rel, app.sha256("prebuilt_sha256"))


def _refuse_with_prebuilt(top: Table, data: dict[str, Any]) -> None:
    """A prebuilt bundle is not compiled: keys that configure compiling would
    be silently ignored, so they are refused."""
    build = data.get("build", {})
    if isinstance(build, dict):
        for key in sorted(build):
            if key != "source_date_epoch":
                raise top.error(f"build.{key}", "not used with app.prebuilt (the bundle is "
                                "not compiled); only build.source_date_epoch applies")
    for section in ("toolchain", "sdk"):
        if section in data:
            raise top.error(section, "not used with app.prebuilt (the bundle is not compiled)")


def _merge_import(dmg: Table, root: Path) -> None:
    """``[dmg] import = "appdmg.json" | "settings.py"``: the imported settings
    (``pipeline.build.layout_import``) under the configuration's own keys,
    which win; their paths rebased from the imported file's folder."""
    source = dmg.get("import", str, default=None)
    if source is None:
        return
    from .layout_import import load_layout
    source = _relative_path(dmg, "import", source, root)
    imported = load_layout(root / source)
    base = posixpath.dirname(source)
    for table, key in ((imported.dmg, "volume_icon"), (imported.window, "background")):
        value = table.get(key)
        if isinstance(value, str) and not value.startswith("#"):
            table[key] = posixpath.normpath(posixpath.join(base, value))
    window = dict(imported.window)
    own_window = dmg.data.get("window", {})
    if isinstance(own_window, dict):
        window.update(own_window)
        if "positions" in imported.window and isinstance(own_window.get("positions"), dict):
            window["positions"] = {**imported.window["positions"], **own_window["positions"]}
    dmg.data = {**imported.dmg, **dmg.data, "window": window}


def _dmg(top: Table, name: str, root: Path) -> dict[str, Any]:
    """``[dmg]`` and ``[dmg.window]``, as ReleaseConfig's fields."""
    dmg = top.table("dmg", ("volume_name", "format", "layout", "window", "volume_icon",
                            "open_on_mount", "applications_link", "import", "license"),
                    required=False)
    _merge_import(dmg, root)
    volume_name = dmg.get("volume_name", str, default=name)
    # HFS+ counts a name in UTF-16 units after Apple's decomposition: 255
    # "é" are 510 units.
    units = len(decompose(volume_name).encode("utf-16-be")) // 2
    if not 1 <= units <= 255 or "/" in volume_name or "\0" in volume_name:
        raise dmg.error("volume_name", f"{volume_name[:80]!r}: 1-255 UTF-16 units once "
                        f"decomposed as HFS+ stores it ({units}), no '/'")
    dmg_format = _choice(dmg, "format", dmg.get("format", str, default="UDZO"), DMG_FORMATS)
    layout = _choice(dmg, "layout", dmg.get("layout", str, default="none"), DMG_LAYOUTS)
    # No [dmg.window]: the default window (the app on the left, the link on the right).
    window = _window(dmg.table("window", _WINDOW_KEYS, required=False), root)
    icon = dmg.get("volume_icon", str, default=None)
    if icon is not None:
        icon = _relative_path(dmg, "volume_icon", icon, root)
        if not icon.lower().endswith(_ICON_EXTS) or not (root / icon).is_file():
            raise dmg.error("volume_icon", f"{icon!r}: expected an .icns or .png file")
    open_on_mount = dmg.get("open_on_mount", bool, default=True)
    link = dmg.get("applications_link", (bool, str), default=True)
    if link is True:
        link = "Applications"
    elif link is False:
        link = None
    elif not link or "/" in link or link in (".", "..") or link.startswith("."):
        raise dmg.error("applications_link", f"{link!r}: expected true, false or a name "
                        "for the link (no '/', not hidden)")
    license = _license(dmg.table("license", ("default", "texts", "buttons")), root) \
        if "license" in dmg.data else None
    dmg.finish()
    return {"volume_name": volume_name, "dmg_format": dmg_format, "dmg_layout": layout,
            "window": window, "volume_icon": icon, "open_on_mount": open_on_mount,
            "applications_link": link, "license": license}


def _license(lic: Table, root: Path) -> LicenseConfig:
    from ..udif.license import REGIONS
    texts = lic.get("texts", dict)
    if not texts:
        raise lic.error("texts", "expected at least one locale = \"file\"")
    pairs = []
    for locale in sorted(texts):
        if locale not in REGIONS:
            raise lic.error(f"texts.{locale}", f"not a known locale ({', '.join(sorted(REGIONS))})")
        path = texts[locale]
        if not isinstance(path, str):
            raise lic.error(f"texts.{locale}", f"expected a file name, got {toml_type(path)}")
        path = _relative_path(lic, f"texts.{locale}", path, root)
        if not path.lower().endswith((".txt", ".rtf")) or not (root / path).is_file():
            raise lic.error(f"texts.{locale}", f"{path!r}: expected a .txt or .rtf file")
        pairs.append((locale, path))
    default = lic.get("default", str, default="en_US" if "en_US" in texts else pairs[0][0])
    if default not in texts:
        raise lic.error("default", f"{default!r} has no text in license.texts")
    raw_buttons = lic.get("buttons", dict, default={})
    buttons = []
    for locale in sorted(raw_buttons):
        value = raw_buttons[locale]
        if locale not in texts:
            raise lic.error(f"buttons.{locale}", "no text for this locale")
        if not isinstance(value, list) or len(value) != 6 or \
                not all(isinstance(v, str) and v for v in value):
            raise lic.error(f"buttons.{locale}", "expected 6 strings: language name, agree, "
                            "disagree, print, save, explanation")
        buttons.append((locale, tuple(value)))
    for locale, _path in pairs:
        if not locale.startswith("en_") and locale not in raw_buttons:
            raise lic.error(f"buttons.{locale}", "missing: the buttons are built in for English "
                            "only; give the 6 strings in this language")
    lic.finish()
    return LicenseConfig(default, tuple(pairs), tuple(buttons))


_ITEM_PATH_RE = re.compile(r"^Contents/[^\0]+$")


def _entitlements(table: Table, root: Path) -> str | None:
    raw = table.get("entitlements", str, default=None)
    if raw is None:
        return None
    rel = _relative_path(table, "entitlements", raw, root)
    if not (root / rel).is_file():
        raise table.error("entitlements", f"{rel!r}: not a file")
    return rel


def _signing(top: Table, root: Path, *, adhoc_default: bool = False) -> SigningConfig:
    """``[signing]`` and its ``[signing.items."<path>"]`` tables.  ``adhoc``
    defaults to true for an app with products: nested code is then sealed
    inside out, as arm64 Macs require of every piece of code."""
    sig = top.table("signing", ("identifier", "entitlements", "hardened_runtime", "adhoc",
                                "items"), required=False)
    identifier = sig.get("identifier", str, default=None)
    if identifier is not None:
        _pattern(sig, "identifier", identifier, _BUNDLE_ID_RE, "a code identifier")
    entitlements = _entitlements(sig, root)
    hardened = sig.get("hardened_runtime", bool, default=False)
    adhoc = sig.get("adhoc", bool, default=adhoc_default)
    items = []
    raw_items = sig.get("items", dict, default={})
    for path in sorted(raw_items):
        norm = posixpath.normpath(path)
        if not _ITEM_PATH_RE.match(path) or norm != path or "/../" in f"/{path}/":
            raise sig.error(f"items.{path!r}", "must be a path inside the app, like "
                            "Contents/Helpers/tool")
        if not isinstance(raw_items[path], dict):
            raise sig.error(f"items.{path!r}", f"expected a table, got {toml_type(raw_items[path])}")
        item = Table(raw_items[path], f"signing.items.{path!r}.", top.origin,
                     ("identifier", "entitlements", "hardened_runtime"))
        ident = item.get("identifier", str, default=None)
        if ident is not None:
            _pattern(item, "identifier", ident, _BUNDLE_ID_RE, "a code identifier")
        items.append(SigningItem(path, ident, _entitlements(item, root),
                                 item.get("hardened_runtime", bool, default=None)))
        item.finish()
    sig.finish()
    return SigningConfig(identifier, entitlements, hardened, adhoc, tuple(items))


def _signature(top: Table, data: dict[str, Any], root: Path) -> SignaturePin | None:
    if "signature" not in data:
        return None
    sig = top.table("signature", ("path", "sha256", "dmg"))
    # Need not exist yet: the signer sends it after the unsigned build.
    sig_path = _relative_path(sig, "path", sig.get("path", str), root, must_exist=False)
    dmg = None
    if "dmg" in sig.data:
        d = sig.table("dmg", ("path", "sha256"))
        dmg = SignaturePin(_relative_path(d, "path", d.get("path", str), root, must_exist=False),
                           d.sha256("sha256"))
        d.finish()
    signature = SignaturePin(sig_path, sig.sha256("sha256"), dmg)
    sig.finish()
    return signature


def _epoch(build: Table) -> int | None:
    epoch = build.get("source_date_epoch", int, default=None)
    if epoch is not None and not 0 <= epoch <= MAX_EPOCH:
        raise build.error("source_date_epoch", f"{epoch} is outside 0..{MAX_EPOCH} "
                          "(HFS+ dates end on 2040-02-06)")
    return epoch


def parse(data: dict[str, Any], path: str | os.PathLike, *,
          packaging: bool = False) -> ReleaseConfig:
    """Check a parsed TOML document against the schema.  ``packaging``: for
    ``reprodmg package``, which brings its own bundle, a configuration
    without ``[build]`` sources is complete (only [app], [dmg], [signing],
    [signature] and the epoch apply)."""
    cfg_path = Path(path)
    root = cfg_path.parent
    top = Table(data, "", os.fspath(path),
                 ("app", "build", "toolchain", "sdk", "dmg", "signature", "signing"))

    app = top.table("app", ("name", "bundle_id", "version", "build", "executable", "icon",
                            "prebuilt", "prebuilt_sha256", "resources", "info_plist"))
    name = _pattern(app, "name", app.get("name", str), _NAME_RE, "a plain app name")
    bundle_id = _pattern(app, "bundle_id", app.get("bundle_id", str), _BUNDLE_ID_RE,
                         "a reverse-DNS bundle identifier")
    version = _pattern(app, "version", app.get("version", str), _VERSION_RE, "a version like 1.2.3")
    build_number = _pattern(app, "build", app.get("build", str, default=version), _VERSION_RE,
                            "a build number like 1 or 1.2.3")
    executable = _pattern(app, "executable", app.get("executable", str, default=name), _NAME_RE,
                          "a plain file name")
    icon = app.get("icon", str, default=None)
    if icon is not None:
        icon = _relative_path(app, "icon", icon, root)
        if not icon.endswith(".icns") or not (root / icon).is_file():
            raise app.error("icon", f"{icon!r}: expected an .icns file")
    prebuilt = _prebuilt(app, root)
    resources = _resources(app, root)
    info_extra = _info_plist(app)
    if prebuilt is not None:
        for key, used in (("icon", icon), ("resources", resources), ("info_plist", info_extra)):
            if used:
                raise app.error(key, "not used with app.prebuilt (the bundle carries its own)")
    app.finish()
    dmg_section = _dmg(top, name, root)
    build_data = data.get("build")
    bundle_only = packaging and not (isinstance(build_data, dict) and "sources" in build_data)
    if prebuilt is not None or bundle_only:
        _refuse_with_prebuilt(top, data)
        build = top.table("build", ("source_date_epoch",), required=False)
        epoch = _epoch(build)
        build.finish()
        signature = _signature(top, data, root)
        signing = _signing(top, root)
        top.finish()
        return ReleaseConfig(
            path=cfg_path, name=name, bundle_id=bundle_id, version=version,
            build_number=build_number, executable=executable, sources=(), libraries=(),
            include_dirs=(), cflags=(), targets=(), minimum_macos="", icon=None,
            toolchain_provider="", toolchain_version=0, sdk_name="", sdk_sha256="",
            **dmg_section, source_date_epoch=epoch, signature=signature, prebuilt=prebuilt,
            signing=signing)

    build = top.table("build", ("sources", "include_dirs", "cflags", "targets", "minimum_macos",
                                "source_date_epoch", "libraries", "products", "links",
                                "cxx_standard", "objc_arc"))
    sources = _sources(build, "sources", root)
    include_dirs = tuple(_relative_path(build, f"include_dirs[{i}]", d, root)
                         for i, d in enumerate(build.strings("include_dirs", default=())))
    for i, folder in enumerate(include_dirs):
        # clang ignores an -I that names a file without a word: a slip here
        # would otherwise go unnoticed.
        if not (root / folder).is_dir():
            raise build.error(f"include_dirs[{i}]", f"{folder!r}: not a folder")
    cflags = _flags(build, "cflags")
    targets = build.strings("targets", default=ARCHS)
    if not targets:
        raise build.error("targets", "must name at least one architecture")
    for i, arch in enumerate(targets):
        _choice(build, f"targets[{i}]", arch, ARCHS)
    if len(set(targets)) != len(targets):
        raise build.error("targets", "names the same architecture twice")
    targets = tuple(sorted(targets))
    minimum = _pattern(build, "minimum_macos", build.get("minimum_macos", str), _VERSION_RE,
                       "a macOS version like 11.0")
    if int(minimum.split(".")[0]) < 11 and "arm64" in targets:
        raise build.error("minimum_macos", f"{minimum!r}: arm64 needs macOS 11.0 or later")
    epoch = _epoch(build)

    libraries = []
    raw_libs = build.get("libraries", list, default=[])
    seen_libs: set[str] = set()
    for i, raw_lib in enumerate(raw_libs):
        if not isinstance(raw_lib, dict):
            raise build.error(f"libraries[{i}]", f"expected a table, got {toml_type(raw_lib)}")
        lib = Table(raw_lib, f"build.libraries[{i}].", os.fspath(path), ("name", "sources"))
        lib_name = _pattern(lib, "name", lib.get("name", str), re.compile(r"^[A-Za-z0-9_]+$"),
                            "a library name ([A-Za-z0-9_])")
        if lib_name in seen_libs:
            raise lib.error("name", f"{lib_name!r}: two libraries with this name")
        seen_libs.add(lib_name)
        libraries.append(Library(lib_name, _sources(lib, "sources", root)))
        lib.finish()
    products = _products(build, root, bundle_id)
    for i, product in enumerate(products):
        if product.location == "MacOS" and product.name == executable:
            raise build.error(f"products[{i}].name", f"{product.name!r}: the app's executable "
                              "is already Contents/MacOS/" + executable)
    links = _links(build, "links", products)
    cxx_standard = build.get("cxx_standard", str, default=None)
    if cxx_standard is not None:
        _choice(build, "cxx_standard", cxx_standard, CXX_STANDARDS)
    objc_arc = build.get("objc_arc", bool, default=False)
    build.finish()
    all_sources = (list(sources) + [s for lib in libraries for s in lib.sources]
                   + [s for p in products for s in p.sources])
    if len(set(all_sources)) != len(all_sources):
        raise top.error("build", "a source file is listed twice (sources, libraries, products)")
    stems = [posixpath.splitext(s)[0] for s in all_sources]
    if len(set(stems)) != len(stems):
        raise top.error("build", "two sources differ only in extension (their objects would collide)")

    toolchain = top.table("toolchain", ("provider", "version", "recipes"), required=False)
    provider = _choice(toolchain, "provider", toolchain.get("provider", str, default="llvm"),
                       TOOLCHAIN_PROVIDERS)
    tc_version = toolchain.get("version", int, default=19)
    if provider == "source":
        recipes = toolchain.strings("recipes", default=DEFAULT_SOURCE_RECIPES)
        for i, recipe in enumerate(recipes):
            _pattern(toolchain, f"recipes[{i}]", recipe, re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
                     "a recipe folder name (patches/<name>/recipe.toml)")
        if not recipes or len(set(recipes)) != len(recipes):
            raise toolchain.error("recipes", "expected distinct recipe names, at least one")
    elif "recipes" in toolchain.data:
        raise toolchain.error("recipes", "only provider 'source' builds from recipes")
    else:
        recipes = ()
    toolchain.finish()

    sdk = top.table("sdk", ("name", "sha256"))
    sdk_name = _pattern(sdk, "name", sdk.get("name", str), re.compile(r"^[A-Za-z0-9._-]+$"),
                        "an SDK pin name (a file sdk/<name>.toml)")
    sdk_sha = sdk.sha256("sha256")
    sdk.finish()

    signature = _signature(top, data, root)
    signing = _signing(top, root, adhoc_default=bool(products))
    top.finish()

    return ReleaseConfig(
        path=cfg_path, name=name, bundle_id=bundle_id, version=version,
        build_number=build_number, executable=executable, sources=sources,
        libraries=tuple(libraries), include_dirs=include_dirs, cflags=cflags,
        targets=targets, minimum_macos=minimum, icon=icon,
        toolchain_provider=provider, toolchain_version=tc_version,
        sdk_name=sdk_name, sdk_sha256=sdk_sha, **dmg_section, source_date_epoch=epoch,
        signature=signature, signing=signing, products=products, links=links,
        cxx_standard=cxx_standard, objc_arc=objc_arc, resources=resources,
        info_plist=info_extra, toolchain_recipes=tuple(recipes))


def load(path: str | os.PathLike, *, packaging: bool = False) -> ReleaseConfig:
    """Read and check a release configuration file (``packaging``: see parse)."""
    return parse(read_toml(path, "release configuration"), path, packaging=packaging)


def load_signing(path: str | os.PathLike) -> SigningConfig:
    """Only the ``[signing]`` table, checked (entitlements must exist): what
    the signer reads from the unsigned tarball's release.toml, where the
    sources and prebuilt bundle the rest of the file names are absent."""
    data = read_toml(path, "release configuration")
    top = Table(data, "", os.fspath(path))
    return _signing(top, Path(path).parent)
