"""The DMG's Finder window layout (``[dmg.window]``, pipeline/layout.py).

A DMG is built from a stand-in ``Hello.app`` with the example's own
``[dmg.window]`` table (no toolchain needed), then read back:

- the ``.DS_Store`` is taken out of the DMG by our UDIF/HFS+ readers and,
  independently, by ``7z x``; the ``ds_store`` package parses both;
- the background alias is parsed by ``mac_alias``; its volume creation date
  is compared with the volume header read straight from the volume that
  libmodi (pymodi) expands, and its CNIDs with those libfshfs (pyfshfs)
  reports, as well as our own reader's;
- the ``.background`` folder's Finder flags come from our reader (neither
  pyfshfs nor 7-Zip shows Finder info).

Expected values come from the configuration, never from our own output.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from helpers import require_tool
from pipeline.build import config, image, finder as layout
from pipeline.errors import InputError
from pipeline.hfs.reader import HFSReader
from pipeline.hfs.tree import tree_from_directory
from pipeline.hfs.writer import assign_cnids, build_volume
from pipeline.udif.reader import open_udif
from pipeline.udif.writer import write_udif

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "hello"
EPOCH = 1735689600
MAC_EPOCH = datetime.datetime(1904, 1, 1, tzinfo=datetime.timezone.utc)
# TN1150: HFSPlusVolumeHeader at byte 1024; createDate is the u32 at offset 16.
VH_CREATE_DATE = ">I"
VH_CREATE_DATE_OFFSET = 1024 + 16
K_IS_INVISIBLE = 0x4000     # Finder.h
# .DS_Store header: alignment word, "Bud1", root block offset, size, offset again.
DS_STORE_HEADER = ">I4sIII"


# --------------------------------------------------------------------------
# The example's background picture, made without any image library.


def png_rgb(width: int, height: int, pixel) -> bytes:
    """An 8-bit RGB PNG (RFC 2083): signature, IHDR, one IDAT, IEND; filter 0 rows."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    rows = b"".join(b"\0" + b"".join(bytes(pixel(x, y)) for x in range(width))
                    for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))


def hello_background(x: int, y: int) -> tuple[int, int, int]:
    """A light vertical gradient with a grey arrow from the app (x 140) to
    Applications (x 400) at y 180, for the example's 540 x 380 window."""
    if 215 <= x <= 315 and 172 <= y <= 188:
        return (150, 150, 150)
    if 315 < x <= 340 and abs(y - 180) <= 340 - x:
        return (150, 150, 150)
    g = 250 - y * 30 // 380
    return (g, g, min(255, g + 5))


def hello_background_png() -> bytes:
    """examples/hello/dmg-background.png (regenerate with this function)."""
    return png_rgb(540, 380, hello_background)


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and filtered scanlines of an 8-bit RGB PNG with one IDAT."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack_from(">II", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


def test_example_background_is_the_generated_picture():
    # Compared decompressed: the committed file's zlib stream may come from
    # another zlib build than this host's.
    committed = (EXAMPLE / "dmg-background.png").read_bytes()
    assert png_pixels(committed) == png_pixels(hello_background_png())
    assert len(committed) < 4096


# --------------------------------------------------------------------------
# Building a DMG with a layout, without the toolchain.


def fake_app(folder: Path, name: str = "Hello") -> Path:
    app = folder / f"{name}.app"
    (app / "Contents" / "MacOS").mkdir(parents=True)
    (app / "Contents" / "Info.plist").write_text("<plist/>\n")
    exe = app / "Contents" / "MacOS" / name
    exe.write_bytes(b"\xcf\xfa\xed\xfe" + bytes(60))
    os.chmod(exe, 0o755)
    return app


def copy_example(dest: Path) -> config.ReleaseConfig:
    shutil.copytree(EXAMPLE, dest)
    return config.load(dest / "release.toml")


def build(work: Path, cfg: config.ReleaseConfig, *, window=..., app=None) -> Path:
    """Stage a stand-in app (or ``app``), then image.build_dmg as the image
    stage calls it, with every volume option of ``cfg``."""
    app = app or fake_app(work / "app", cfg.name)
    stage = image.stage(app, work / "stage", epoch=EPOCH, link_name=cfg.applications_link)
    dmg = work / "out.dmg"
    image.build_dmg(stage, dmg, volume_name=cfg.volume_name, dmg_format=cfg.dmg_format,
                    layout=cfg.dmg_layout, epoch=EPOCH,
                    window=cfg.window if window is ... else window,
                    config_root=cfg.root, config_name=cfg.path.name,
                    volume_icon=cfg.volume_icon, open_on_mount=cfg.open_on_mount,
                    link_name=cfg.applications_link, license=cfg.license)
    return dmg


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("layout")
    cfg = copy_example(work / "project")
    assert cfg.window is not None and cfg.window.background, "the example enables a layout"
    return cfg, build(work, cfg)


