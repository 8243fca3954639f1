"""The Finder window layout of a DMG: ``.DS_Store`` and ``.background/``.

When the release configuration has a ``[dmg.window]`` table, the volume's
root gets:

- ``.background/<name>``: the background picture, in a folder whose Finder
  info has kIsInvisible set.  The folder is create-dmg's layout (dmgbuild
  uses a root file ``.background.<ext>``); the flag is what ``chflags
  hidden`` on the mounted folder stores on HFS+ (XNU keeps UF_HIDDEN as the
  Finder invisible bit), so the folder stays hidden even where dot files
  are shown;
- ``.DS_Store``: the root folder's Finder view settings, written with the
  ``ds_store`` package (pinned: it shapes the bytes).  Records on ``"."``,
  as dmgbuild writes them (dmgbuild/core.py):

  - ``bwsp`` (browser window settings, a binary plist): ``WindowBounds``
    ``"{{x, y}, {w, h}}"`` and the toolbar/sidebar switches;
  - ``icvp`` (icon view settings, a binary plist): ``iconSize``,
    ``textSize``, and for a picture ``backgroundType`` 2 with
    ``backgroundImageAlias``, a classic (version 2) Alias Manager record
    of the picture, built with ``mac_alias``;
  - ``icvl`` (``type`` ``icnv``: open in icon view) and ``vSrn``
    (``long`` 1, the settings version);
  - one ``Iloc`` per positioned entry: the icon's centre in the window.

  No ``pBBk`` (bookmark) record: dmgbuild 1.6.7 dropped it because macOS
  26.2 ignores the alias when a bookmark is present (dmgbuild PR #275,
  issue #273); a bookmark also needs the volume's UUID and URL properties
  that only a mounted volume reports.  No legacy ``BKGD``/``pict`` records:
  Finder since Mac OS X 10.5 writes and reads ``icvp`` only.

The alias is filled in without a Mac from what the volume will hold: the
volume name and creation date (the HFS+ volume header's ``createDate``,
SOURCE_DATE_EPOCH; Finder matches the mounted volume by name and date),
filesystem ``H+``, the picture's and its folder's CNIDs from
``pipeline.hfs.writer.assign_cnids`` (the writer's own numbering), and the
paths Finder would record on a Mac, with the volume mounted at
``/Volumes/<volume name>``.  Nothing depends on the clock, host or build path.

CNIDs depend on names only, so the tree gets its final names first
(``.background``, its picture, a placeholder ``.DS_Store``), CNIDs are
assigned, and only then is the ``.DS_Store``'s content filled in.
"""

from __future__ import annotations

import datetime
import io
import os
import plistlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from .config import WindowConfig
    from ..hfs.tree import FinderInfo, Tree

DS_STORE = ".DS_Store"
BACKGROUND_FOLDER = ".background"
# Finder flags (Finder.h, TN1150 "Finder Info"): kIsInvisible.
K_IS_INVISIBLE = 0x4000
# Where macOS mounts a disk image's volume (no name clash assumed; Finder
# resolves the alias by volume name, creation date and CNIDs first).
MOUNT_ROOT = "/Volumes"
# HFS+ dates count seconds from 1904-01-01 00:00 GMT (TN1150).
MAC_EPOCH = datetime.datetime(1904, 1, 1, tzinfo=datetime.timezone.utc)
# Picture signatures: PNG (RFC 2083 3.1), TIFF little/big-endian (TIFF 6.0 section 2).
_PICTURE_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}
# dmgbuild's defaults for what the configuration does not set.
_SIDEBAR_WIDTH = 180
_GRID_SPACING = 100.0


def background_path(window: "WindowConfig") -> str | None:
    """The picture's path inside the volume, ``.background/<name>`` (a
    picture with an ``@2x`` sibling becomes one two-page ``<stem>.tiff``)."""
    if window.background is None:
        return None
    name = os.path.basename(window.background)
    if window.background_2x is not None:
        name = os.path.splitext(name)[0] + ".tiff"
    return f"{BACKGROUND_FOLDER}/{name}"


