"""The installer settings people already have, as this project's ``[dmg]``
and ``[dmg.window]`` tables: an appdmg JSON specification and a dmgbuild
settings file (``reprodmg layout import``, and ``[dmg] import = "..."`` in a
release configuration).

A dmgbuild settings file is Python that dmgbuild executes.  It is read here
without running it: module-level assignments whose values are literals,
earlier names, ``defines.get(key, default)`` (``-D key=value`` on the
command line), ``os.path.basename``/``os.path.join`` of those, and string
concatenation.  Anything else that a used setting needs is refused, naming
the line, rather than executed.

Paths stay relative to the imported file's folder; the caller rebases them.
Settings this project does not implement are listed in ``ignored`` when
they are cosmetic (badge icons, dmgbuild's built-in arrow, list-view
settings) and refused when ignoring them would change what the volume
holds (extra files, other symbolic links).
"""

from __future__ import annotations

import ast
import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

MAX_SETTINGS_BYTES = 1 << 20
# dmgbuild's formats this project writes (hdiutil's names).
_FORMATS = ("UDRO", "UDZO", "UDBZ", "ULFO", "ULMO")


@dataclass
class ImportedLayout:
    source: str                                   # the file, for messages
    dmg: dict[str, Any] = field(default_factory=dict)
    window: dict[str, Any] = field(default_factory=dict)
    app: str | None = None                        # the .app the settings name, if any
    ignored: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "dmg": self.dmg, "window": self.window, "app": self.app,
                "ignored": self.ignored}

    def to_toml(self) -> str:
        """The two tables, ready to paste into a release configuration."""
        lines = [f"# Imported from {posixpath.basename(self.source)} by reprodmg layout import;",
                 "# paths are relative to that file's folder."]
        lines += [f"# not imported: {item}" for item in self.ignored]
        lines.append("[dmg]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in sorted(self.dmg.items())]
        lines += ["", "[dmg.window]"]
        for k, v in sorted(self.window.items()):
            if k == "positions":
                inner = ", ".join(f"{_toml_value(n)} = {_toml_value(list(xy))}"
                                  for n, xy in sorted(v.items()))
                lines.append(f"positions = {{ {inner} }}")
            else:
                lines.append(f"{k} = {_toml_value(v)}")
        return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)     # a TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def load_layout(path: str | Path, *, defines: dict[str, str] | None = None) -> ImportedLayout:
    """An appdmg ``.json`` or a dmgbuild ``.py`` settings file."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_SETTINGS_BYTES:
            raise InputError(f"{p}: larger than {MAX_SETTINGS_BYTES} bytes")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if p.suffix.lower() == ".json":
        return from_appdmg(text, str(p))
    if p.suffix.lower() == ".py":
        return from_dmgbuild(text, str(p), defines or {})
    raise InputError(f"{p}: expected an appdmg .json specification or a dmgbuild .py settings file")


# --------------------------------------------------------------------------
# appdmg (https://github.com/LinusU/node-appdmg, its README's specification).

def _int(where: str, value: Any, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or not lo <= value <= 16384:
        raise InputError(f"{where}: expected a whole number {lo}..16384, got {value!r}")
    return int(value)


def _str(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: expected a non-empty string, got {value!r}")
    return value


_PICTURE_EXTS = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".gif", ".bmp", ".pdf", ".icns")


def _colour(where: str, value: str) -> str:
    """'#rrggbb' for a CSS colour ('#34f', '#3344ff', 'powderblue'), read by
    Pillow's ImageColor; other notations are refused."""
    from PIL import ImageColor
    if value.startswith(("rgb(", "rgba(", "hsl(", "hsv(", "hwb(", "cmyk(")):
        raise InputError(f"{where}: {value!r}: give the colour as '#rrggbb' or a CSS name")
    try:
        rgb = ImageColor.getrgb(value)
    except ValueError:
        raise InputError(f"{where}: {value!r}: not a picture file name, '#rrggbb' or a CSS "
                         "colour name") from None
    return "#" + "".join(f"{c:02x}" for c in rgb[:3])