def our_reader(dmg: Path) -> HFSReader:
    img = open_udif(dmg)
    return HFSReader(img.partition_source(img.data_partition().name), str(dmg))


def our_entries(dmg: Path) -> tuple[HFSReader, dict]:
    reader = our_reader(dmg)
    return reader, {e.path: e for e in reader.entries()}


def read_with_our_reader(dmg: Path, path: str) -> bytes:
    reader, entries = our_entries(dmg)
    with reader.open(entries[path]) as fh:
        return fh.read()


def read_with_7z(dmg: Path, path: str, dest: Path) -> bytes:
    subprocess.run([require_tool("7z"), "x", "-y", f"-o{dest}", str(dmg)], check=True,
                   capture_output=True)
    found = [p for p in dest.rglob(Path(path).name) if p.as_posix().endswith(path)]
    assert len(found) == 1, sorted(p.as_posix() for p in dest.rglob("*"))
    return found[0].read_bytes()


def pyfshfs_volume(dmg: Path):
    """libfshfs over libmodi: both independent of our readers."""
    import pyfshfs
    import pymodi
    handle = pymodi.handle()
    handle.open(str(dmg))
    volume = pyfshfs.volume()
    volume.open_file_object(handle)
    return volume, handle


def ds_store_records(data: bytes) -> dict[tuple[str, str], object]:
    import io

    from ds_store import DSStore
    with DSStore.open(io.BytesIO(data), "r") as store:
        return {(e.filename, e.code.decode("latin-1")): e.value for e in store}


# --------------------------------------------------------------------------


def test_ds_store_holds_exactly_the_configured_window(built, tmp_path):
    cfg, dmg = built
    win = cfg.window
    ours = read_with_our_reader(dmg, ".DS_Store")
    theirs = read_with_7z(dmg, ".DS_Store", tmp_path / "7z")
    assert ours == theirs
    # The buddy-allocator header of the .DS_Store format (Wim Lewis and Mark
    # Mentovai's description): alignment word 1, "Bud1", then the root
    # block's offset and size, the offset repeated; offsets skip the first 4 bytes.
    one, bud1, offset, size, offset2 = struct.unpack_from(DS_STORE_HEADER, theirs)
    assert (one, bud1, offset) == (1, b"Bud1", offset2)
    assert 4 + offset + size <= len(theirs)
    records = ds_store_records(theirs)
    positions = dict(win.positions)
    assert set(records) == ({(".", "bwsp"), (".", "icvp"), (".", "icvl"), (".", "vSrn")}
                            | {(name, "Iloc") for name in positions})
    (x, y), (w, h) = win.origin, win.size
    bwsp = records[(".", "bwsp")]
    assert bwsp["WindowBounds"] == "{{%d, %d}, {%d, %d}}" % (x, y, w, h)
    assert bwsp["ShowToolbar"] is win.show_toolbar
    assert bwsp["ShowSidebar"] is win.show_sidebar
    icvp = records[(".", "icvp")]
    assert icvp["iconSize"] == win.icon_size
    assert icvp["textSize"] == win.text_size
    assert icvp["backgroundType"] == 2          # a picture
    assert records[(".", "icvl")] == b"icnv"    # opens in icon view
    assert records[(".", "vSrn")] == 1
    for name, xy in positions.items():
        assert records[(name, "Iloc")] == xy


def test_background_alias_names_the_volume_date_file_and_cnids(built, tmp_path):
    import mac_alias

    cfg, dmg = built
    picture = f".background/{Path(cfg.window.background).name}"
    alias = mac_alias.Alias.from_bytes(
        ds_store_records(read_with_7z(dmg, ".DS_Store", tmp_path / "7z"))[(".", "icvp")]
        ["backgroundImageAlias"])

    # The volume header, read straight from the volume libmodi expands.
    volume, handle = pyfshfs_volume(dmg)
    handle.seek(VH_CREATE_DATE_OFFSET)
    (create_date,) = struct.unpack(VH_CREATE_DATE, handle.read(4))
    assert create_date == our_reader(dmg).vh.createDate
    when = MAC_EPOCH + datetime.timedelta(seconds=create_date)
    assert when == datetime.datetime.fromtimestamp(EPOCH, datetime.timezone.utc)

    assert alias.volume.name == cfg.volume_name == volume.name
    assert alias.volume.creation_date == when
    assert alias.volume.fs_type == b"H+"
    assert alias.volume.posix_path == f"/Volumes/{cfg.volume_name}"
    assert alias.target.kind == mac_alias.ALIAS_KIND_FILE
    assert alias.target.filename == Path(cfg.window.background).name
    assert alias.target.folder_name == ".background"
    assert alias.target.posix_path == "/" + picture
    assert alias.target.creation_date == when

    theirs_file = volume.get_file_entry_by_path("/" + picture)
    theirs_folder = volume.get_file_entry_by_path("/.background")
    _, entries = our_entries(dmg)
    assert alias.target.cnid == theirs_file.identifier == entries[picture].cnid
    assert alias.target.folder_cnid == theirs_folder.identifier == entries[".background"].cnid
    assert theirs_file.parent_identifier == theirs_folder.identifier
    assert list(alias.target.cnid_path) == [theirs_folder.identifier]
    assert alias.target.carbon_path.startswith(f"{cfg.volume_name}:.background:".encode())
    # The picture itself is on the volume, byte for byte.
    assert theirs_file.read_buffer(theirs_file.size) == \
        (cfg.root / cfg.window.background).read_bytes()


