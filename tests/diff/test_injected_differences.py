"""Issue 15's acceptance matrix: one injected difference at a time between
two otherwise identical installers, and what `dmg diff` (full, --summary,
--html, --json) and `verify --against` say about it: the layer, the path
and the field, and the exit code.

The volume holds a real Mach-O executable (linked here by clang-19 and
ld64.lld-19, arm64, ad-hoc signed by lld), so the Mach-O level is exercised
on a linker's output, not on bytes made up for the test.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from helpers import require_tool
from macho_builder import CLANG, LLD
from pipeline import codecs
from pipeline.cli import main
from pipeline.diff.published import EXIT_DIFFERENT, EXIT_ENCODING_ONLY, EXIT_SAME, check_against
from pipeline.hfs.writer import build_volume
from pipeline.jsonfile import sha256_file
from pipeline.macho import read_macho
from pipeline.macho.structs import LC_BUILD_VERSION, BuildVersionCommand
from pipeline.udif.writer import write_udif

EPOCH = 1700000000
TOOL = "App.app/Contents/MacOS/tool"
SOURCE = """
const char where[] = __FILE__;
const char greeting[] = "hello from the injected-difference test";
int pick(int i) { return where[i & 15] + greeting[i & 7]; }
void start(void) { volatile int r = pick(3); (void)r; for (;;) {} }
"""


@pytest.fixture(autouse=True)
def _no_env_epoch(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


def link_tool(folder: Path, out: Path) -> Path:
    """The executable compiled from ``folder/src/tool.c`` given by its absolute
    path, so ``__FILE__`` holds the build folder, as an unmapped build leaks it."""
    src = folder / "src" / "tool.c"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(SOURCE)
    obj = folder / "tool.o"
    subprocess.run([require_tool(CLANG), "-target", "arm64-apple-macos11", "-O1", "-c",
                    str(src), "-o", str(obj)], check=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([require_tool(LLD), "-arch", "arm64", "-platform_version", "macos", "11.0",
                    "11.0", "-e", "_start", "-o", str(out), str(obj)], check=True)
    return out


def make_tree(root: Path, tool: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    (root / "App.app/Contents/MacOS").mkdir(parents=True)
    (root / "App.app/Contents/Info.plist").write_text("<plist><dict/></plist>\n" * 20)
    shutil.copy(tool, root / TOOL)
    os.chmod(root / TOOL, 0o755)
    (root / "README").write_bytes(b"read me\n" * 500)
    os.chmod(root / "README", 0o644)
    os.symlink("/Applications", root / "Applications")
    return root


def build(src: Path, out: Path, **options) -> Path:
    options.setdefault("epoch", EPOCH)
    volume = build_volume(src, volname="Injected", **options)
    write_udif(volume, out, format="UDZO", manifest_path=out.with_name(out.name + ".manifest.json"))
    return out


def publish(dmg: Path, folder: Path) -> Path:
    """The folder a release publishes: the image, SHA256SUMS, build-manifest.json."""
    folder.mkdir(parents=True, exist_ok=True)
    if dmg.parent != folder:
        shutil.copy(dmg, folder / dmg.name)
    udif = json.loads(dmg.with_name(dmg.name + ".manifest.json").read_text())
    (folder / "SHA256SUMS").write_text(f"{sha256_file(folder / dmg.name)}  {dmg.name}\n")
    (folder / "build-manifest.json").write_text(json.dumps({"images": {dmg.name: {"udif": udif}}}))
    return folder / "SHA256SUMS"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("injected")
    os.environ.pop("SOURCE_DATE_EPOCH", None)
    tool = link_tool(d / "builder-a", d / "tool-a")
    tree = make_tree(d / "tree", tool)
    a = build(tree, d / "a" / "X.dmg")
    return {"dir": d, "tool": tool, "tree": tree, "a": a, "sums": publish(a, d / "a")}


def diff_json(capsys, a: Path, b: Path) -> tuple[int, dict]:
    code = main(["dmg", "diff", str(a), str(b), "--json"])
    return code, json.loads(capsys.readouterr().out)


def tree_of(report: dict) -> dict:
    return report["content"]["partitions"][0]["tree"]


def set_minos(path: Path, minos: int) -> None:
    data = bytearray(path.read_bytes())
    sl = read_macho(path).slices[0]
    lc = next(lc for lc in sl.load_commands if lc.cmd == LC_BUILD_VERSION)
    struct.pack_into("<I", data, lc.offset + BuildVersionCommand.offset_of("minos"), minos)
    path.write_bytes(bytes(data))


def _flip_byte(root: Path, d: Path, base: dict) -> dict:
    data = bytearray((root / "README").read_bytes())
    data[3001] ^= 0x20
    (root / "README").write_bytes(bytes(data))
    return {}


def _mode_bit(root: Path, d: Path, base: dict) -> dict:
    os.chmod(root / "README", 0o755)
    return {}


def _date(root: Path, d: Path, base: dict) -> dict:
    return {"epoch": EPOCH + 3600}


def _xattr(root: Path, d: Path, base: dict) -> dict:
    return {"xattrs": {"README": {"com.apple.quarantine": b"0081;00000000;Safari;"}}}


def _symlink(root: Path, d: Path, base: dict) -> dict:
    (root / "Applications").unlink()
    os.symlink("/System/Applications", root / "Applications")
    return {}


def _load_command(root: Path, d: Path, base: dict) -> dict:
    set_minos(root / TOOL, (12 << 16))
    return {}


def _leaked_path(root: Path, d: Path, base: dict) -> dict:
    # The same source built in another folder: only __FILE__ differs.
    shutil.copy(link_tool(d / "builder-b-in-a-longer-folder", d / "tool-b"), root / TOOL)
    return {}


# name -> (inject, what the report must say: the layer's check)
CASES = {
    "one byte of one file": _flip_byte,
    "one mode bit": _mode_bit,
    "one date": _date,
    "one xattr": _xattr,
    "one symlink target": _symlink,
    "one Mach-O load command field": _load_command,
    "a leaked build path": _leaked_path,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_injected_difference_is_named(base, tmp_path, capsys, case):
    root = make_tree(tmp_path / "tree", base["tool"])
    options = CASES[case](root, base["dir"], base)
    b = build(root, tmp_path / "b" / "X.dmg", **options)
    code, report = diff_json(capsys, base["a"], b)
    assert code == 1 and report["verdict"] == "content"
    tree = tree_of(report)
    assert tree["added"] == tree["removed"] == []
    meta = {(m["path"], m["field"]) for m in tree["metadata"]}
    data = {d["path"]: d for d in tree["data"]}
    if case == "one byte of one file":
        assert meta == set() and list(data) == ["README"]
        assert data["README"]["first_difference"] == 3001
    elif case == "one mode bit":
        assert [(m["path"], m["field"], m["a"], m["b"]) for m in tree["metadata"]] == \
            [("README", "mode", "100644", "100755")] and data == {}
    elif case == "one date":
        assert {f for _, f in meta} == {"create_date", "modify_date", "access_date",
                                        "attribute_mod_date"} and data == {}
        assert {(m["a"], m["b"]) for m in tree["metadata"]} == {(EPOCH, EPOCH + 3600)}
    elif case == "one xattr":
        assert ("README", "xattr com.apple.quarantine") in meta and data == {}
    elif case == "one symlink target":
        changed = {(m["path"], m["field"]): (m["a"], m["b"]) for m in tree["metadata"]}
        assert changed[("Applications", "link_target")] == ("/Applications",
                                                           "/System/Applications")
    elif case == "one Mach-O load command field":
        assert meta == set() and list(data) == [TOOL]
        m = data[TOOL]["macho"]
        (sl,) = m["slices"]
        assert sl["arch"] == "arm64"
        lcs = [(lc["command"], f["field"], f["a"], f["b"]) for lc in sl["load_commands"]
               for f in lc["fields"]]
        assert lcs == [("LC_BUILD_VERSION", "LC_BUILD_VERSION.minos", 11 << 16, 12 << 16)]
        # The stale signature is seen, and its first page named: the load commands.
        assert sl["signature"] == {} or all(
            "load command" in " ".join(p["covers"]) or "mach_header" in p["covers"]
            for p in sl["signature"]["code_slots"])
        assert "LC_BUILD_VERSION.minos" in m["first"]
    elif case == "a leaked build path":
        assert list(data) == [TOOL]
        m = data[TOOL]["macho"]
        # const char where[] = __FILE__ lands in __TEXT,__const.
        (sec,) = [s for s in m["slices"][0]["sections"] if s.get("strings")]
        assert sec["section"] == "__TEXT,__const"
        assert str(base["dir"] / "builder-a") in sec["strings"][0]
        assert str(base["dir"] / "builder-b-in-a-longer-folder") in sec["strings"][1]
        assert "__TEXT,__const" in m["first"] and "builder-b-in-a-longer-folder" in m["first"]
        # lld's ad-hoc signature follows the bytes: the differing pages are named.
        pages = m["slices"][0]["signature"]["code_slots"]
        assert pages and any("section __TEXT,__const" in p["covers"] for p in pages)
    # verify --against the published sums: a content difference is exit 1.
    local = tmp_path / "b"
    publish(b, local)
    result = check_against(base["sums"], local)
    assert result.exit_code == EXIT_DIFFERENT and result.artifacts[0].status == "different"
    # The one-screen summary and the HTML page carry the same finding.
    assert main(["dmg", "diff", str(base["a"]), str(b), "--summary",
                 "--html", str(tmp_path / "r.html")]) == 1
    summary = capsys.readouterr().out
    assert len(summary.splitlines()) <= 24
    page = (tmp_path / "r.html").read_text()
    key = {"one byte of one file": "README", "one mode bit": "mode", "one date": "create_date",
           "one xattr": "com.apple.quarantine", "one symlink target": "/System/Applications",
           "one Mach-O load command field": "LC_BUILD_VERSION.minos",
           "a leaked build path": "builder-b-in-a-longer-folder"}[case]
    assert key in page and key in summary


def test_another_zlib_implementation_is_encoding_only(base, tmp_path, capsys, monkeypatch):
    # The host's zlib instead of the pinned libdeflate: other compressed
    # bytes, the same expanded volume.  dmg diff says "encoding", verify exits 3.
    real = codecs.compressor

    def system_zlib(codec: str, level):
        if codec == "zlib":
            return lambda data: zlib.compress(data, level or 1)
        return real(codec, level)

    real_impl = codecs.implementation
    monkeypatch.setattr(codecs, "compressor", system_zlib)
    monkeypatch.setattr(codecs, "implementation", lambda codec: (
        {"implementation": "zlib (system)", "version": zlib.ZLIB_RUNTIME_VERSION}
        if codec == "zlib" else real_impl(codec)))
    b = build(base["tree"], tmp_path / "b" / "X.dmg")
    monkeypatch.undo()
    code, report = diff_json(capsys, base["a"], b)
    assert code == 1 and report["verdict"] == "encoding"
    assert report["content"]["disk_equal"]
    fields = {d["field"] for d in report["manifest"]["fields"]}
    assert "manifest.codecs.zlib" in fields
    publish(b, tmp_path / "b")
    result = check_against(base["sums"], tmp_path / "b")
    assert result.exit_code == EXIT_ENCODING_ONLY
    assert "zlib (system)" in result.artifacts[0].detail and "libdeflate" in result.artifacts[0].detail


def test_the_same_build_again_is_identical(base, tmp_path, capsys):
    b = build(make_tree(tmp_path / "tree", base["tool"]), tmp_path / "b" / "X.dmg")
    code, report = diff_json(capsys, base["a"], b)
    assert code == 0 and report["identical"]
    publish(b, tmp_path / "b")
    assert check_against(base["sums"], tmp_path / "b").exit_code == EXIT_SAME


def test_html_report_is_a_pure_function_of_the_images(base, tmp_path, capsys):
    root = make_tree(tmp_path / "tree", base["tool"])
    _load_command(root, base["dir"], base)
    (root / "<b>odd<b> & name").write_text("x")
    b = build(root, tmp_path / "b" / "X.dmg")
    pages = []
    for name in ("one.html", "two.html"):
        main(["dmg", "diff", str(base["a"]), str(b), "--html", str(tmp_path / name)])
        pages.append((tmp_path / name).read_bytes())
    capsys.readouterr()
    assert pages[0] == pages[1]
    text = pages[0].decode()
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text
    # Names from the image are escaped, never markup.
    assert "/&lt;b&gt;odd&lt;b&gt; &amp; name" in text and "<b>odd" not in text
