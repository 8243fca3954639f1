"""The licence agreement macOS shows before it attaches an image: classic Mac
resources in the UDIF property list's ``resource-fork`` dictionary, as
hdiutil's ``udifrez`` (and dmgbuild, appdmg's dmg-license) store them.

Resources (all big-endian; IDs from 5000, one set per language):

========  =====  ==============================================================
type      ID     data
========  =====  ==============================================================
``LPic``  5000   u16 default region code, u16 count, then per language:
                 u16 region code, u16 ID offset (the language's STR#/TEXT ID
                 is 5000 + offset), u16 1 when the language's script is
                 double-byte (Japanese, Korean, Chinese) else 0
``STR#``  5000+  u16 count (6), then six Pascal strings (u8 length, bytes) in
                 the language's Mac encoding: language name, Agree, Disagree,
                 Print, Save..., and the sentence explaining the buttons
``TEXT``  5000+  the licence as plain text in the language's Mac encoding,
                 lines ending in CR; or ``RTF `` with the RTF document as is
========  =====  ==============================================================

Each resource is a dictionary ``Attributes`` ("0x0000"), ``Data``, ``ID``
(decimal text) and ``Name``.  No ``styl``: without one, TEXT is shown in
the system font, which is what every tool since hdiutil's ``-licence``
examples writes for plain text.  Region codes and encodings are those of
Apple's Script.h (the ``ver*`` region constants and their scripts).

Which macOS versions show the agreement has not been checked on a Mac
here: it is shown when an image is attached by Finder or ``hdiutil
attach``; the tools that added it on a Mac (``hdiutil udifrez``, Rez) are
gone from recent Xcode and macOS, and later macOS versions are reported to
still honour existing agreements.  Best effort, as README says.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from ..errors import CorruptError, InputError

FIRST_ID = 5000
ATTRIBUTES = "0x0000"

# locale -> (Script.h region code, Mac encoding (Python codec), double-byte?)
REGIONS: dict[str, tuple[int, str, bool]] = {
    "en_US": (0, "mac_roman", False), "fr_FR": (1, "mac_roman", False),
    "en_GB": (2, "mac_roman", False), "de_DE": (3, "mac_roman", False),
    "it_IT": (4, "mac_roman", False), "nl_NL": (5, "mac_roman", False),
    "sv_SE": (7, "mac_roman", False), "es_ES": (8, "mac_roman", False),
    "da_DK": (9, "mac_roman", False), "pt_PT": (10, "mac_roman", False),
    "fr_CA": (11, "mac_roman", False), "nb_NO": (12, "mac_roman", False),
    "ja_JP": (14, "shift_jis", True), "en_AU": (15, "mac_roman", False),
    "fi_FI": (17, "mac_roman", False), "ru_RU": (49, "mac_cyrillic", False),
    "ko_KR": (51, "euc_kr", True), "zh_CN": (52, "gb2312", True),
    "zh_TW": (53, "big5", True), "pt_BR": (71, "mac_roman", False),
}
ENGLISH_BUTTONS = (
    "English", "Agree", "Disagree", "Print", "Save...",
    'If you agree with the terms of this license, click "Agree" to access the software. '
    'If you do not agree, click "Disagree".')


@dataclass(frozen=True)
class LicenseText:
    locale: str                      # a key of REGIONS
    text: bytes                      # plain text (UTF-8) or an RTF document
    rtf: bool = False
    buttons: tuple[str, ...] = ENGLISH_BUTTONS


def _pascal(value: str, encoding: str, where: str) -> bytes:
    try:
        raw = value.encode(encoding)
    except UnicodeEncodeError as exc:
        raise InputError(f"{where}: {value!r} cannot be written in {encoding}: {exc.reason}") \
            from None
    if len(raw) > 255:
        raise InputError(f"{where}: {value[:40]!r}... is longer than 255 bytes in {encoding}")
    return bytes([len(raw)]) + raw


def license_resources(texts: list[LicenseText], default: str) -> dict[str, list[dict[str, Any]]]:
    """The ``LPic``, ``STR#`` and ``TEXT``/``RTF `` resources for ``texts``
    (in the given order); ``default`` is the locale shown when none matches."""
    if not texts:
        raise InputError("license: no text")
    for t in texts:
        if t.locale not in REGIONS:
            raise InputError(f"license.{t.locale}: not a known locale "
                             f"({', '.join(sorted(REGIONS))})")
    if default not in {t.locale for t in texts}:
        raise InputError(f"license: default {default!r} has no text")
    lpic = struct.pack(">HH", REGIONS[default][0], len(texts))
    out: dict[str, list[dict[str, Any]]] = {"LPic": [], "STR#": [], "TEXT": [], "RTF ": []}
    for offset, t in enumerate(texts):
        region, encoding, double = REGIONS[t.locale]
        lpic += struct.pack(">HHH", region, offset, 1 if double else 0)
        if len(t.buttons) != 6:
            raise InputError(f"license.{t.locale}.buttons: expected 6 strings (language, agree, "
                             "disagree, print, save, explanation)")
        strs = struct.pack(">H", 6) + b"".join(
            _pascal(s, encoding, f"license.{t.locale}.buttons[{i}]") for i, s in enumerate(t.buttons))
        ident = str(FIRST_ID + offset)
        name = t.buttons[0]
        out["STR#"].append({"Attributes": ATTRIBUTES, "Data": strs, "ID": ident,
                            "Name": f"{name} buttons"})
        if t.rtf:
            out["RTF "].append({"Attributes": ATTRIBUTES, "Data": t.text, "ID": ident,
                                "Name": f"{name} SLA"})
        else:
            try:
                body = t.text.decode("utf-8").replace("\r\n", "\n").replace("\n", "\r")
                data = body.encode(encoding)
            except UnicodeError as exc:
                raise InputError(f"license.{t.locale}: the text cannot be written in "
                                 f"{encoding} (use an .rtf file): {exc}") from None
            out["TEXT"].append({"Attributes": ATTRIBUTES, "Data": data, "ID": ident,
                                "Name": f"{name} SLA"})
    out["LPic"].append({"Attributes": ATTRIBUTES, "Data": lpic, "ID": str(FIRST_ID), "Name": ""})
    return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class LicenseEntry:
    """One language as read back: what macOS would show."""
    region: int
    locale: str | None
    double_byte: bool
    buttons: list[str]
    kind: str                        # "TEXT" or "RTF "
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"region": self.region, "locale": self.locale, "double_byte": self.double_byte,
                "buttons": self.buttons, "kind": self.kind.strip(), "length": len(self.text)}


def read_license(resources: dict[str, Any], path: str = "<image>") -> tuple[int, list[LicenseEntry]] | None:
    """The default region and each language's buttons and text, or None
    when the image has no ``LPic``."""
    lpics = resources.get("LPic")
    if not lpics:
        return None

    def data_of(kind: str, ident: int) -> bytes | None:
        for r in resources.get(kind) or []:
            if isinstance(r, dict) and str(r.get("ID")) == str(ident) and isinstance(r.get("Data"), bytes):
                return r["Data"]
        return None

    lpic = data_of("LPic", FIRST_ID)
    if lpic is None or len(lpic) < 4:
        raise CorruptError(path, "resource LPic 5000", "missing or shorter than 4 bytes", 0)
    default, count = struct.unpack_from(">HH", lpic, 0)
    if len(lpic) < 4 + 6 * count:
        raise CorruptError(path, "resource LPic 5000", f"{count} entries do not fit", 2)
    by_region = {code: (loc, enc) for loc, (code, enc, _d) in REGIONS.items()}
    entries = []
    for i in range(count):
        region, offset, double = struct.unpack_from(">HHH", lpic, 4 + 6 * i)
        locale, encoding = by_region.get(region, (None, "mac_roman"))
        ident = FIRST_ID + offset
        strs = data_of("STR#", ident)
        buttons: list[str] = []
        if strs is not None and len(strs) >= 2:
            pos = 2
            for _ in range(struct.unpack_from(">H", strs, 0)[0]):
                if pos >= len(strs) or pos + 1 + strs[pos] > len(strs):
                    raise CorruptError(path, f"resource STR# {ident}", "a string runs past its data",
                                       pos)
                buttons.append(strs[pos + 1:pos + 1 + strs[pos]].decode(encoding, "replace"))
                pos += 1 + strs[pos]
        text = data_of("TEXT", ident)
        kind = "TEXT"
        if text is None:
            text, kind = data_of("RTF ", ident), "RTF "
        if text is None:
            raise CorruptError(path, f"resource TEXT/RTF {ident}", "the language has no text", 0)
        decoded = text.decode(encoding, "replace").replace("\r", "\n") if kind == "TEXT" \
            else text.decode("latin-1")
        entries.append(LicenseEntry(region, locale, bool(double), buttons, kind, decoded))
    return default, entries