def test_background_folder_is_invisible_and_nothing_else_is(built):
    _, dmg = built
    _, entries = our_entries(dmg)
    assert entries[".background"].finder_flags & K_IS_INVISIBLE
    for path in (".DS_Store", "Hello.app", "Applications"):
        assert not entries[path].finder_flags & K_IS_INVISIBLE, path


def test_assigned_cnids_are_the_ones_on_the_volume(built):
    _, dmg = built
    volume, _handle = pyfshfs_volume(dmg)
    _, entries = our_entries(dmg)
    # The tree as the image stage hands it to the writer: the staged folder
    # plus the layout's entries.
    stage = dmg.parent / "stage"
    tree = tree_from_directory(stage)
    cfg = built[0]
    layout.add_layout(tree, cfg.window, config_root=cfg.root, config_name="release.toml",
                      volume_name=cfg.volume_name, epoch=EPOCH)
    cnids = assign_cnids(tree)
    assert cnids[""] == 2 and set(cnids) - {""} == set(entries)
    for path, cnid in cnids.items():
        if path:
            assert entries[path].cnid == cnid, path
            assert volume.get_file_entry_by_path("/" + path).identifier == cnid, path


def test_layout_dmg_is_reproducible_across_directories_tz_and_umask(tmp_path, monkeypatch):
    outputs = []
    for i, (tz, umask) in enumerate((("UTC", 0o022), ("Pacific/Chatham", 0o077))):
        monkeypatch.setenv("TZ", tz)
        time.tzset()
        old = os.umask(umask)
        try:
            work = tmp_path / f"builder-{i}" / ("deeper/" * i) / "w"
            cfg = copy_example(work / "project")
            outputs.append(build(work, cfg).read_bytes())
        finally:
            os.umask(old)
    monkeypatch.delenv("TZ")
    time.tzset()
    assert outputs[0] == outputs[1]


def test_without_a_window_nothing_is_added(tmp_path):
    cfg = copy_example(tmp_path / "project")
    dmg = build(tmp_path, cfg, window=None)
    _, entries = our_entries(dmg)
    assert not {".DS_Store", ".background"} & set(entries)
    # Byte for byte what the image stage writes without a layout: HFS+
    # straight from the staged folder (opened on mount), then UDIF.
    before = tmp_path / "before.dmg"
    write_udif(build_volume(os.fspath(tmp_path / "stage"), volname=cfg.volume_name,
                            case_sensitive=False, epoch=EPOCH, open_folder="/"),
               before, format=cfg.dmg_format, layout=cfg.dmg_layout, manifest_path=False)
    assert dmg.read_bytes() == before.read_bytes()


def test_a_layout_without_a_picture_has_no_background(tmp_path):
    cfg = copy_example(tmp_path / "project")
    text = (cfg.path.read_text().replace('background = "dmg-background.png"\n', ""))
    cfg.path.write_text(text)
    cfg = config.load(cfg.path)
    assert cfg.window.background is None
    dmg = build(tmp_path, cfg)
    _, entries = our_entries(dmg)
    assert ".background" not in entries
    icvp = ds_store_records(read_with_our_reader(dmg, ".DS_Store"))[(".", "icvp")]
    assert icvp["backgroundType"] == 0 and "backgroundImageAlias" not in icvp


def test_a_position_naming_no_entry_is_an_error(tmp_path):
    cfg = copy_example(tmp_path / "project")
    cfg.path.write_text(cfg.path.read_text().replace('"Hello.app" = [', '"Helo.app" = ['))
    cfg = config.load(cfg.path)
    with pytest.raises(InputError, match=r"release\.toml: dmg\.window\.positions\.'Helo\.app': "
                                         r"no such entry"):
        build(tmp_path, cfg)
    assert not (tmp_path / "out.dmg").exists()


def test_a_background_that_is_not_a_picture_is_an_error(tmp_path):
    cfg = copy_example(tmp_path / "project")
    (cfg.root / "dmg-background.png").write_bytes(b"<html>not a picture</html>")
    with pytest.raises(InputError, match=r"dmg\.window\.background: dmg-background\.png: "
                                         "not a PNG or TIFF"):
        build(tmp_path, cfg)