def _background(where: str, value: str, out: "ImportedLayout") -> None:
    if value == "builtin-arrow":
        out.ignored.append("background 'builtin-arrow' (dmgbuild's own picture: give a "
                           "picture or a colour)")
    elif value.lower().endswith(_PICTURE_EXTS) or "/" in value:
        out.window["background"] = value
    else:
        out.window["background"] = _colour(where, value)


def from_appdmg(text: str, source: str) -> ImportedLayout:
    try:
        spec = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise InputError(f"{source}: expected a JSON object")
    out = ImportedLayout(source)
    where = lambda key: f"{source}: {key}"     # noqa: E731
    # appdmg's keys; dmgbuild's JSON form adds compression-level, size, shrink.
    known = {"title", "icon", "background", "background-color", "icon-size", "window",
             "contents", "format", "filesystem", "badge-icon", "code-sign", "text-size",
             "compression-level", "size", "shrink", "license"}
    for key in sorted(set(spec) - known, key=str):
        out.ignored.append(f"{key} (not an appdmg key)")
    out.dmg["volume_name"] = _str(where("title"), spec.get("title"))
    if "icon" in spec:
        out.dmg["volume_icon"] = _str(where("icon"), spec["icon"])
    if "badge-icon" in spec:
        out.ignored.append("badge-icon (no badge icons: give 'icon' for a volume icon)")
    for key in ("compression-level", "size", "shrink"):
        if key in spec:
            out.ignored.append(f"{key} (dmgbuild's; the image is sized and compressed here)")
    if "format" in spec:
        fmt = _str(where("format"), spec["format"])
        if fmt not in _FORMATS:
            raise InputError(f"{where('format')}: {fmt!r}: expected one of {', '.join(_FORMATS)}")
        out.dmg["format"] = fmt
    if spec.get("filesystem", "HFS+") != "HFS+":
        raise InputError(f"{where('filesystem')}: {spec['filesystem']!r}: only HFS+ is written")
    if "license" in spec:
        out.ignored.append("license (give [dmg.license] texts as files)")
    if "code-sign" in spec:
        out.ignored.append("code-sign (sign through the detached-signature stage)")
    if "background-color" in spec:
        colour = _colour(where("background-color"), _str(where("background-color"),
                                                         spec["background-color"]))
        if "background" in spec:
            out.ignored.append("background-color (the background picture covers it)")
        else:
            out.window["background"] = colour
    if "background" in spec:
        _background(where("background"), _str(where("background"), spec["background"]), out)
    if "icon-size" in spec:
        out.window["icon_size"] = _int(where("icon-size"), spec["icon-size"], 16)
    if "text-size" in spec:
        out.window["text_size"] = _int(where("text-size"), spec["text-size"], 10)
    window = spec.get("window", {})
    if not isinstance(window, dict):
        raise InputError(f"{where('window')}: expected an object")
    if "position" in window:
        pos = window["position"]
        if not isinstance(pos, dict):
            raise InputError(f"{where('window.position')}: expected {{x, y}}")
        out.window["origin"] = [_int(where("window.position.x"), pos.get("x")),
                                _int(where("window.position.y"), pos.get("y"))]
    if "size" in window:
        size = window["size"]
        if not isinstance(size, dict):
            raise InputError(f"{where('window.size')}: expected {{width, height}}")
        out.window["size"] = [_int(where("window.size.width"), size.get("width"), 1),
                              _int(where("window.size.height"), size.get("height"), 1)]
    contents = spec.get("contents")
    if not isinstance(contents, list):
        raise InputError(f"{where('contents')}: expected an array")
    positions: dict[str, list[int]] = {}
    link = None
    for i, item in enumerate(contents):
        at = where(f"contents[{i}]")
        if not isinstance(item, dict):
            raise InputError(f"{at}: expected an object")
        kind = item.get("type")
        xy = [_int(f"{at}.x", item.get("x")), _int(f"{at}.y", item.get("y"))]
        path = _str(f"{at}.path", item.get("path")) if kind != "position" else None
        name = item.get("name") or (posixpath.basename(path.rstrip("/")) if path else None)
        name = _str(f"{at}.name", name)
        if kind == "link":
            if path != "/Applications":
                raise InputError(f"{at}: a link to {path!r}: only the Applications link is made")
            if link is not None:
                raise InputError(f"{at}: a second link")
            link = name
        elif kind == "file":
            if not name.endswith(".app") or out.app is not None:
                raise InputError(f"{at}: {name!r}: only the app is staged in the volume "
                                 "(extra files are not supported yet)")
            out.app = path
        elif kind != "position":
            raise InputError(f"{at}.type: {kind!r}: expected link, file or position")
        positions[name] = xy
    out.dmg["applications_link"] = link if link is not None else False
    out.window["positions"] = positions
    return out


