"""`reprodmg dmg preview` and the build's `<name>-preview.png` (issue 16 §2):
the window drawn from the DMG alone, probed pixel by pixel at the
background and at each configured icon place; the same picture from two
builds; a damaged .DS_Store still gives a picture, with the problem said."""

from __future__ import annotations

import io
import json
import os
import plistlib
from pathlib import Path

from PIL import Image

from test_installer_window import configure, rgb_png
from test_layout import EPOCH, build, hello_background
from pipeline.build.icons import icns_from_png
from pipeline.build.preview import TITLE_BAR, preview_png
from pipeline.cli import main
from pipeline.picture import write_png

RED = (220, 30, 30)


def app_with_icon(folder: Path, name: str = "Hello") -> Path:
    app = folder / f"{name}.app"
    (app / "Contents" / "MacOS").mkdir(parents=True)
    (app / "Contents" / "Resources").mkdir()
    (app / "Contents" / "Info.plist").write_bytes(plistlib.dumps(
        {"CFBundleExecutable": name, "CFBundleIconFile": "AppIcon"}))
    (app / "Contents" / "Resources" / "AppIcon.icns").write_bytes(
        icns_from_png(write_png(128, 128, bytes(RED + (255,)) * (128 * 128)), "icon"))
    exe = app / "Contents" / "MacOS" / name
    exe.write_bytes(b"\xcf\xfa\xed\xfe" + bytes(60))
    os.chmod(exe, 0o755)
    return app


def pixels(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_colour_background_and_icons_at_their_places(tmp_path):
    cfg = configure(tmp_path, window='background = "#3366cc"\nsize = [500, 300]\nicon_size = 64\n'
                                     'positions = { "Hello.app" = [120, 150], '
                                     '"Applications" = [380, 150] }')
    dmg = build(tmp_path, cfg, app=app_with_icon(tmp_path / "app"))
    png, view = preview_png(dmg)
    im = pixels(png)
    assert im.size == (500, 300 + TITLE_BAR)
    assert view.problems == []
    assert im.getpixel((5, TITLE_BAR + 5)) == (0x33, 0x66, 0xcc)
    assert im.getpixel((250, TITLE_BAR + 290)) == (0x33, 0x66, 0xcc)
    # The app's own icon (solid red) at its centre; the link's drawn icon at its.
    assert im.getpixel((120, TITLE_BAR + 150)) == RED
    assert im.getpixel((380, TITLE_BAR + 150)) != (0x33, 0x66, 0xcc)
    # Labels under the icons: dark text pixels in the band below each icon.
    for x in (120, 380):
        band = [im.getpixel((x + dx, TITLE_BAR + 150 + 32 + dy))
                for dx in range(-30, 31) for dy in range(4, 20)]
        assert any(sum(p) < 200 for p in band), x
    assert [(i.name, i.kind, i.position) for i in view.items] == \
        [("Applications", "link", (380, 150)), ("Hello", "app", (120, 150))]


def test_picture_background_from_the_example(tmp_path):
    cfg = configure(tmp_path, window='size = [540, 380]\nbackground = "dmg-background.png"')
    dmg = build(tmp_path, cfg)
    im = pixels(preview_png(dmg)[0])
    for x, y in ((5, 5), (270, 40), (530, 370), (20, 300)):
        assert im.getpixel((x, y + TITLE_BAR)) == hello_background(x, y), (x, y)


def test_retina_preview_uses_the_2x_page(tmp_path):
    cfg = configure(tmp_path, window='background = "bg.png"\nsize = [200, 100]\nicon_size = 32',
                    files={"bg.png": rgb_png(200, 100, (10, 20, 30)),
                           "bg@2x.png": rgb_png(400, 200, (40, 50, 60))})
    dmg = build(tmp_path, cfg)
    one = pixels(preview_png(dmg, scale=1)[0])
    two = pixels(preview_png(dmg, scale=2)[0])
    assert one.size == (200, 100 + TITLE_BAR) and two.size == (400, 2 * (100 + TITLE_BAR))
    assert one.getpixel((2, TITLE_BAR + 2)) == (10, 20, 30)
    assert two.getpixel((2, 2 * TITLE_BAR + 2)) == (40, 50, 60)


def test_the_same_image_gives_the_same_picture(tmp_path):
    cfg = configure(tmp_path)
    a = build(tmp_path / "a", cfg, app=app_with_icon(tmp_path / "app-a"))
    b = build(tmp_path / "b", cfg, app=app_with_icon(tmp_path / "app-b"))
    assert a.read_bytes() == b.read_bytes()
    assert preview_png(a)[0] == preview_png(b)[0]


def test_command_line_and_json(tmp_path, capsys):
    cfg = configure(tmp_path)
    dmg = build(tmp_path, cfg)
    out = tmp_path / "w.png"
    assert main(["dmg", "preview", str(dmg), "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bounds"] == [100, 100, 600, 400] and out.read_bytes()[:4] == b"\x89PNG"
    assert {i["name"] for i in report["items"]} == {"Hello", "Applications"}


def test_a_damaged_ds_store_still_gives_a_picture(tmp_path, capsys):
    src = tmp_path / "vol"
    (src / "Thing.app" / "Contents").mkdir(parents=True)
    (src / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(100))
    dmg = tmp_path / "x.dmg"
    assert main(["dmg", "create", str(src), "-o", str(dmg), "--epoch", str(EPOCH)]) == 0
    capsys.readouterr()
    assert main(["dmg", "preview", str(dmg), "-o", str(tmp_path / "p.png")]) == 0
    text = capsys.readouterr().out
    assert "Thing at" in text and "/.DS_Store: unreadable" in text
    assert pixels((tmp_path / "p.png").read_bytes()).size == (600, 400 + TITLE_BAR)