def retina_tiff(one_x: Path, two_x: Path, where: str) -> bytes:
    """One TIFF holding the 1x picture (72 dpi) and the 2x one (144 dpi), the
    pair Finder picks from by the screen's scale (what ``tiffutil
    -cathidpicheck`` makes on a Mac and dmgbuild makes here too).  Pillow
    writes it uncompressed, without dates or software tags."""
    from PIL import Image

    try:
        with Image.open(one_x) as a, Image.open(two_x) as b:
            small, large = a.convert("RGBA"), b.convert("RGBA")
    except (OSError, ValueError) as exc:
        raise InputError(f"{where}: cannot read the pictures: {exc}") from None
    if large.size != (small.size[0] * 2, small.size[1] * 2):
        raise InputError(f"{where}: {two_x.name} is {large.size[0]}x{large.size[1]}, not twice "
                         f"{one_x.name}'s {small.size[0]}x{small.size[1]}")
    def page(picture, dpi: int):
        # Pillow writes one resolution for every page it is given, but keeps
        # the resolution tags of pages read from a TIFF: each page is made
        # a one-page TIFF at its own resolution first.
        buf = io.BytesIO()
        picture.save(buf, format="TIFF", compression="raw", dpi=(dpi, dpi))
        return Image.open(io.BytesIO(buf.getvalue()))

    first, second = page(small, 72), page(large, 144)
    buf = io.BytesIO()
    first.save(buf, format="TIFF", compression="raw", save_all=True, append_images=[second])
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as check:
        dpis = []
        for n in range(getattr(check, "n_frames", 1)):
            check.seek(n)
            dpis.append((check.size, check.info.get("dpi")))
    if dpis != [(small.size, (72.0, 72.0)), (large.size, (144.0, 144.0))]:
        raise InputError(f"{where}: the two-page TIFF came out as {dpis}")
    return data


def _where(config_name: str, key: str) -> str:
    return f"{config_name}: dmg.window.{key}"


def _check_picture(path: Path, where: str) -> None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(f"{where}: {path.name}: cannot read: {exc.strerror}") from None
    if not any(head.startswith(magic) for magic in _PICTURE_MAGIC):
        raise InputError(f"{where}: {path.name}: not a PNG or TIFF picture "
                         f"(first bytes {head.hex()})")


def _hfs_when(epoch: int) -> int:
    """The volume's createDate as ``build_volume`` computes it."""
    from ..hfs.structs import hfs_date
    return hfs_date(epoch)


def background_alias(*, volume_name: str, create_date: int, picture: str, cnids: dict[str, int]
                     ) -> bytes:
    """A version 2 Alias record of ``picture`` (a path in the volume) as Finder
    would record it on a Mac, made from the volume's name, HFS+ createDate
    and CNIDs.  Field for field what ``mac_alias.Alias.for_file`` gathers
    from a mounted volume (mac_alias 2.2.3)."""
    import mac_alias

    folder, name = picture.rsplit("/", 1)
    when = MAC_EPOCH + datetime.timedelta(seconds=create_date)
    alias = mac_alias.Alias()      # version 2, appinfo 0
    alias.volume = mac_alias.VolumeInfo(
        volume_name, when, mac_alias.ALIAS_HFS_VOLUME_SIGNATURE, mac_alias.ALIAS_FIXED_DISK,
        0, b"\0\0")
    alias.volume.posix_path = f"{MOUNT_ROOT}/{volume_name}"
    # Type and creator 0: the writer gives plain files no Finder type.
    alias.target = mac_alias.TargetInfo(
        mac_alias.ALIAS_KIND_FILE, name, cnids[folder], cnids[picture], when,
        b"\0\0\0\0", b"\0\0\0\0")
    alias.target.folder_name = os.path.basename(folder)
    alias.target.posix_path = f"/{picture}"
    # The folders between the root and the target, deepest first, by CNID.
    parts = picture.split("/")
    alias.target.cnid_path = [cnids["/".join(parts[:i])] for i in range(len(parts) - 1, 0, -1)]
    # Carbon path: "<volume>:<folder>:\0<name>", ':' in names stored as '/':
    # the form mac_alias's for_file records.
    alias.target.carbon_path = (volume_name.replace(":", "/") + ":"
                                + ":\0".join(p.replace(":", "/") for p in parts))
    return alias.to_bytes()


