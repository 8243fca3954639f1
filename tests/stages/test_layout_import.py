"""Importing the settings people already have (issue 16 §3): an appdmg
specification and a dmgbuild settings file, written here from their public
documentation (appdmg's README "Specification"; dmgbuild's "Settings" page
and its example settings.py), become the layout; `[dmg] import` builds with
them directly; a dmgbuild file is read, never executed."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from helpers import REPO
from test_installer_window import rgb_png, square_png
from test_layout import build, copy_example, ds_store_records, our_entries, read_with_our_reader
from pipeline.build import config
from pipeline.build.layout_import import load_layout
from pipeline.cli import main
from pipeline.errors import InputError

APPDMG = {
    "title": "Hello Installer",
    "icon": "assets/volume.png",
    "background": "assets/background.png",
    "icon-size": 80,
    "window": {"position": {"x": 120, "y": 140}, "size": {"width": 540, "height": 380}},
    "format": "ULFO",
    "contents": [
        {"x": 400, "y": 190, "type": "link", "path": "/Applications"},
        {"x": 140, "y": 190, "type": "file", "path": "build/Hello.app"},
    ],
}

DMGBUILD = '''# -*- coding: utf-8 -*-
from __future__ import unicode_literals
import biplist
import os.path

# dmgbuild -s settings.py -D app=/path/to/Hello.app "Hello" Hello.dmg
application = defines.get('app', 'build/Hello.app')
appname = os.path.basename(application)


def icon_from_app(app_path):
    plist_path = os.path.join(app_path, 'Contents', 'Info.plist')
    plist = biplist.readPlist(plist_path)
    return os.path.join(app_path, 'Contents', 'Resources', plist['CFBundleIconFile'])


volume_name = 'Hello ' + defines.get('version', '1.0')
format = defines.get('format', 'UDBZ')
size = defines.get('size', None)
files = [application]
symlinks = {'Applications': '/Applications'}
hide = []
icon = 'assets/volume.png'
icon_locations = {
    appname: (140, 120),
    'Applications': (500, 120)
}
background = '#223344'
show_status_bar = False
show_tab_view = False
show_toolbar = False
show_pathbar = False
show_sidebar = False
sidebar_width = 180
window_rect = ((100, 100), (640, 280))
default_view = 'icon-view'
show_icon_preview = False
include_icon_view_settings = 'auto'
include_list_view_settings = 'auto'
arrange_by = None
grid_offset = (0, 0)
grid_spacing = 100
scroll_position = (0, 0)
label_pos = 'bottom'
text_size = 16
icon_size = 128
'''


def test_appdmg_spec_becomes_the_layout(tmp_path):
    spec = tmp_path / "appdmg.json"
    spec.write_text(json.dumps(APPDMG))
    layout = load_layout(spec)
    assert layout.dmg == {"volume_name": "Hello Installer", "volume_icon": "assets/volume.png",
                          "format": "ULFO", "applications_link": "Applications"}
    assert layout.window == {"background": "assets/background.png", "icon_size": 80,
                             "origin": [120, 140], "size": [540, 380],
                             "positions": {"Applications": [400, 190], "Hello.app": [140, 190]}}
    assert layout.app == "build/Hello.app" and layout.ignored == []
    # The TOML printed is what a configuration takes.
    parsed = tomllib.loads(layout.to_toml())
    assert parsed["dmg"]["volume_name"] == "Hello Installer"
    assert parsed["dmg"]["window"]["positions"]["Hello.app"] == [140, 190]


def test_dmgbuild_settings_are_read_not_run(tmp_path):
    settings = tmp_path / "settings.py"
    settings.write_text(DMGBUILD)
    layout = load_layout(settings, defines={"version": "2.5"})
    assert layout.dmg == {"volume_name": "Hello 2.5", "format": "UDBZ",
                          "volume_icon": "assets/volume.png", "applications_link": "Applications"}
    assert layout.window == {"origin": [100, 100], "size": [640, 280], "icon_size": 128,
                             "text_size": 16, "show_toolbar": False, "show_sidebar": False,
                             "label_position": "bottom", "arrange_by": "none",
                             "background": "#223344",
                             "positions": {"Hello.app": [140, 120], "Applications": [500, 120]}}
    assert layout.app == "build/Hello.app"
    assert {"show_status_bar", "grid_spacing", "sidebar_width"} <= set(layout.ignored)
    # Nothing was executed: the file imports biplist, which is not installed.
    with pytest.raises(ModuleNotFoundError):
        __import__("biplist")


@pytest.mark.parametrize("change, problem", [
    ("icon_size = compute_size()", "line 1: icon_size: compute_size(...) is not one of"),
    ("background = 'rgb(1,0,0)'", "background: 'rgb(1,0,0)': give the colour as '#rrggbb'"),
    ("background = 'no-such-colour'", "'no-such-colour': not a picture file name"),
    ("files = ['Hello.app', 'README.txt']", "'README.txt': only the app is staged"),
    ("symlinks = {'Docs': '/usr/share/doc'}", "'Docs' -> '/usr/share/doc': only the Applications"),
    ("default_view = 'list-view'", "default_view: 'list-view': only the icon view"),
    ("import os\nos.system('touch /tmp/should-not-exist')\nicon_size = 'big'",
     "icon_size: expected a whole number"),
])
def test_dmgbuild_errors_name_the_setting(tmp_path, change, problem):
    settings = tmp_path / "settings.py"
    settings.write_text(change + "\n")
    with pytest.raises(InputError) as err:
        load_layout(settings)
    assert problem in str(err.value) and str(settings) in str(err.value)


@pytest.mark.parametrize("edit, problem", [
    ({"title": ""}, "title: expected a non-empty string"),
    ({"format": "UDRW"}, "format: 'UDRW': expected one of"),
    ({"contents": {}}, "contents: expected an array"),
    ({"contents": [{"x": 1, "y": 2, "type": "link", "path": "/usr"}]},
     "contents[0]: a link to '/usr'"),
    ({"contents": [{"x": -1, "y": 2, "type": "position", "name": "a"}]},
     "contents[0].x: expected a whole number"),
    ({"background-color": "hsl(0, 1, 1)"}, "background-color: 'hsl(0, 1, 1)': give the colour"),
])
def test_appdmg_errors_name_the_key(tmp_path, edit, problem):
    spec = tmp_path / "appdmg.json"
    spec.write_text(json.dumps({**APPDMG, **edit}))
    with pytest.raises(InputError) as err:
        load_layout(spec)
    assert problem in str(err.value)


DMGBUILD_EXAMPLES = REPO / "tests" / "data" / "dmgbuild-examples"


def test_dmgbuild_own_examples_import():
    # dmgbuild's test settings, as its repository has them (NOTICE.md).
    layout = load_layout(DMGBUILD_EXAMPLES / "settings.py", defines={"app": "build/Hello.app"})
    assert layout.dmg == {"format": "UDBZ", "applications_link": "Applications"}
    assert layout.window["positions"] == {"Hello.app": [140, 120], "Applications": [500, 120]}
    assert (layout.window["origin"], layout.window["size"], layout.window["icon_size"]) == \
        ([100, 100], [640, 280], 128)
    assert "background" not in layout.window
    assert {"badge_icon", "license", "list_columns"} <= set(layout.ignored)
    assert any(i.startswith("background 'builtin-arrow'") for i in layout.ignored)
    # The same settings in dmgbuild's JSON form (appdmg's keys and its own).
    layout = load_layout(DMGBUILD_EXAMPLES / "settings.json")
    assert layout.dmg == {"volume_name": "Test", "format": "UDZO",
                          "applications_link": "Applications"}
    assert layout.window["positions"] == {"Applications": [140, 120], "TextEdit.app": [500, 120]}
    assert layout.app == "/System/Applications/TextEdit.app"
    assert {i.split(" ")[0] for i in layout.ignored} >= {"compression-level", "size", "shrink"}
    layout = load_layout(DMGBUILD_EXAMPLES / "licenses.json")
    assert layout.dmg["applications_link"] is False and layout.window["icon_size"] == 128
    assert any(i.startswith("license") for i in layout.ignored)


def test_command_line_prints_toml(tmp_path, capsys):
    settings = tmp_path / "settings.py"
    settings.write_text(DMGBUILD)
    assert main(["layout", "import", str(settings), "-D", "version=3"]) == 0
    out, err = capsys.readouterr()
    parsed = tomllib.loads(out)
    assert parsed["dmg"]["volume_name"] == "Hello 3"
    assert "not imported: show_status_bar" in err
    assert main(["layout", "import", str(settings), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["window"]["icon_size"] == 128


def test_a_release_builds_with_an_imported_appdmg_spec(tmp_path):
    cfg = copy_example(tmp_path / "project")
    root = cfg.root
    (root / "layout" / "assets").mkdir(parents=True)
    (root / "layout" / "assets" / "volume.png").write_bytes(square_png(64))
    (root / "layout" / "assets" / "background.png").write_bytes(rgb_png(540, 380, (1, 2, 3)))
    (root / "layout" / "appdmg.json").write_text(json.dumps(APPDMG))
    text = cfg.path.read_text()
    text = text[:text.index("[dmg]")] + '[dmg]\nimport = "layout/appdmg.json"\nformat = "UDZO"\n' \
        '[dmg.window]\nicon_size = 96\n'
    cfg.path.write_text(text)
    cfg = config.load(cfg.path)
    # The spec's values, its paths rebased; the configuration's own keys win.
    assert (cfg.volume_name, cfg.dmg_format, cfg.volume_icon) == \
        ("Hello Installer", "UDZO", "layout/assets/volume.png")
    assert cfg.window.background == "layout/assets/background.png"
    assert (cfg.window.origin, cfg.window.size, cfg.window.icon_size) == \
        ((120, 140), (540, 380), 96)
    dmg = build(tmp_path, cfg)
    records = ds_store_records(read_with_our_reader(dmg, ".DS_Store"))
    assert records[("Hello.app", "Iloc")] == (140, 190)
    assert records[("Applications", "Iloc")] == (400, 190)
    assert records[(".", "icvp")]["iconSize"] == 96.0
    _, entries = our_entries(dmg)
    assert ".VolumeIcon.icns" in entries and ".background/background.png" in entries


def test_an_import_outside_the_project_is_refused(tmp_path):
    cfg = copy_example(tmp_path / "project")
    shutil.copy(cfg.path, cfg.path.with_suffix(".bak"))
    text = cfg.path.read_text()
    cfg.path.write_text(text.replace("[dmg]\n", '[dmg]\nimport = "../appdmg.json"\n'))
    with pytest.raises(InputError, match=r"dmg.import: '../appdmg.json': leaves the configuration"):
        config.load(cfg.path)
    assert Path(cfg.path.with_suffix(".bak")).exists()
