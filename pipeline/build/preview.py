"""The Finder window a DMG opens, drawn without a Mac (``reprodmg dmg
preview``, and ``<name>-preview.png`` beside every built DMG).

Everything comes from the image itself, through the project's readers: the
UDIF container, the HFS+ volume, its ``.DS_Store`` (``ds_store``: window
bounds, icon and text size, label position, background colour or the
picture its alias names, each icon's place) and the entries' Finder info
(invisible items are not drawn).  An ``.app``'s own icon is its
``CFBundleIconFile`` (.icns, decoded by Pillow); other items get a plain
folder, document or link icon drawn here.

The picture is deterministic: Pillow draws (its wheel is pinned and carries
the FreeType that renders the labels, in Pillow's own bundled font) and
``pipeline.picture`` writes the PNG with the pinned libdeflate.  The window
is drawn at its size in points (``scale`` 2 for a Retina picture) with a
plain title bar; what Finder adds around it (shadow, toolbar) is not drawn.
"""

from __future__ import annotations

import io
import os
import plistlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError, ReprodmgError

TITLE_BAR = 28                      # points
MAX_PICTURE_BYTES = 64 << 20        # a background picture or an .icns read from the image
MAX_PIXELS = 64 << 20               # decoded pixels of one picture
MAX_DS_STORE = 16 << 20
K_IS_INVISIBLE = 0x4000
DEFAULT_BOUNDS = (100, 100, 600, 400)
TRAFFIC_LIGHTS = ((255, 95, 87), (254, 188, 46), (40, 200, 64))


@dataclass
class Item:
    name: str                       # as shown (".app" hidden, as Finder does)
    kind: str                       # "app", "folder", "file", "link"
    position: tuple[int, int] | None
    icon: bytes | None = None       # .icns bytes of an app's own icon


@dataclass
class WindowView:
    """What Finder reads to draw the window."""
    volume_name: str
    bounds: tuple[int, int, int, int]           # x, y, width, height (points)
    icon_size: int = 128
    text_size: int = 12
    label_bottom: bool = True
    background_color: tuple[int, int, int] = (255, 255, 255)
    background_picture: bytes | None = None
    items: list[Item] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"volume_name": self.volume_name, "bounds": list(self.bounds),
                "icon_size": self.icon_size, "text_size": self.text_size,
                "label_position": "bottom" if self.label_bottom else "right",
                "background_color": list(self.background_color),
                "background_picture": self.background_picture is not None,
                "items": [{"name": i.name, "kind": i.kind,
                           "position": list(i.position) if i.position else None,
                           "own_icon": i.icon is not None} for i in self.items],
                "problems": self.problems}


# --------------------------------------------------------------------------
# Reading the window from the image.

def _bounds(text: str) -> tuple[int, int, int, int] | None:
    """``"{{x, y}, {w, h}}"`` -> (x, y, w, h)."""
    digits = "".join(c if c in "-0123456789" else " " for c in text).split()
    if len(digits) != 4:
        return None
    x, y, w, h = (int(d) for d in digits)
    return (x, y, w, h) if 0 < w <= 16384 and 0 < h <= 16384 else None


def read_window(dmg_path: str | os.PathLike, passphrase: bytes | None = None) -> WindowView:
    """The window as the image describes it (Finder's defaults for what it
    does not say)."""
    from ..hfs.reader import HFSReader
    from ..udif.reader import open_udif

    with open_udif(dmg_path, passphrase=passphrase) as img:
        part = img.data_partition()
        reader = HFSReader(img.partition_source(part.index), f"{dmg_path}: {part.label}")
        entries = {e.path: e for e in reader.entries()}
        view = WindowView(reader.volume_name, DEFAULT_BOUNDS)
        records = _ds_store(reader, entries, view)
        _window_settings(records, view)
        by_cnid = {e.cnid: e for e in entries.values()}
        alias = records.get((".", "icvp"), {}).get("backgroundImageAlias") \
            if isinstance(records.get((".", "icvp")), dict) else None
        if view.background_picture is None and alias is not None:
            view.background_picture = _alias_target(reader, entries, by_cnid, alias, view)
        for path in sorted(p for p in entries if p and "/" not in p):
            entry = entries[path]
            if path.startswith(".") or _flags(entry.finder_info) & K_IS_INVISIBLE:
                continue
            item = _item(reader, entries, entry, view)
            loc = records.get((_nfd(path), "Iloc"))
            if isinstance(loc, tuple) and len(loc) == 2:
                item.position = (int(loc[0]), int(loc[1]))
            view.items.append(item)
    _arrange_unplaced(view)
    return view


