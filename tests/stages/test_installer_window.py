"""The installer window, complete (issue 16 §1): defaults with no
[dmg.window], the Applications link's name and place, the volume icon,
open on mount, label position, arrange-by, hidden entries, a colour
background and Retina (two-page TIFF) backgrounds.

Read back from the built DMG with ``ds_store`` and ``mac_alias`` (the
packages Finder's records are written with), 7-Zip and libfshfs where they
show the item, Pillow for pictures, and our reader for Finder info (the
kernel's view of the flags is in test_layout_kernel.py).
"""

from __future__ import annotations

import io
import json
import plistlib
import struct
from pathlib import Path

import pytest
from PIL import Image

from test_layout import (EPOCH, K_IS_INVISIBLE, build, copy_example, ds_store_records, our_entries,
                         read_with_7z, read_with_our_reader)
from pipeline.build import config, image
from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.udif.license import read_license
from pipeline.picture import ICNS_PNG_TYPES, read_icns, write_png

K_HAS_CUSTOM_ICON = 0x0400
# TN1150: the volume header's finderInfo[2] is the folder Finder opens on
# mount; finderInfo starts at offset 80 of the header, which starts at 1024.
VH_FINDER_INFO = 1024 + 80


def configure(tmp_path: Path, dmg: str = "", window: str | None = "",
              files: dict[str, bytes] | None = None) -> config.ReleaseConfig:
    """The example's configuration with ``[dmg]`` extra lines, a
    ``[dmg.window]`` table (None: no table at all) and ``files`` beside it."""
    cfg = copy_example(tmp_path / "project")
    for name, data in (files or {}).items():
        (cfg.root / name).write_bytes(data)
    text = cfg.path.read_text()
    text = text[:text.index("[dmg]")]
    text += '[dmg]\nvolume_name = "Hello"\nformat = "UDZO"\n' + dmg + "\n"
    if window is not None:
        text += "[dmg.window]\n" + window + "\n"
    cfg.path.write_text(text)
    return config.load(cfg.path)


def records(dmg: Path) -> dict:
    return ds_store_records(read_with_our_reader(dmg, ".DS_Store"))


def flags(entry) -> int:
    return int.from_bytes(entry.finder_info[8:10], "big") if entry.finder_info else 0


def expanded(dmg: Path) -> bytes:
    from pipeline.udif.reader import open_udif
    img = open_udif(dmg)
    part = img.data_partition()
    return img.read_partition(part, 0, 4096)


