"""The licence agreement's UDIF resources (issue 16 §1): written per
language, read back, and checked against resources other projects made
with Apple's Rez (the hex below is theirs, quoted from their SLA.r files):
the layout of LPic and STR# must be the one macOS reads."""

from __future__ import annotations

import struct

import pytest

from pipeline.errors import InputError
from pipeline.udif.license import (ENGLISH_BUTTONS, REGIONS, LicenseText, license_resources,
                                   read_license)

# fwbuilder's packaging/SLA.r (and pd-macambira's, the same table): 17
# languages, default region 2 (en_GB), Japanese/Chinese/Korean double-byte.
FWBUILDER_LPIC = bytes.fromhex(
    "0002 0011 0003 0001 0000 0000 0002 0000"
    "0008 0003 0000 0001 0004 0000 0004 0005"
    "0000 000E 0006 0001 0005 0007 0000 0007"
    "0008 0000 0047 0009 0000 0034 000A 0001"
    "0035 000B 0001 0020 000C 0000 0011 000D"
    "0000 005B 0004 0000 0033 000F 0001 000C"
    "0010 0000 000B 000E 0000".replace(" ", ""))
# goob256/monster-rpg-3's tools/mac_dmg/sla.r: an English STR# (count 6,
# Pascal strings).
SLA_R_STRS = bytes.fromhex(
    "0006 0D45 6E67 6C69 7368 2074 6573 7431"
    "0541 6772 6565 0844 6973 6167 7265 6505"
    "5072 696E 7407 5361 7665 2E2E 2E7A 4966"
    "2079 6F75 2061 6772 6565 2077 6974 6820"
    "7468 6520 7465 726D 7320 6F66 2074 6869"
    "7320 6C69 6365 6E73 652C 2063 6C69 636B"
    "2022 4167 7265 6522 2074 6F20 6163 6365"
    "7373 2074 6865 2073 6F66 7477 6172 652E"
    "2020 4966 2079 6F75 2064 6F20 6E6F 7420"
    "6167 7265 652C 2070 7265 7373 2022 4469"
    "7361 6772 6565 2E22".replace(" ", ""))


def test_rez_made_lpic_reads_as_macos_would():
    resources = {"LPic": [{"ID": "5000", "Data": FWBUILDER_LPIC}],
                 **{kind: [{"ID": str(5000 + i), "Data": b"x"} for i in range(17)]
                    for kind in ("TEXT", "STR#")}}
    default, entries = read_license(resources)
    assert default == 2 and len(entries) == 17
    by_region = {e.region: e for e in entries}
    # Region codes as in Script.h: US 0, France 1, Germany 3, Japan 14,
    # Korea 51, China 52, Taiwan 53, Brazil 71 (its default, Britain 2, has
    # no text of its own there).
    assert {0, 1, 3, 14, 51, 52, 53, 71} <= set(by_region) and 2 not in by_region
    assert by_region[3].locale == "de_DE" and by_region[71].locale == "pt_BR"
    assert {e.locale for e in entries if e.double_byte} == {"ja_JP", "ko_KR", "zh_CN", "zh_TW"}
    # Our table names every double-byte region the same way.
    assert {loc for loc, (_c, _e, double) in REGIONS.items() if double} == \
        {"ja_JP", "ko_KR", "zh_CN", "zh_TW"}


def test_our_str_resource_has_rez_layout():
    message = ('If you agree with the terms of this license, click "Agree" to access the '
               'software.  If you do not agree, press "Disagree."')
    buttons = ("English test1", "Agree", "Disagree", "Print", "Save...", message)
    res = license_resources([LicenseText("en_US", b"terms", buttons=buttons)], "en_US")
    assert res["STR#"][0]["Data"] == SLA_R_STRS
    assert res["LPic"][0]["Data"] == struct.pack(">HHHHH", 0, 1, 0, 0, 0)


def test_languages_round_trip():
    texts = [LicenseText("en_US", "Terms\nline 2 \u2013 dash\n".encode()),
             LicenseText("de_DE", rb"{\rtf1\ansi Bedingungen}", rtf=True,
                         buttons=("Deutsch", "Akzeptieren", "Ablehnen", "Drucken", "Sichern...",
                                  "Klicken Sie auf \u201eAkzeptieren\u201c.")),
             LicenseText("ja_JP", "\u5951\u7d04".encode(),
                         buttons=("\u65e5\u672c\u8a9e", "\u540c\u610f", "\u540c\u610f\u3057\u306a\u3044",
                                  "\u30d7\u30ea\u30f3\u30c8", "\u4fdd\u5b58...", "\u8aac\u660e"))]
    res = license_resources(texts, "de_DE")
    assert sorted(res) == ["LPic", "RTF ", "STR#", "TEXT"]
    assert [r["ID"] for r in res["STR#"]] == ["5000", "5001", "5002"]
    # Plain text in the Mac encoding with CR line ends.
    assert res["TEXT"][0]["Data"] == "Terms\rline 2 \u2013 dash\r".encode("mac_roman")
    default, entries = read_license(res)
    assert default == REGIONS["de_DE"][0]
    assert [(e.locale, e.kind, e.double_byte) for e in entries] == \
        [("en_US", "TEXT", False), ("de_DE", "RTF ", False), ("ja_JP", "TEXT", True)]
    assert entries[0].buttons == list(ENGLISH_BUTTONS)
    assert entries[0].text == "Terms\nline 2 \u2013 dash\n"
    assert entries[2].text == "\u5951\u7d04" and entries[2].buttons[0] == "\u65e5\u672c\u8a9e"
    assert entries[1].buttons[5] == "Klicken Sie auf \u201eAkzeptieren\u201c."


@pytest.mark.parametrize("texts, default, problem", [
    ([LicenseText("xx_XX", b"t")], "xx_XX", "not a known locale"),
    ([LicenseText("en_US", b"t")], "de_DE", "default 'de_DE' has no text"),
    ([LicenseText("en_US", "\u4e2d".encode())], "en_US", "cannot be written in mac_roman"),
    ([LicenseText("en_US", b"t", buttons=("a",) * 5)], "en_US", "expected 6 strings"),
    ([LicenseText("en_US", b"t", buttons=("a" * 300,) + ("b",) * 5)], "en_US",
     "longer than 255 bytes"),
])
def test_bad_licences_are_refused(texts, default, problem):
    with pytest.raises(InputError, match=problem):
        license_resources(texts, default)