def _nfd(name: str) -> str:
    from ..hfs.unicode import decompose
    return decompose(name)


def _flags(finder_info: bytes | None) -> int:
    return int.from_bytes(finder_info[8:10], "big") if finder_info else 0


def _read(reader, entry, limit: int, view: WindowView) -> bytes | None:
    if entry.data_size > limit:
        view.problems.append(f"/{entry.path}: {entry.data_size} bytes, more than {limit} read")
        return None
    with reader.open(entry) as fh:
        return fh.read()


def _ds_store(reader, entries, view: WindowView) -> dict:
    entry = entries.get(".DS_Store")
    if entry is None:
        return {}
    data = _read(reader, entry, MAX_DS_STORE, view)
    if data is None:
        return {}
    from ds_store import DSStore
    try:
        with DSStore.open(io.BytesIO(data), "r") as store:
            return {(e.filename, e.code.decode("latin-1")): e.value for e in store}
    except Exception as exc:   # the ds_store package raises whatever a bad file provokes
        view.problems.append(f"/.DS_Store: unreadable ({type(exc).__name__}: {exc})")
        return {}


def _plist(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            parsed = plistlib.loads(bytes(value))
        except Exception:       # plistlib raises several types for bad input
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _window_settings(records: dict, view: WindowView) -> None:
    bwsp = _plist(records.get((".", "bwsp")))
    if isinstance(bwsp.get("WindowBounds"), str):
        view.bounds = _bounds(bwsp["WindowBounds"]) or view.bounds
    icvp = _plist(records.get((".", "icvp")))
    records[(".", "icvp")] = icvp
    if isinstance(icvp.get("iconSize"), (int, float)) and 16 <= icvp["iconSize"] <= 512:
        view.icon_size = int(icvp["iconSize"])
    if isinstance(icvp.get("textSize"), (int, float)) and 8 <= icvp["textSize"] <= 32:
        view.text_size = int(icvp["textSize"])
    view.label_bottom = icvp.get("labelOnBottom", True) is not False
    if icvp.get("backgroundType") == 1:
        rgb = [icvp.get(f"backgroundColor{c}", 1.0) for c in ("Red", "Green", "Blue")]
        if all(isinstance(v, (int, float)) for v in rgb):
            view.background_color = tuple(max(0, min(255, round(v * 255))) for v in rgb)


def _alias_target(reader, entries, by_cnid, blob: Any, view: WindowView) -> bytes | None:
    import mac_alias
    try:
        alias = mac_alias.Alias.from_bytes(bytes(blob))
    except Exception as exc:  # mac_alias raises ValueError, struct.error, ...
        view.problems.append(f"background alias: unreadable ({type(exc).__name__})")
        return None
    # Finder resolves by CNID first, then by path.
    entry = by_cnid.get(alias.target.cnid)
    if entry is None and alias.target.posix_path:
        entry = entries.get(alias.target.posix_path.lstrip("/"))
    if entry is None or entry.kind != "file":
        view.problems.append(f"background alias: {alias.target.posix_path!r} is not in the volume")
        return None
    return _read(reader, entry, MAX_PICTURE_BYTES, view)


def _item(reader, entries, entry, view: WindowView) -> Item:
    if entry.kind == "symlink":
        return Item(entry.path, "link", None)
    if entry.kind == "file":
        return Item(entry.path, "file", None)
    if not entry.path.endswith(".app"):
        return Item(entry.path, "folder", None)
    item = Item(entry.path[:-4], "app", None)
    info = entries.get(f"{entry.path}/Contents/Info.plist")
    plist = _plist(_read(reader, info, MAX_DS_STORE, view)) if info and info.kind == "file" else {}
    name = plist.get("CFBundleIconFile")
    if isinstance(name, str) and name and "/" not in name:
        icns = entries.get(f"{entry.path}/Contents/Resources/{name}") or \
            entries.get(f"{entry.path}/Contents/Resources/{name}.icns")
        if icns is not None and icns.kind == "file":
            item.icon = _read(reader, icns, MAX_PICTURE_BYTES, view)
    return item


def _arrange_unplaced(view: WindowView) -> None:
    """Items without a place go on a grid after the placed ones, as Finder
    arranges new items in a window without "arrange by"."""
    step = view.icon_size + 2 * view.text_size + 24
    x0 = y0 = step // 2
    taken = {i.position for i in view.items if i.position}
    slot = 0
    per_row = max(1, view.bounds[2] // step)
    for item in view.items:
        if item.position is None:
            while True:
                pos = (x0 + (slot % per_row) * step, y0 + (slot // per_row) * step)
                slot += 1
                if pos not in taken:
                    break
            item.position = pos


# --------------------------------------------------------------------------
# Drawing.

def _decode(data: bytes, what: str, view: WindowView, frame: int = 0):
    from PIL import Image
    try:
        im = Image.open(io.BytesIO(data))
        if frame and getattr(im, "n_frames", 1) > frame:
            im.seek(frame)
        # Opening reads only the header: refuse a huge picture before decoding it.
        if im.size[0] * im.size[1] > MAX_PIXELS:
            view.problems.append(f"{what}: {im.size[0]}x{im.size[1]} pixels, more than "
                                 f"{MAX_PIXELS} decoded")
            return None
        return im.convert("RGBA")
    except Exception as exc:     # Pillow raises many types for hostile pictures
        view.problems.append(f"{what}: cannot decode ({type(exc).__name__})")
        return None


def _generic_icon(kind: str, size: int):
    from PIL import Image, ImageDraw
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    s = size
    if kind in ("folder", "link"):
        d.rounded_rectangle((s * 0.08, s * 0.2, s * 0.5, s * 0.34), s * 0.04, fill=(96, 160, 224))
        d.rounded_rectangle((s * 0.08, s * 0.28, s * 0.92, s * 0.84), s * 0.05,
                            fill=(116, 182, 240), outline=(80, 140, 205))
        if kind == "link":       # the alias badge: an arrow in a white square
            d.rectangle((s * 0.08, s * 0.66, s * 0.3, s * 0.88), fill=(255, 255, 255),
                        outline=(60, 60, 60))
            d.line((s * 0.12, s * 0.84, s * 0.26, s * 0.7), fill=(20, 20, 20), width=max(1, s // 40))
            d.line((s * 0.18, s * 0.7, s * 0.26, s * 0.7), fill=(20, 20, 20), width=max(1, s // 40))
            d.line((s * 0.26, s * 0.7, s * 0.26, s * 0.78), fill=(20, 20, 20), width=max(1, s // 40))
    elif kind == "app":
        d.rounded_rectangle((s * 0.1, s * 0.1, s * 0.9, s * 0.9), s * 0.18,
                            fill=(226, 228, 234), outline=(150, 152, 160))
        d.polygon([(s * 0.5, s * 0.26), (s * 0.3, s * 0.74), (s * 0.7, s * 0.74)],
                  outline=(110, 112, 120))
    else:
        d.polygon([(s * 0.2, s * 0.08), (s * 0.62, s * 0.08), (s * 0.8, s * 0.26),
                   (s * 0.8, s * 0.92), (s * 0.2, s * 0.92)], fill=(250, 250, 250),
                  outline=(150, 150, 150))
        d.polygon([(s * 0.62, s * 0.08), (s * 0.62, s * 0.26), (s * 0.8, s * 0.26)],
                  fill=(220, 220, 220), outline=(150, 150, 150))
    return im


def _fit_label(font, text: str, width: float) -> str:
    if font.getlength(text) <= width:
        return text
    while len(text) > 2 and font.getlength(text[:len(text) // 2] + "…" + text[-(len(text) // 2):]) > width:
        text = text[1:-1]
    half = len(text) // 2
    return text[:half] + "…" + text[-half:]


def render(view: WindowView, scale: int = 1):
    """The window as a Pillow RGBA picture, ``scale`` pixels per point."""
    from PIL import Image, ImageDraw, ImageFont

    _x, _y, w, h = view.bounds
    W, H, T = w * scale, h * scale, TITLE_BAR * scale
    canvas = Image.new("RGBA", (W, H + T), view.background_color + (255,))
    if view.background_picture is not None:
        # A two-page background: page 1 is the 1x picture, page 2 the 2x one.
        picture = _decode(view.background_picture, "background picture", view,
                          frame=1 if scale == 2 else 0)
        if picture is not None:
            if scale != 1 and picture.size[0] * 2 <= W:
                picture = picture.resize((picture.size[0] * scale, picture.size[1] * scale),
                                         Image.Resampling.LANCZOS)
            canvas.alpha_composite(picture.crop((0, 0, min(W, picture.size[0]),
                                                 min(H, picture.size[1]))), (0, T))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, W, T - 1), fill=(236, 236, 236))
    draw.line((0, T - 1, W, T - 1), fill=(200, 200, 200))
    for i, colour in enumerate(TRAFFIC_LIGHTS):
        cx, cy, r = (20 + 20 * i) * scale, T // 2, 6 * scale
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    title_font = ImageFont.load_default(size=13 * scale)
    draw.text((W // 2, T // 2), view.volume_name, font=title_font, fill=(60, 60, 60),
              anchor="mm")
    font = ImageFont.load_default(size=view.text_size * scale)
    size = view.icon_size * scale
    for item in view.items:
        icon = _decode(item.icon, f"icon of {item.name}", view) if item.icon else None
        icon = (icon.resize((size, size), Image.Resampling.LANCZOS) if icon is not None
                else _generic_icon(item.kind, size))
        cx, cy = item.position[0] * scale, item.position[1] * scale + T
        canvas.alpha_composite(icon, (cx - size // 2, cy - size // 2))
        if view.label_bottom:
            label = _fit_label(font, item.name, size * 1.4)
            draw.text((cx, cy + size // 2 + 4 * scale), label, font=font, fill=(0, 0, 0),
                      anchor="ma")
        else:
            label = _fit_label(font, item.name, 2.5 * size)
            draw.text((cx + size // 2 + 6 * scale, cy), label, font=font, fill=(0, 0, 0),
                      anchor="lm")
    return canvas


def preview_png(dmg_path: str | os.PathLike, *, scale: int = 1,
                passphrase: bytes | None = None) -> tuple[bytes, WindowView]:
    """The window's picture as PNG bytes, and what was read."""
    from ..picture import write_png
    if scale not in (1, 2):
        raise InputError(f"scale {scale}: expected 1 or 2")
    view = read_window(dmg_path, passphrase)
    try:
        picture = render(view, scale)
    except (ValueError, OSError) as exc:
        raise ReprodmgError(f"{dmg_path}: cannot draw the window: {exc}") from None
    return write_png(picture.size[0], picture.size[1], picture.tobytes(),
                     dpi=72 * scale), view


def library_versions() -> dict[str, str]:
    """What shapes the preview's pixels (the PNG's deflate is libdeflate's)."""
    from importlib.metadata import version
    from PIL import features
    return {"pillow": version("pillow"), "freetype": features.version("freetype2") or "none"}