def test_defaults_without_a_window_table(tmp_path):
    cfg = configure(tmp_path, window=None)
    assert cfg.window == config.WindowConfig() and cfg.applications_link == "Applications"
    dmg = build(tmp_path, cfg)
    recs = records(dmg)
    w, h = cfg.window.size
    # The app on the left, the link on the right, halfway down.
    assert recs[("Hello.app", "Iloc")] == (w // 4, h // 2)
    assert recs[("Applications", "Iloc")] == (3 * w // 4, h // 2)
    icvp = recs[(".", "icvp")]
    assert (icvp["iconSize"], icvp["textSize"], icvp["labelOnBottom"], icvp["arrangeBy"]) == \
        (128.0, 12.0, True, "none")
    assert isinstance(icvp["iconSize"], float) and isinstance(icvp["textSize"], float)
    assert recs[(".", "bwsp")]["WindowBounds"] == "{{100, 100}, {600, 400}}"
    # Opened on mount: finderInfo[2] is the root folder's CNID (2), read
    # from the raw expanded volume, not through our reader.
    raw = expanded(dmg)
    assert struct.unpack_from(">8I", raw, VH_FINDER_INFO)[2] == 2


def test_window_off_link_renamed_or_off_and_no_open_on_mount(tmp_path):
    cfg = configure(tmp_path / "a", dmg='applications_link = "Programme"\nopen_on_mount = false',
                    window="enabled = false")
    assert cfg.window is None
    dmg = build(tmp_path / "a", cfg)
    _, entries = our_entries(dmg)
    assert ".DS_Store" not in entries and entries["Programme"].link_target == "/Applications"
    assert struct.unpack_from(">8I", expanded(dmg), VH_FINDER_INFO)[2] == 0
    cfg = configure(tmp_path / "b", dmg="applications_link = false")
    dmg = build(tmp_path / "b", cfg)
    _, entries = our_entries(dmg)
    assert "Applications" not in entries
    # The app alone still goes on the left.
    assert set(k for k in records(dmg) if k[1] == "Iloc") == {("Hello.app", "Iloc")}
    cfg = configure(tmp_path / "c", dmg='applications_link = "Programme"')
    recs = records(build(tmp_path / "c", cfg))
    assert recs[("Programme", "Iloc")] == (450, 200)


@pytest.mark.parametrize("dmg, problem", [
    ('applications_link = "a/b"', "dmg.applications_link: 'a/b': expected true, false or a name"),
    ("applications_link = 3", "dmg.applications_link: expected"),
    ('volume_icon = "src/main.c"', "dmg.volume_icon: 'src/main.c': expected an .icns or .png"),
    ("open_on_mount = 1", "dmg.open_on_mount: expected a boolean"),
])
def test_dmg_option_errors_name_the_key(tmp_path, dmg, problem):
    with pytest.raises(InputError) as err:
        configure(tmp_path, dmg=dmg)
    assert problem in str(err.value)


def square_png(side: int) -> bytes:
    return write_png(side, side, bytes(c for y in range(side) for x in range(side)
                                       for c in (x * 255 // side, y * 255 // side, 128, 255)))


def test_volume_icon_from_a_png(tmp_path):
    cfg = configure(tmp_path, dmg='volume_icon = "icon.png"', files={"icon.png": square_png(256)})
    dmg = build(tmp_path, cfg)
    _, entries = our_entries(dmg)
    icon = entries[".VolumeIcon.icns"]
    assert flags(icon) & K_IS_INVISIBLE
    reader, _ = our_entries(dmg)
    assert flags(reader.root()) & K_HAS_CUSTOM_ICON
    data = read_with_our_reader(dmg, ".VolumeIcon.icns")
    assert data == read_with_7z(dmg, ".VolumeIcon.icns", tmp_path / "7z")
    entries_icns = read_icns(data)
    assert {e.type for e in entries_icns} == {b"icp4", b"icp5", b"ic11", b"icp6", b"ic12",
                                              b"ic07", b"ic08", b"ic13"}
    # Pillow, an independent reader of the container and its PNGs.
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "ICNS" and im.size == (256, 256)
    for e in entries_icns:
        with Image.open(io.BytesIO(e.data)) as png:
            side = ICNS_PNG_TYPES[e.type][0]
            assert png.size == (side, side)
    # The same icon given as .icns is stored as it is.
    cfg2 = configure(tmp_path / "again", dmg='volume_icon = "icon.icns"', files={"icon.icns": data})
    assert read_with_our_reader(build(tmp_path / "again", cfg2), ".VolumeIcon.icns") == data


def test_volume_icon_errors(tmp_path):
    cfg = configure(tmp_path, dmg='volume_icon = "icon.png"',
                    files={"icon.png": write_png(4, 2, bytes(32))})
    with pytest.raises(InputError, match=r"dmg.volume_icon: icon.png: 4x2: an icon must be square"):
        build(tmp_path, cfg)
    (cfg.root / "icon.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage")
    with pytest.raises(InputError, match=r"dmg.volume_icon: icon.png: cannot read the picture"):
        build(tmp_path / "2", cfg)


def test_label_arrange_colour_and_hidden(tmp_path):
    cfg = configure(tmp_path, window='label_position = "right"\narrange_by = "date-modified"\n'
                                     'background = "#3366cc"\nhide = ["Applications"]\n'
                                     'text_size = 14')
    dmg = build(tmp_path, cfg)
    icvp = records(dmg)[(".", "icvp")]
    assert icvp["labelOnBottom"] is False and icvp["arrangeBy"] == "dateModified"
    assert icvp["backgroundType"] == 1 and "backgroundImageAlias" not in icvp
    assert (icvp["backgroundColorRed"], icvp["backgroundColorGreen"],
            icvp["backgroundColorBlue"]) == (0x33 / 255, 0x66 / 255, 0xcc / 255)
    assert icvp["textSize"] == 14.0
    _, entries = our_entries(dmg)
    assert ".background" not in entries
    assert flags(entries["Applications"]) & K_IS_INVISIBLE
    assert not flags(entries["Hello.app"]) & K_IS_INVISIBLE
    # A hidden entry gets no default position.
    assert ("Applications", "Iloc") not in records(dmg)


def test_hide_names_a_missing_entry(tmp_path):
    cfg = configure(tmp_path, window='hide = ["Nope"]')
    with pytest.raises(InputError, match=r"dmg.window.hide.'Nope': no such entry at the top"):
        build(tmp_path, cfg)


def rgb_png(w: int, h: int, colour: tuple[int, int, int]) -> bytes:
    return write_png(w, h, bytes(colour) * (w * h), channels=3)


def test_retina_background_is_one_two_page_tiff(tmp_path):
    cfg = configure(tmp_path, window='background = "bg.png"\nsize = [200, 100]',
                    files={"bg.png": rgb_png(200, 100, (10, 20, 30)),
                           "bg@2x.png": rgb_png(400, 200, (40, 50, 60))})
    assert cfg.window.background_2x == "bg@2x.png"
    assert cfg.image_files() == ["bg.png", "bg@2x.png"]
    dmg = build(tmp_path, cfg)
    data = read_with_our_reader(dmg, ".background/bg.tiff")
    with Image.open(io.BytesIO(data)) as tiff:
        assert tiff.n_frames == 2
        assert tiff.size == (200, 100) and tiff.getpixel((5, 5))[:3] == (10, 20, 30)
        assert tiff.info["dpi"] == (72.0, 72.0)
        tiff.seek(1)
        assert tiff.size == (400, 200) and tiff.getpixel((5, 5))[:3] == (40, 50, 60)
        # The 2x page says 144 dpi: the same 200x100 points, twice the pixels.
        assert tiff.info["dpi"] == (144.0, 144.0)
    alias = records(dmg)[(".", "icvp")]["backgroundImageAlias"]
    import mac_alias
    assert mac_alias.Alias.from_bytes(alias).target.filename == "bg.tiff"
    # The same inputs give the same bytes (a second build elsewhere).
    assert build(tmp_path / "again", cfg).read_bytes() == dmg.read_bytes()
    # A 2x picture of the wrong size is refused, naming both.
    (cfg.root / "bg@2x.png").write_bytes(rgb_png(300, 200, (0, 0, 0)))
    with pytest.raises(InputError, match=r"bg@2x.png is 300x200, not twice bg.png's 200x100"):
        build(tmp_path / "bad", cfg)


def test_image_stage_records_the_options(tmp_path):
    cfg = configure(tmp_path, dmg='volume_icon = "icon.png"\napplications_link = "Apps"',
                    files={"icon.png": square_png(64)})
    options = image.image_options(cfg, EPOCH)
    assert (options["volume_icon"], options["applications_link"], options["open_on_mount"]) == \
        ("icon.png", "Apps", True)
    assert options["window"]["label_position"] == "bottom"


# --------------------------------------------------------------------------
# The licence agreement, through a release configuration.

def _xml_resources(dmg: Path) -> dict:
    """The property list read straight from the koly trailer's xmlOffset
    and xmlLength (UDIF: last 512 bytes; offsets at 216 and 224)."""
    data = dmg.read_bytes()
    koly = data[-512:]
    offset, length = struct.unpack_from(">QQ", koly, 216)
    return plistlib.loads(data[offset:offset + length])["resource-fork"]


def test_a_release_with_a_licence(tmp_path, capsys):
    cfg = copy_example(tmp_path / "project")
    (cfg.root / "LICENSE.txt").write_text("You may use this.\nThanks.\n")
    (cfg.root / "LIZENZ.rtf").write_bytes(rb"{\rtf1\ansi Sie d\'fcrfen.}")
    text = cfg.path.read_text()
    text += ('\n[dmg.license]\ntexts = { en_US = "LICENSE.txt", de_DE = "LIZENZ.rtf" }\n'
             'buttons = { de_DE = ["Deutsch", "Akzeptieren", "Ablehnen", "Drucken", '
             '"Sichern...", "Bitte lesen."] }\n')
    cfg.path.write_text(text)
    cfg = config.load(cfg.path)
    assert cfg.license.default == "en_US"
    assert {"LICENSE.txt", "LIZENZ.rtf"} <= set(cfg.image_files())
    dmg = build(tmp_path, cfg)
    fork = _xml_resources(dmg)
    assert {"LPic", "STR#", "TEXT", "RTF "} <= set(fork)
    default, entries = read_license(fork)
    assert default == 0 and [e.locale for e in entries] == ["en_US", "de_DE"]
    assert entries[0].text == "You may use this.\nThanks.\n"
    assert main(["dmg", "info", str(dmg), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [x["locale"] for x in info["license"]["languages"]] == ["en_US", "de_DE"]
    assert main(["dmg", "verify", str(dmg)]) == 0


@pytest.mark.parametrize("table, problem", [
    ('texts = { de_DE = "L.txt" }', "dmg.license.buttons.de_DE: missing"),
    ('texts = { en_US = "L.pdf" }', "expected a .txt or .rtf file"),
    ('texts = { xx = "L.txt" }', "dmg.license.texts.xx: not a known locale"),
    ('texts = { en_US = "L.txt" }\ndefault = "fr_FR"', "dmg.license.default: 'fr_FR' has no text"),
])
def test_licence_configuration_errors(tmp_path, table, problem):
    cfg = copy_example(tmp_path / "project")
    for name in ("L.txt", "L.pdf"):
        (cfg.root / name).write_text("x")
    cfg.path.write_text(cfg.path.read_text() + f"\n[dmg.license]\n{table}\n")
    with pytest.raises(InputError, match=problem):
        config.load(cfg.path)
