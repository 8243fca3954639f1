"""`reprodmg dmg diff`: pairs of images that differ in exactly one thing are
reported as exactly that difference.

Pairs come from our writers (one tree, one change each); the hdiutil corpus
pairs are checked against 7-Zip (an independent UDIF + HFS+ reader: its
expanded volumes give the differing sectors, its listings the added and
removed paths) and against the corpus README (the five compression-* images
expand to identical bytes, so they differ only in their encoding).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import HDIUTIL_CORPUS, require_tool
from pipeline.cli import main
from pipeline.diff import diff_images, first_difference, format_report, koly_field_at
from pipeline.hfs.tree import FinderInfo
from pipeline.hfs.writer import build_volume
from pipeline.udif.partitions import BytesSource
from pipeline.udif.writer import write_udif

EPOCH = 1700000000
DATE_FIELDS = {"create_date", "modify_date", "access_date", "attribute_mod_date"}


@pytest.fixture(autouse=True)
def _no_env_epoch(monkeypatch):
    # SOURCE_DATE_EPOCH in the environment would override every epoch below.
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


def make_tree(root: Path, change=None) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"hello\n" * 10)
    os.chmod(root / "a.txt", 0o644)
    (root / "dir" / "b.bin").write_bytes(bytes(range(256)) * 40)
    (root / "dir" / "sub" / "c.txt").write_bytes(b"c" * 5000)
    os.symlink("a.txt", root / "link")
    if change:
        change(root)
    return root


def build(src: Path, out: Path, *, volname="Test", epoch=EPOCH, fmt="UDZO", level=None,
          layout="none", **volume_options) -> Path:
    volume = build_volume(src, volname=volname, epoch=epoch, **volume_options)
    write_udif(volume, out, format=fmt, level=level, layout=layout, manifest_path=False)
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("base")
    os.environ.pop("SOURCE_DATE_EPOCH", None)
    tree = make_tree(d / "tree")
    return tree, build(tree, d / "a.dmg")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["dmg", "diff", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def content(report: dict, index: int = 0) -> dict:
    return report["content"]["partitions"][index]


def tree_changes(report: dict) -> dict:
    t = content(report)["tree"]
    return {k: t[k] for k in ("added", "removed", "metadata", "data")}


# --------------------------------------------------------------------------
# Identical, and helpers.

def test_identical_images_exit_0(base, tmp_path, capsys):
    tree, a = base
    b = build(tree, tmp_path / "b.dmg")        # built again: same bytes
    code, out, _ = run_cli(capsys, a, b)
    assert code == 0 and "identical" in out
    code, out, _ = run_cli(capsys, a, b, "--json")
    report = json.loads(out)
    assert code == 0 and report["identical"] and report["verdict"] == "identical"


def test_first_difference_bisects_to_the_first_byte():
    rng = random.Random(7)
    x = bytes(rng.randrange(256) for _ in range(5000))
    assert first_difference(x, x) is None
    for k in (0, 1, 2047, 4999):
        y = bytearray(x)
        y[k] ^= 0x10
        assert first_difference(x, bytes(y)) == k
    assert first_difference(x, x[:100]) == 100


def test_koly_field_offsets_follow_formats_md():
    # docs/formats.md §2.1: dataForkLength at 32, segmentID at 64, xmlOffset at 216,
    # the code signature's offset and length at 296 and 304 (JetBrains
    # FormatRipper's CodeSignaturePointerOffset), imageVariant at 488,
    # sectorCount at 492.
    assert [koly_field_at(o) for o in (0, 32, 64, 79, 88, 216, 232, 296, 304, 312, 488, 492,
                                       511)] == [
        "signature", "dataForkLength", "segmentID", "segmentID", "dataChecksum",
        "xmlOffset", "reserved1", "codeSignatureOffset", "codeSignatureLength", "reserved2",
        "imageVariant", "sectorCount", "reserved3"]


# --------------------------------------------------------------------------
# One difference each: the report names exactly it.

def test_one_byte_of_one_file(base, tmp_path, capsys):
    def flip(root):
        p = root / "dir" / "b.bin"
        data = bytearray(p.read_bytes())
        data[5000] ^= 1
        p.write_bytes(bytes(data))
    _, a = base
    b = build(make_tree(tmp_path / "t", flip), tmp_path / "b.dmg")
    code, out, _ = run_cli(capsys, a, b, "--json")
    report = json.loads(out)
    assert code == 1 and report["verdict"] == "content"
    t = tree_changes(report)
    assert t["added"] == t["removed"] == t["metadata"] == []
    assert [(d["path"], d["fork"], d["first_difference"]) for d in t["data"]] == \
        [("dir/b.bin", "data", 5000)]
    # The block attribution names that file's fork (and the volume id in
    # both headers, which follows the content).
    where = [w for blk in content(report)["blocks"] for w in blk["a"]]
    assert any(w.startswith("data fork of /dir/b.bin, bytes 4608-5119") for w in where)
    assert {w for w in where if not w.startswith("data fork")} == \
        {"volume header", "alternate volume header"}
    assert {d["field"] for d in content(report)["volume_header"]} == \
        {"volume header.finderInfo[6]", "volume header.finderInfo[7]"}
    code, text, _ = run_cli(capsys, a, b)
    assert "/dir/b.bin: data differs from byte 5000" in text


def test_mode(base, tmp_path):
    _, a = base
    b = build(make_tree(tmp_path / "t", lambda r: os.chmod(r / "a.txt", 0o755)),
              tmp_path / "b.dmg")
    report = diff_images(a, b).to_json()
    assert tree_changes(report) == {"added": [], "removed": [], "data": [], "metadata": [
        {"path": "a.txt", "field": "mode", "a": "100644", "b": "100755"}]}


def relink(root: Path) -> None:
    (root / "link").unlink()
    os.symlink("dir/b.bin", root / "link")


@pytest.mark.parametrize("change, options, expected", [
    ("xattr", {"xattrs": {"a.txt": {"com.example.k": b"v"}}},
     # HasAttributes (0x4) in the catalog flags goes with the attribute record.
     [("a.txt", "flags", 2, 6), ("a.txt", "xattr com.example.k", None, "76")]),
    ("finder info", {"finder_info": {"dir/b.bin": FinderInfo.for_file(b"TEXT", b"ttxt", 0x4000)}},
     [("dir/b.bin", "finder_flags", 0, 0x4000), ("dir/b.bin", "file_type", "", "TEXT"),
      ("dir/b.bin", "creator", "", "ttxt")]),
    ("link target", {"tree": relink},
     [("link", "link_target", "a.txt", "dir/b.bin"), ("link", "data_size", 5, 9)]),
])
def test_one_metadata_field(base, tmp_path, change, options, expected):
    tree, a = base
    options = dict(options)
    change_tree = options.pop("tree", None)
    src = make_tree(tmp_path / "t", change_tree) if change_tree else tree
    t = tree_changes(diff_images(a, build(src, tmp_path / "b.dmg", **options)).to_json())
    assert t["added"] == t["removed"] == t["data"] == []
    assert sorted((m["path"], m["field"], m["a"], m["b"]) for m in t["metadata"]) == \
        sorted(expected)


def test_owner(base, tmp_path):
    tree, a = base
    t = tree_changes(diff_images(a, build(tree, tmp_path / "b.dmg", uid=501)).to_json())
    assert {(m["field"], m["a"], m["b"]) for m in t["metadata"]} == {("uid", 0, 501)}
    assert len(t["metadata"]) == 6          # every path below the root


def test_source_date_epoch(base, tmp_path):
    tree, a = base
    b = build(tree, tmp_path / "b.dmg", epoch=EPOCH - 100000000)
    typed = diff_images(a, b)
    report = typed.to_json()
    t = tree_changes(report)
    assert t["added"] == t["removed"] == t["data"] == []
    assert {m["field"] for m in t["metadata"]} == DATE_FIELDS
    assert {(m["a"], m["b"]) for m in t["metadata"]} == {(EPOCH, EPOCH - 100000000)}
    assert {m["path"] for m in t["metadata"]} == \
        {"a.txt", "dir", "dir/b.bin", "dir/sub", "dir/sub/c.txt", "link"}
    fields = {d["field"] for d in content(report)["volume_header"]}
    assert {"volume header.createDate", "volume header.modifyDate"} <= fields
    assert "2020-09-13 12:26:40" in format_report(typed)        # EPOCH - 1e8 in UTC


def test_added_file(base, tmp_path):
    _, a = base
    b = build(make_tree(tmp_path / "t", lambda r: (r / "dir" / "new.txt").write_bytes(b"new")),
              tmp_path / "b.dmg")
    t = tree_changes(diff_images(a, b).to_json())
    assert t["added"] == ["dir/new.txt"] and t["removed"] == [] and t["data"] == []
    # Its folder's item count is the only consequence on other paths.
    assert t["metadata"] == [{"path": "dir", "field": "valence", "a": 2, "b": 3}]
    t = tree_changes(diff_images(b, a).to_json())
    assert t["removed"] == ["dir/new.txt"] and t["added"] == []


def test_volume_name(base, tmp_path):
    tree, a = base
    report = diff_images(a, build(tree, tmp_path / "b.dmg", volname="Other")).to_json()
    t = tree_changes(report)
    assert t == {"added": [], "removed": [], "metadata": [], "data": []}
    vh = content(report)["volume_header"]
    assert vh[0] == {"field": "volume name (root folder)", "a": "Test", "b": "Other"}
    where = {w for blk in content(report)["blocks"] for w in blk["a"]}
    assert "catalog B-tree node 1" in where      # the root's record and thread


def test_udzo_vs_udbz_differ_only_in_encoding(base, tmp_path, capsys):
    tree, a = base
    b = build(tree, tmp_path / "b.dmg", fmt="UDBZ")
    code, out, _ = run_cli(capsys, a, b, "--json")
    report = json.loads(out)
    assert code == 1 and report["verdict"] == "encoding"
    assert report["content"]["disk_equal"]
    part = report["container"]["partitions"][0]
    assert {(c["a"], c["b"]) for c in part["chunks"]["codec"]["chunks"]} == {("zlib", "bzip2")}
    assert part["chunks"]["level_hints"] == {"a": ["zlib FLEVEL 0 (fastest)"],
                                             "b": ["bzip2 level 9 (900k blocks)"]}
    assert "koly.dataChecksum" in {d["field"] for d in report["container"]["koly"]}
    assert report["summary"][0].startswith("same content, different encoding")
    code, text, _ = run_cli(capsys, a, b)
    assert "the images differ only in their encoding" in text


def test_zlib_level(base, tmp_path):
    tree, a = base
    report = diff_images(a, build(tree, tmp_path / "b.dmg", level=9)).to_json()
    assert report["verdict"] == "encoding"
    chunks = report["container"]["partitions"][0]["chunks"]
    assert "codec" not in chunks and "layout_differs" not in chunks
    assert chunks["level_hints"] == {"a": ["zlib FLEVEL 0 (fastest)"],
                                     "b": ["zlib FLEVEL 3 (maximum)"]}
    assert chunks.get("compressed_length") or chunks.get("compressed_bytes")


def test_layout_none_vs_gpt(base, tmp_path):
    tree, a = base
    report = diff_images(a, build(tree, tmp_path / "b.dmg", layout="gpt")).to_json()
    c = report["container"]
    assert c["partitions_only_in_a"] == []
    assert any("GPT Header" in p for p in c["partitions_only_in_b"])
    assert any("Protective Master Boot Record" in p for p in c["partitions_only_in_b"])
    assert "koly.imageVariant" in {d["field"] for d in c["koly"]}
    # The HFS+ volumes inside are paired with each other and are identical.
    [pair] = report["content"]["partitions"]
    assert "Apple_HFS" in pair["a"] and "Apple_HFS" in pair["b"] and pair["equal"]
    assert report["verdict"] == "content" and not report["content"]["disk_equal"]


def test_equal_trees_with_differing_bytes_name_the_structure(base, tmp_path):
    """A byte changed in a free catalog node: no file or metadata changes,
    and the block report names the catalog node."""
    tree, a = base
    volume = build_volume(tree, volname="Test", epoch=EPOCH)
    raw = bytearray(volume.read(0, volume.size))
    vh = volume.header
    start, count = vh.catalogFile.extents[0]
    last_node = vh.catalogFile.logicalSize // 4096 - 1
    raw[start * vh.blockSize + last_node * 4096 + 100] = 0x5A
    b = tmp_path / "b.dmg"
    write_udif(BytesSource(bytes(raw)), b, format="UDZO", manifest_path=False)
    report = diff_images(a, b).to_json()
    assert tree_changes(report) == {"added": [], "removed": [], "metadata": [], "data": []}
    assert content(report)["volume_header"] == []
    [blk] = content(report)["blocks"]
    assert blk["a"] == blk["b"] == [f"catalog B-tree node {last_node}"]
    assert blk["differing_sectors"] == 1


# --------------------------------------------------------------------------
# The hdiutil corpus.

@pytest.mark.parametrize("other", ["bz2", "lzfse", "adc", "raw"])
def test_corpus_compression_variants_differ_only_in_encoding(other):
    # Corpus README: the five compression-* images expand to identical bytes.
    report = diff_images(HDIUTIL_CORPUS / "compression-zlib.dmg",
                         HDIUTIL_CORPUS / f"compression-{other}.dmg").to_json()
    assert report["verdict"] == "encoding"
    codecs = {(c["a"], c["b"]) for p in report["container"]["partitions"]
              for c in p["chunks"].get("codec", {}).get("chunks", [])}
    assert codecs == {("zlib", {"bz2": "bzip2"}.get(other, other))}


def seven_zip_volume(name: str, dest: Path) -> bytes:
    seven = require_tool("7z")
    return subprocess.run([seven, "e", "-tdmg", "-so", str(HDIUTIL_CORPUS / f"{name}.dmg"),
                           "0.hfs"], capture_output=True, check=True).stdout


def seven_zip_paths(volume: bytes, tmp: Path) -> set[str]:
    path = tmp / "vol.hfs"
    path.write_bytes(volume)
    res = subprocess.run([require_tool("7z"), "l", "-slt", str(path)], capture_output=True,
                         text=True, check=True, env={**os.environ, "LC_ALL": "C.UTF-8"})
    paths = [line[7:] for line in res.stdout.split("----------\n", 1)[1].splitlines()
             if line.startswith("Path = ")]
    volname = paths[0]
    return {p[len(volname) + 1:] for p in paths[1:]}


def test_corpus_gpt_vs_zlib_compressed_matches_7zip(tmp_path, capsys):
    code, out, err = run_cli(capsys, HDIUTIL_CORPUS / "gpt.dmg",
                             HDIUTIL_CORPUS / "zlib-compressed.dmg", "--json")
    assert code == 1 and err == ""
    report = json.loads(out)
    [part] = report["content"]["partitions"]
    assert part["filesystem"] == ["HFS+", "HFS+"]
    # Differing sectors = those where 7-Zip's expansions of the two volumes
    # differ, plus B's extra tail.
    va, vb = seven_zip_volume("gpt", tmp_path), seven_zip_volume("zlib-compressed", tmp_path)
    common = min(len(va), len(vb)) // 512
    expected: list[list[int]] = []
    for s in range(common):
        if va[s * 512:(s + 1) * 512] != vb[s * 512:(s + 1) * 512]:
            if expected and expected[-1][1] == s:
                expected[-1][1] = s + 1
            else:
                expected.append([s, s + 1])
    if len(va) != len(vb):
        end = max(len(va), len(vb)) // 512
        if expected and expected[-1][1] == common:
            expected[-1][1] = end
        else:
            expected.append([common, end])
    got = [[r["first_sector"], r["first_sector"] + r["sector_count"]]
           for r in part["sectors"]["ranges"]]
    assert got == expected
    # Added/removed paths as 7-Zip lists the volumes.
    pa, pb = seven_zip_paths(va, tmp_path), seven_zip_paths(vb, tmp_path)
    assert set(part["tree"]["added"]) == pb - pa
    assert set(part["tree"]["removed"]) == pa - pb


def test_corpus_other_pairs_report_without_error(capsys):
    for a, b in (("raw", "encrypted"), ("gpt", "compression-zlib"), ("raw", "gpt")):
        code, out, err = run_cli(capsys, HDIUTIL_CORPUS / f"{a}.dmg",
                                 HDIUTIL_CORPUS / f"{b}.dmg")
        assert code == 1 and err == "" and "summary:" in out, (a, b)


# --------------------------------------------------------------------------
# Hostile input: exit 2, one line, no traceback.

def one_line_error(err: str) -> bool:
    return err.startswith("reprodmg: error: ") and err.count("\n") == 1


def test_truncated_and_garbage_inputs(base, tmp_path, capsys):
    _, a = base
    data = a.read_bytes()
    trunc = tmp_path / "trunc.dmg"
    trunc.write_bytes(data[:len(data) - 300])
    garbage = tmp_path / "garbage.dmg"
    garbage.write_bytes(random.Random(1).randbytes(4096))
    for bad in (trunc, garbage, tmp_path / "missing.dmg", tmp_path):
        code, out, err = run_cli(capsys, a, bad)
        assert code == 2 and out == "" and one_line_error(err), (bad, err)
        assert str(bad) in err


def test_fuzzed_images_give_a_report_or_one_line_error(base, tmp_path, capsys):
    _, a = base
    data = a.read_bytes()
    rng = random.Random(2026)
    bad = tmp_path / "fuzz.dmg"
    seen = set()
    for i in range(40):
        mutated = bytearray(data)
        # Half the flips hit the trailer and property list, where the
        # structures are; the rest anywhere.
        for _ in range(rng.randint(1, 4)):
            k = rng.randrange(len(data) - 3600, len(data)) if i % 2 else rng.randrange(len(data))
            mutated[k] ^= 1 << rng.randrange(8)
        bad.write_bytes(bytes(mutated))
        code, out, err = run_cli(capsys, a, bad)
        seen.add(code)
        assert code in (1, 2)
        assert (code == 2) == bool(err)
        if code == 2:
            assert one_line_error(err), err
    assert seen == {1, 2}


def test_damaged_volume_inside_a_valid_image_is_still_compared(base, tmp_path):
    """Bytes of the volume header, bitmap and catalog overwritten inside a
    well-formed UDIF: the differing sectors are reported, and a volume our
    HFS+ reader refuses is named as a problem rather than raising."""
    tree, _ = base
    volume = build_volume(tree, volname="Test", epoch=EPOCH)
    raw = volume.read(0, volume.size)
    a = tmp_path / "a.dmg"
    write_udif(BytesSource(raw), a, format="UDRO", free_ranges=[], manifest_path=False)
    catalog = volume.header.catalogFile.extents[0][0] * volume.header.blockSize
    areas = [(1024, 512), (catalog, 8192), (4096, 4096)]
    rng = random.Random(11)
    problems = 0
    for _ in range(40):
        mutated = bytearray(raw)
        for _ in range(rng.randint(1, 6)):
            off, n = rng.choice(areas)
            mutated[off + rng.randrange(n)] = rng.randrange(256)
        if mutated == raw:
            continue
        b = tmp_path / "b.dmg"
        write_udif(BytesSource(bytes(mutated)), b, format="UDRO", free_ranges=[],
                   manifest_path=False)
        typed = diff_images(a, b)
        report = typed.to_json()
        part = content(report)
        assert report["verdict"] == "content" and part["sectors"]["sectors"] >= 1
        problems += bool(part.get("problems"))
        for p in part.get("problems", []):
            assert str(b) in p and "\n" not in p
        format_report(typed)
    assert problems > 0


def test_writer_manifests_beside_the_images_name_codec_and_level(base, tmp_path):
    tree, _ = base
    volume = build_volume(tree, volname="Test", epoch=EPOCH)
    a, b = tmp_path / "a.dmg", tmp_path / "b.dmg"
    write_udif(volume, a, format="UDZO", level=1)        # writes a.dmg.manifest.json
    write_udif(volume, b, format="UDZO", level=9)
    report = diff_images(a, b).to_json()
    assert report["verdict"] == "encoding"
    assert {d["field"]: (d["a"], d["b"]) for d in report["manifest"]["fields"]} == \
        {"manifest.level": (1, 9)}
    # A manifest that is not JSON is ignored, never trusted.
    (tmp_path / "b.dmg.manifest.json").write_bytes(b"\xff{not json")
    assert diff_images(a, b).to_json()["manifest"] == {"a": True, "b": False, "fields": []}
    # Nor is one nested deeper than the JSON parser's recursion limit.
    (tmp_path / "b.dmg.manifest.json").write_bytes(b"[" * 200_000 + b"]" * 200_000)
    assert diff_images(a, b).to_json()["manifest"] == {"a": True, "b": False, "fields": []}


def test_non_hfs_partition_reports_sector_ranges(tmp_path):
    data = random.Random(3).randbytes(64 * 1024)
    changed = bytearray(data)
    for sector in (3, 10, 11):
        changed[sector * 512 + 7] ^= 0xFF
    a, b = tmp_path / "a.dmg", tmp_path / "b.dmg"
    write_udif(BytesSource(data), a, format="UDZO", free_ranges=[], manifest_path=False)
    write_udif(BytesSource(bytes(changed)), b, format="UDZO", free_ranges=[],
               manifest_path=False)
    report = diff_images(a, b).to_json()
    part = content(report)
    assert part["filesystem"] is None and "tree" not in part
    assert [(r["first_sector"], r["sector_count"]) for r in part["sectors"]["ranges"]] == \
        [(3, 1), (10, 2)]
    assert part["sectors"]["sectors"] == 3


def test_text_report_keeps_hostile_names_on_one_line(base, tmp_path):
    tree, a = base
    copy = tmp_path / "tree"
    shutil.copytree(tree, copy, symlinks=True)
    (copy / "evil\nsummer: identical\x1b[2J").write_bytes(b"x")
    b = build(copy, tmp_path / "b.dmg")
    text = format_report(diff_images(a, b))
    assert "\x1b" not in text
    assert "evil\\x0asummer: identical\\x1b[2J" in text
    assert not any(line.startswith("summer") for line in text.splitlines())