def _window_plists(window: "WindowConfig", alias: bytes | None) -> tuple[dict, dict]:
    (x, y), (w, h) = window.origin, window.size
    bwsp = {
        "WindowBounds": f"{{{{{x}, {y}}}, {{{w}, {h}}}}}",
        "ShowToolbar": window.show_toolbar,
        "ShowSidebar": window.show_sidebar,
        "ContainerShowSidebar": False,      # as dmgbuild
        "ShowStatusBar": False,
        "ShowPathbar": False,
        "ShowTabView": False,
        "PreviewPaneVisibility": False,
        "SidebarWidth": _SIDEBAR_WIDTH,
    }
    red, green, blue = window.background_color or (255, 255, 255)
    icvp: dict[str, Any] = {
        "viewOptionsVersion": 1,
        # 0: default (white), 1: a colour, 2: a picture.
        "backgroundType": 1 if window.background_color else 0,
        "backgroundColorRed": red / 255, "backgroundColorGreen": green / 255,
        "backgroundColorBlue": blue / 255,
        "gridOffsetX": 0.0, "gridOffsetY": 0.0, "gridSpacing": _GRID_SPACING,
        "arrangeBy": window.arrange_by,
        "showIconPreview": False,
        "showItemInfo": False,
        "labelOnBottom": window.label_position == "bottom",
        "textSize": float(window.text_size),
        "iconSize": float(window.icon_size),
        "scrollPositionX": 0.0, "scrollPositionY": 0.0,
    }
    if alias is not None:
        icvp["backgroundType"] = 2
        icvp["backgroundImageAlias"] = alias
    return bwsp, icvp


def ds_store_bytes(window: "WindowConfig", *, alias: bytes | None) -> bytes:
    """The root folder's ``.DS_Store`` for ``window``."""
    from ds_store import DSStore
    from ds_store.store import DSStoreEntry, codecs

    from ..hfs.unicode import decompose

    bwsp, icvp = _window_plists(window, alias)
    entries = [
        DSStoreEntry(".", b"bwsp", b"blob", plistlib.dumps(bwsp, fmt=plistlib.FMT_BINARY)),
        DSStoreEntry(".", b"icvp", b"blob", plistlib.dumps(icvp, fmt=plistlib.FMT_BINARY)),
        DSStoreEntry(".", b"icvl", b"type", b"icnv"),
        DSStoreEntry(".", b"vSrn", b"long", 1),
    ]
    # Finder keys records by the name the file system reports: HFS+'s
    # decomposed form.
    entries += [DSStoreEntry(decompose(name), b"Iloc", b"blob", codecs[b"Iloc"].encode(xy))
                for name, xy in window.positions]
    buf = io.BytesIO()
    with DSStore.open(buf, "w+", initial_entries=entries) as store:
        store.flush()
        data = buf.getvalue()
    return data


def with_finder_flags(info: "FinderInfo | None", flags: int, *, folder: bool) -> "FinderInfo":
    """``info`` (or empty Finder info) with ``flags`` added to fdFlags/frFlags."""
    from ..hfs.tree import FinderInfo
    raw = bytearray(info.raw if info is not None else
                    (FinderInfo.for_folder() if folder else FinderInfo.for_file()).raw)
    raw[8:10] = (int.from_bytes(raw[8:10], "big") | flags).to_bytes(2, "big")
    return FinderInfo(bytes(raw))