# --------------------------------------------------------------------------
# dmgbuild (https://dmgbuild.readthedocs.io, "Settings").

class _Unreadable(Exception):
    def __init__(self, node: ast.AST, why: str) -> None:
        super().__init__(why)
        self.line = getattr(node, "lineno", 0)


def _evaluate(node: ast.AST, names: dict[str, Any], defines: dict[str, str]) -> Any:
    """A value made only of literals, earlier names and the few helpers
    settings files use; _Unreadable otherwise."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        raise _Unreadable(node, f"{node.id!r} is not defined before")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = _evaluate(node.left, names, defines), _evaluate(node.right, names, defines)
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        raise _Unreadable(node, "only strings are added")
    if isinstance(node, (ast.Tuple, ast.List)):
        return [_evaluate(e, names, defines) for e in node.elts]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise _Unreadable(node, "dictionary unpacking")
        return {_evaluate(k, names, defines): _evaluate(v, names, defines)
                for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and not node.keywords:
        func = ast.unparse(node.func)
        args = [_evaluate(a, names, defines) for a in node.args]
        if func == "defines.get" and 1 <= len(args) <= 2 and isinstance(args[0], str):
            return defines.get(args[0], args[1] if len(args) == 2 else None)
        if func == "os.path.basename" and len(args) == 1 and isinstance(args[0], str):
            return posixpath.basename(args[0])
        if func == "os.path.join" and args and all(isinstance(a, str) for a in args):
            return posixpath.join(*args)
        raise _Unreadable(node, f"{func}(...) is not one of defines.get, os.path.basename, "
                                "os.path.join")
    raise _Unreadable(node, f"{type(node).__name__} is not a literal")


_DMGBUILD_IGNORED = {
    "filename", "size", "compression_level", "show_status_bar", "show_tab_view", "show_pathbar",
    "sidebar_width", "show_icon_preview", "include_icon_view_settings",
    "include_list_view_settings", "grid_offset", "grid_spacing", "scroll_position",
    "hide_extensions", "list_icon_size", "list_text_size", "list_scroll_position",
    "list_sort_by", "list_use_relative_dates", "list_calculate_all_sizes", "list_columns",
    "list_column_widths", "list_column_sort_directions", "filesystem", "license",
    "badge_icon",
}
_DMGBUILD_KEYS = {"volume_name", "format", "files", "symlinks", "hide", "icon", "badge_icon",
                  "icon_locations", "background", "show_toolbar", "show_sidebar", "window_rect",
                  "default_view", "arrange_by", "label_pos", "text_size", "icon_size",
                  *_DMGBUILD_IGNORED}


def from_dmgbuild(text: str, source: str, defines: dict[str, str]) -> ImportedLayout:
    try:
        tree = ast.parse(text, source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise InputError(f"{source}: not Python dmgbuild can read: {exc}") from None
    names: dict[str, Any] = {"__file__": source}
    failed: dict[str, _Unreadable] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], ast.Name):
            key = stmt.targets[0].id
            try:
                names[key] = _evaluate(stmt.value, names, defines)
                failed.pop(key, None)
            except _Unreadable as exc:
                failed[key] = exc
                names.pop(key, None)
        # Imports, function definitions and the like are not run; a setting
        # that needs them is reported below by name and line.
    out = ImportedLayout(source)
    for key in sorted(failed):
        if key in _DMGBUILD_KEYS and key not in _DMGBUILD_IGNORED:
            exc = failed[key]
            raise InputError(f"{source}: line {exc.line}: {key}: {exc} (settings are read, "
                             "not executed)")
    settings = {k: v for k, v in names.items() if k in _DMGBUILD_KEYS}
    where = lambda key: f"{source}: {key}"     # noqa: E731
    for key in sorted(set(settings) | set(failed)):
        if key in _DMGBUILD_IGNORED:
            out.ignored.append(key)
    if "volume_name" in settings:
        out.dmg["volume_name"] = _str(where("volume_name"), settings["volume_name"])
    if settings.get("format") is not None:
        fmt = _str(where("format"), settings["format"])
        if fmt not in _FORMATS:
            raise InputError(f"{where('format')}: {fmt!r}: expected one of {', '.join(_FORMATS)}")
        out.dmg["format"] = fmt
    if settings.get("icon") is not None:
        out.dmg["volume_icon"] = _str(where("icon"), settings["icon"])
    for item in settings.get("files") or []:
        pair = isinstance(item, (list, tuple))
        src = item[0] if pair and item else item
        name = item[1] if pair and len(item) > 1 else None
        src = _str(where("files"), src)
        name = name or posixpath.basename(src.rstrip("/"))
        if not name.endswith(".app") or out.app is not None:
            raise InputError(f"{where('files')}: {name!r}: only the app is staged in the volume "
                             "(extra files are not supported yet)")
        out.app = src
    symlinks = settings.get("symlinks") or {}
    if not isinstance(symlinks, dict):
        raise InputError(f"{where('symlinks')}: expected a dictionary")
    link = None
    for name, target in symlinks.items():
        if target != "/Applications" or link is not None:
            raise InputError(f"{where('symlinks')}: {name!r} -> {target!r}: only the "
                             "Applications link is made")
        link = _str(where("symlinks"), name)
    out.dmg["applications_link"] = link if link is not None else False
    if settings.get("default_view", "icon-view") != "icon-view":
        raise InputError(f"{where('default_view')}: {settings['default_view']!r}: only the "
                         "icon view is written")
    rect = settings.get("window_rect")
    if rect is not None:
        try:
            (x, y), (w, h) = rect
        except (TypeError, ValueError):
            raise InputError(f"{where('window_rect')}: expected ((x, y), (width, height))") from None
        out.window["origin"] = [_int(where("window_rect"), x), _int(where("window_rect"), y)]
        out.window["size"] = [_int(where("window_rect"), w, 1), _int(where("window_rect"), h, 1)]
    for ours, theirs in (("icon_size", "icon_size"), ("text_size", "text_size")):
        if settings.get(theirs) is not None:
            out.window[ours] = _int(where(theirs), settings[theirs], 1)
    for key in ("show_toolbar", "show_sidebar"):
        if settings.get(key) is not None:
            if not isinstance(settings[key], bool):
                raise InputError(f"{where(key)}: expected True or False")
            out.window[key] = settings[key]
    if settings.get("label_pos") is not None:
        out.window["label_position"] = _str(where("label_pos"), settings["label_pos"])
    if "arrange_by" in settings:
        out.window["arrange_by"] = settings["arrange_by"] or "none"
    if settings.get("hide"):
        if not isinstance(settings["hide"], (list, tuple)):
            raise InputError(f"{where('hide')}: expected a list of names")
        out.window["hide"] = [_str(where("hide"), n) for n in settings["hide"]]
    if settings.get("background") is not None:
        _background(where("background"), _str(where("background"), settings["background"]), out)
    locations = settings.get("icon_locations") or {}
    if not isinstance(locations, dict):
        raise InputError(f"{where('icon_locations')}: expected a dictionary")
    positions = {}
    for name, xy in locations.items():
        if not isinstance(xy, (list, tuple)) or len(xy) != 2:
            raise InputError(f"{where('icon_locations')}: {name!r}: expected (x, y)")
        positions[_str(where("icon_locations"), name)] = [_int(where(f"icon_locations.{name}"), v)
                                                          for v in xy]
    if positions:
        out.window["positions"] = positions
    return out