WINDOW = """
[dmg.window]
size = [540, 380]
positions = { "Hello.app" = [140, 180] }
"""


@pytest.mark.parametrize("edit, key, problem", [
    (("size = [540, 380]", "size = [540, 380]\nicon_sise = 96"), "dmg.window.icon_sise",
     "unknown key"),
    (("size = [540, 380]", "size = [540, 380]\nicon_size = '96'"), "dmg.window.icon_size",
     "expected an integer, got a string"),
    (("size = [540, 380]", "size = [540, 380]\nicon_size = 4"), "dmg.window.icon_size",
     "must be 16..512"),
    (("size = [540, 380]", "size = [540, 380]\ntext_size = 30"), "dmg.window.text_size",
     "must be 10..16"),
    (("size = [540, 380]", "size = [540]"), "dmg.window.size",
     "expected an array of two integers"),
    (("size = [540, 380]", "size = [540, 0]"), "dmg.window.size[1]", "must be 1.."),
    (("size = [540, 380]", "size = [540, 3.5]"), "dmg.window.size[1]",
     "expected an integer, got a float"),
    (("size = [540, 380]", "size = [540]"), "dmg.window.size", "of length 1"),
    (("size = [540, 380]", "size = [540, 380]\nbackground = '#12345'"), "dmg.window.background",
     "expected a picture path or a colour '#rrggbb'"),
    (("size = [540, 380]", "size = [540, 380]\nlabel_position = 'top'"),
     "dmg.window.label_position", "expected one of bottom, right"),
    (("size = [540, 380]", "size = [540, 380]\narrange_by = 'colour'"),
     "dmg.window.arrange_by", "expected one of none, name"),
    (("size = [540, 380]", "size = [540, 380]\nhide = ['a/b']"), "dmg.window.hide[0]",
     "must be the name of an entry"),
    (("size = [540, 380]", "size = [540, 380]\nenabled = 'no'"), "dmg.window.enabled",
     "expected a boolean"),
    (("size = [540, 380]", "size = [540, 380]\norigin = [-1, 0]"), "dmg.window.origin[0]",
     "must be 0.."),
    (("[140, 180]", "'here'"), "dmg.window.positions.'Hello.app'",
     "expected an array of two integers, got a string"),
    (("size = [540, 380]", "size = [540, 380]\nbackground = 'missing.png'"),
     "dmg.window.background", "no such file"),
    (("size = [540, 380]", "size = [540, 380]\nbackground = 'src/main.c'"),
     "dmg.window.background", "expected a .png or .tiff file"),
    (("size = [540, 380]", "size = [540, 380]\nshow_toolbar = 1"), "dmg.window.show_toolbar",
     "expected a boolean"),
    (("[dmg.window]\n", "[dmg.window]\nwindow_rect = 1\n"), "dmg.window.window_rect",
     "unknown key"),
])
def test_configuration_errors_name_the_key(tmp_path, edit, key, problem):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    path = project / "release.toml"
    text = path.read_text()
    text = text[:text.index("[dmg.window]")] + WINDOW
    old, new = edit
    assert old in text
    path.write_text(text.replace(old, new))
    with pytest.raises(InputError) as err:
        config.load(path)
    assert f"release.toml: {key}: " in str(err.value) and problem in str(err.value), err.value


def test_the_window_table_must_be_a_table(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    path = project / "release.toml"
    text = path.read_text()
    path.write_text(text[:text.index("[dmg.window]")].replace(
        'layout = "none"', 'layout = "none"\nwindow = 3'))
    with pytest.raises(InputError, match="dmg.window: expected a table, got an integer"):
        config.load(path)


def test_dodo_declares_the_picture_and_the_window_as_image_inputs(monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("REPRODMG_RELEASE", raising=False)
    # Outside a doit run, command-line variables are unset: their defaults apply.
    monkeypatch.setattr("doit.get_var", lambda name, default=None: default)
    spec = importlib.util.spec_from_file_location("dodo_for_layout_test", REPO / "dodo.py")
    dodo = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO))
    try:
        spec.loader.exec_module(dodo)
    finally:
        sys.path.remove(str(REPO))
    task = dodo.task_image()
    picture = EXAMPLE / "dmg-background.png"
    assert picture in [Path(p) for p in task["file_dep"]]
    assert REPO / "pipeline" / "build" / "finder.py" in [Path(p) for p in task["file_dep"]]
    watched = task["uptodate"][0].config
    assert watched["window"] == config.load(EXAMPLE / "release.toml").window.to_json()
    assert set(watched["layout_libraries"]) == {"ds_store", "mac_alias", "pillow"}