def default_positions(window: "WindowConfig", names: list[str], link_name: str | None
                      ) -> dict[str, tuple[int, int]]:
    """Where entries without a configured position go: the app on the left
    and the Applications link on the right, halfway down the window, as
    drag-to-install windows have them; anything else on a row below."""
    w, h = window.size
    row = h // 2
    out: dict[str, tuple[int, int]] = {}
    apps = [n for n in names if n.endswith(".app")]
    rest = [n for n in names if n not in apps and n != link_name]
    if apps:
        out[apps[0]] = (w // 4, row)
    if link_name in names:
        out[link_name] = (3 * w // 4, row)
    extra = apps[1:] + rest
    below = min(row + window.icon_size + 2 * window.text_size + 16, max(row, h - window.icon_size // 2))
    for i, name in enumerate(extra):
        out[name] = ((i + 1) * w // (len(extra) + 1), below)
    return out


def add_layout(tree: "Tree", window: "WindowConfig", *, config_root: str | os.PathLike,
               config_name: str, volume_name: str, epoch: int,
               case_sensitive: bool = False, link_name: str | None = None) -> dict[str, Any]:
    """Add ``.background/<picture>`` and ``.DS_Store`` to ``tree``'s root, and
    hide the entries ``window.hide`` names.

    ``config_name`` names the configuration in errors; ``epoch`` is what the
    image stage passes to ``build_volume``; ``link_name`` is the Applications
    link's name, placed on the right unless positioned.  Returns what the
    layout used (options, positions, the picture's CNIDs) for the image manifest.
    """
    import dataclasses

    from ..hfs.tree import File, FileData, FinderInfo, Folder
    from ..hfs.unicode import decompose
    from ..hfs.writer import assign_cnids

    # Names compare as HFS+ stores them (decomposed): a TOML file in NFC
    # names the same entry as a staged folder in NFD.
    top = {decompose(n): n for n in tree.root.children}
    have = ", ".join(repr(n) for n in sorted(top.values())) or "nothing"
    for key, names in (("positions", [n for n, _xy in window.positions]), ("hide", window.hide)):
        for name in names:
            if decompose(name) not in top:
                raise InputError(f"{_where(config_name, f'{key}.{name!r}')}: no such entry "
                                 f"at the top of the volume (it holds {have})")
    for reserved in (DS_STORE, BACKGROUND_FOLDER):
        if reserved in top:
            raise InputError(f"{config_name}: dmg.window: the volume already holds "
                             f"{reserved!r}, which the layout writes")
    for name in window.hide:
        entry = tree.root.children[top[decompose(name)]]
        entry.finder_info = with_finder_flags(entry.finder_info, K_IS_INVISIBLE,
                                              folder=isinstance(entry, Folder))
    hidden = {decompose(n) for n in window.hide}
    placed = {decompose(n) for n, _xy in window.positions}
    unplaced = [n for n in sorted(tree.root.children)
                if not n.startswith(".") and decompose(n) not in hidden | placed]
    positions = dict(window.positions)
    positions.update(default_positions(window, unplaced, link_name))
    window = dataclasses.replace(window, positions=tuple(sorted(positions.items())))

    picture = background_path(window)
    if picture is not None:
        source = Path(config_root) / window.background
        _check_picture(source, _where(config_name, "background"))
        tree.add(BACKGROUND_FOLDER, Folder(finder_info=FinderInfo.for_folder(K_IS_INVISIBLE)))
        if window.background_2x is not None:
            two_x = Path(config_root) / window.background_2x
            _check_picture(two_x, _where(config_name, "background"))
            data = FileData.from_bytes(retina_tiff(source, two_x, _where(config_name, "background")))
        else:
            data = FileData.from_path(source)
        tree.add(picture, File(data=data))
    store = tree.add(DS_STORE, File())        # content after the CNIDs: they do not depend on it

    named = [DS_STORE, BACKGROUND_FOLDER]
    if picture is not None:             # the alias names the picture and each folder above it
        parts = picture.split("/")
        named += ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    cnids = assign_cnids(tree, case_sensitive=case_sensitive, paths=named)
    create_date = _hfs_when(epoch)
    alias = None
    if picture is not None:
        alias = background_alias(volume_name=volume_name, create_date=create_date,
                                 picture=picture, cnids=cnids)
    store.data = FileData.from_bytes(ds_store_bytes(window, alias=alias))
    info: dict[str, Any] = {"create_date": create_date, "ds_store_cnid": cnids[DS_STORE],
                            "positions": {n: list(xy) for n, xy in window.positions}}
    if picture is not None:
        info["background"] = {"path": picture, "cnid": cnids[picture],
                              "folder_cnid": cnids[BACKGROUND_FOLDER]}
    return info


def library_versions() -> dict[str, str]:
    """Versions of the packages that shape the layout's bytes (build manifest):
    Pillow writes two-page backgrounds and reads the pictures it converts."""
    from importlib.metadata import version
    return {"ds_store": version("ds_store"), "mac_alias": version("mac_alias"),
            "pillow": version("pillow")}
