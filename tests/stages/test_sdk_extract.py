"""`reprodmg sdk extract` (issue 13): the pinned SDK tarball from an Xcode
.xip, a Command Line Tools .pkg or an Xcode.app folder.

The expected tarball is written out below member by member from the rules
of Bitcoin Core's contrib/macdeploy/gen-sdk.py (its order, names, modes,
left-out names, hard links), not computed by our writer.  The .xip's cpio
payload is written by GNU cpio; one .xip is wrapped by bsdtar's xar writer.
"""

from __future__ import annotations

import gzip
import json
import os
import plistlib
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import apple_archives as aa
from helpers import REPO, require_tool
from pipeline.build import sdk, sdk_extract
from pipeline.errors import CorruptError, InputError, UnsupportedError, VerificationError
from pipeline.pkg.writer import odc_header

BASE = "Xcode-15.0-15A240d-extracted-SDK-with-libcxx-headers"
# (name under BASE, type, mode, link target) in gen-sdk.py's order.
EXPECTED = [
    ("usr/include", "dir", 0o755, ""),
    ("usr/include/aa_b.h", "file", 0o644, ""),
    ("usr/include/stdio.h", "file", 0o644, ""),
    ("usr/include/sys", "dir", 0o755, ""),
    ("usr/include/sys/types.h", "file", 0o644, ""),
    ("usr/include/zz_a.h", "hardlink", 0o644, f"{BASE}/usr/include/aa_b.h"),
    ("usr/lib", "dir", 0o755, ""),
    ("usr/lib/helper.sh", "file", 0o755, ""),
    ("usr/lib/libSystem.tbd", "file", 0o644, ""),
    ("usr/lib/libc.tbd", "symlink", 0o755, "libSystem.tbd"),
    ("usr/lib/swift", "dir", 0o755, ""),
    ("System/Library/Frameworks", "dir", 0o755, ""),
    ("System/Library/Frameworks/Foo.framework", "dir", 0o755, ""),
    ("System/Library/Frameworks/Foo.framework/Foo.tbd", "symlink", 0o755,
     "Versions/Current/Foo.tbd"),
    ("System/Library/Frameworks/Foo.framework/Headers", "symlink", 0o755,
     "Versions/Current/Headers"),
    ("System/Library/Frameworks/Foo.framework/Versions", "dir", 0o755, ""),
    ("System/Library/Frameworks/Foo.framework/Versions/A", "dir", 0o755, ""),
    ("System/Library/Frameworks/Foo.framework/Versions/A/Foo.tbd", "file", 0o644, ""),
    ("System/Library/Frameworks/Foo.framework/Versions/A/Headers", "dir", 0o755, ""),
    ("System/Library/Frameworks/Foo.framework/Versions/A/Headers/Foo.h", "file", 0o644, ""),
    ("System/Library/Frameworks/Foo.framework/Versions/Current", "symlink", 0o755, "A"),
]
# The SDK has no libc++ headers: the toolchain's follow, as older gen-sdk.py added them.
LIBCXX = [
    ("usr/include/c++/v1", "dir", 0o755, ""),
    ("usr/include/c++/v1/__config", "file", 0o644, ""),
    ("usr/include/c++/v1/experimental", "dir", 0o755, ""),
    ("usr/include/c++/v1/experimental/memory", "file", 0o644, ""),
    ("usr/include/c++/v1/vector", "file", 0o644, ""),
]
_TYPES = {tarfile.DIRTYPE: "dir", tarfile.REGTYPE: "file", tarfile.SYMTYPE: "symlink",
          tarfile.LNKTYPE: "hardlink"}


def _members(path: Path) -> list[tuple[str, str, int, str]]:
    out = []
    with tarfile.open(path) as tar:
        assert tar.format == tarfile.PAX_FORMAT or all(not m.pax_headers for m in tar)
        for m in tar.getmembers():
            assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")
            assert m.name == BASE or m.name.startswith(BASE + "/")
            out.append((m.name.removeprefix(BASE + "/"), _TYPES[m.type], m.mode,
                        m.linkname))
    return out


@pytest.fixture(scope="module")
def xcode(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("xcode")
    aa.fake_xcode(root)
    return root


@pytest.fixture(scope="module")
def xip(xcode, tmp_path_factory) -> Path:
    return aa.xip(xcode, tmp_path_factory.mktemp("xip") / "Xcode_15.xip")


def test_folder_gives_gen_sdk_members_and_a_pin(xcode, tmp_path):
    report = sdk_extract.extract(xcode / "Xcode.app", tmp_path)
    tar = tmp_path / f"{BASE}.tar"
    assert report["tarball"] == tar.name and report["libcxx_headers_added"]
    assert _members(tar) == EXPECTED + LIBCXX
    with tarfile.open(tar) as t:
        assert t.extractfile(f"{BASE}/usr/include/stdio.h").read() == \
            (xcode / "Xcode.app" / aa.XCODE_SDKS / "MacOSX.sdk/usr/include/stdio.h").read_bytes()
    # The printed pin is a pin the build accepts, and the tarball passes it.
    pin_path = tmp_path / "pin" / f"{BASE}.toml"
    pin_path.parent.mkdir()
    pin_path.write_text(report["pin"])
    pin = sdk.load_pin(pin_path)
    assert (pin.name, pin.root, pin.sha256, pin.sdk_version) == (BASE, BASE, report["sha256"],
                                                                 "14.0")
    root = sdk.extract(tar, pin.sha256, tmp_path / "unpacked") / pin.root
    assert (root / "usr/include/c++/v1/vector").read_text() == "// toolchain <vector>\n"


def test_xip_gives_the_same_bytes_as_the_folder(xcode, xip, tmp_path):
    a = sdk_extract.extract(xcode / "Xcode.app", tmp_path / "a")
    b = sdk_extract.extract(xip, tmp_path / "b")
    assert a["sha256"] == b["sha256"]
    assert os.listdir(tmp_path / "b") == [f"{BASE}.tar"]        # no staging left behind


@pytest.mark.parametrize("fmt", ["newc", "crc"])
def test_newc_payloads_and_a_beta_app_name(tmp_path, fmt):
    root = tmp_path / "src"
    root.mkdir()
    aa.fake_xcode(root, app="Xcode-beta.app")
    expected = sdk_extract.extract(root / "Xcode-beta.app", tmp_path / "folder")["sha256"]
    path = aa.xip(root, tmp_path / "beta.xip", app="Xcode-beta.app", fmt=fmt)
    assert sdk_extract.extract(path, tmp_path / "out")["sha256"] == expected


def test_bsdtar_written_xip(xcode, tmp_path):
    """The same payload in a xar written by libarchive, zlib-encoded."""
    payload = aa.cpio_of(xcode, "Xcode.app")
    (tmp_path / "in").mkdir()
    (tmp_path / "in/Content").write_bytes(b"".join(aa.pbzx(aa.split(payload, 8192), 8192)))
    (tmp_path / "in/Metadata").write_bytes(plistlib.dumps({}))
    out = tmp_path / "lib.xip"
    subprocess.run([require_tool("bsdtar"), "--format", "xar", "-cf", str(out), "Content",
                    "Metadata"], cwd=tmp_path / "in", check=True)
    expected = sdk_extract.extract(xcode / "Xcode.app", tmp_path / "a")["sha256"]
    assert sdk_extract.extract(out, tmp_path / "b")["sha256"] == expected


def test_an_sdk_with_its_own_libcxx_gets_nothing_added(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    aa.fake_xcode(root, libcxx_in_sdk=True)
    report = sdk_extract.extract(root / "Xcode.app", tmp_path / "out")
    members = _members(tmp_path / "out" / f"{BASE}.tar")
    assert not report["libcxx_headers_added"]
    assert ("usr/include/c++/v1/vector", "file", 0o644, "") in members
    assert "usr/include/c++/v1/__config" not in [m[0] for m in members]


def test_list_and_choosing_another_sdk(xcode, xip, tmp_path):
    listing = sdk_extract.list_sdks(xip, tmp_path)
    assert [(s["name"], s["link_to"], s["version"]) for s in listing["sdks"]] == [
        ("MacOSX.sdk", None, "14.0"), ("MacOSX14.0.sdk", "MacOSX.sdk", "14.0")]
    assert (listing["version"], listing["build"]) == ("15.0", "15A240d")
    assert os.listdir(tmp_path) == []
    same = sdk_extract.extract(xcode / "Xcode.app", tmp_path / "x", sdk_name="MacOSX14.0.sdk")
    plain = sdk_extract.extract(xcode / "Xcode.app", tmp_path / "y")
    assert same["sha256"] == plain["sha256"]
    with pytest.raises(InputError, match=r"no SDK 'MacOSX9.sdk' \(found: MacOSX.sdk, "):
        sdk_extract.extract(xcode / "Xcode.app", tmp_path / "z", sdk_name="MacOSX9.sdk")


def _clt_pkg(tmp_path: Path, *, gzip_payload: bool, plain_payload: bool = False) -> Path:
    root = tmp_path / "clt"
    sdks = root / aa.CLT_SDKS
    aa.fake_sdk(sdks / "MacOSX14.sdk", libcxx=True)
    os.symlink("MacOSX14.sdk", sdks / "MacOSX.sdk")
    (root / "Library/Developer/CommandLineTools/usr/bin").mkdir(parents=True)
    (root / "Library/Developer/CommandLineTools/usr/bin/clang").write_bytes(b"\0" * 100)
    payload = aa.cpio_of(root, "Library")
    if gzip_payload:
        payload = gzip.compress(payload, mtime=0)
    elif not plain_payload:
        payload = b"".join(aa.pbzx(aa.split(payload, 4096), 4096))
    info = (b'<pkg-info format-version="2" identifier="com.apple.pkg.CLTools_SDK_macOS14" '
            b'version="15.1.0.0.1.1700200546" install-location="/"/>')
    return aa.xar([("CLTools_SDK.pkg/PackageInfo", info), ("CLTools_SDK.pkg/Payload", payload),
                   ("Distribution", b"<installer-gui-script/>")], tmp_path / "CLT.pkg")


@pytest.mark.parametrize("gzip_payload", [False, True])
def test_command_line_tools_pkg(tmp_path, gzip_payload):
    pkg = _clt_pkg(tmp_path, gzip_payload=gzip_payload)
    report = sdk_extract.extract(pkg, tmp_path / "out")
    name = "CommandLineTools-15.1.0.0.1.1700200546-extracted-SDK-with-libcxx-headers"
    assert report["tarball"] == f"{name}.tar" and report["kind"] == "clt"
    assert report["sdk"]["name"] == "MacOSX.sdk" and report["sdk"]["link_to"] == "MacOSX14.sdk"
    with tarfile.open(tmp_path / "out" / f"{name}.tar") as tar:
        names = tar.getnames()
    assert f"{name}/usr/include/c++/v1/vector" in names            # the SDK's own
    assert not any("clang" in n for n in names)


def test_cli_prints_sha256_and_pin_and_json(xip, tmp_path):
    env = {**os.environ, "REPRODMG_PROGRESS": "0"}
    proc = subprocess.run([sys.executable, "-m", "pipeline", "sdk", "extract", str(xip), "-o",
                           str(tmp_path)], capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.endswith(f"{BASE}.tar") and len(first.split()[0]) == 64
    assert f'sha256 = "{first.split()[0]}"' in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "pipeline", "sdk", "extract", "--list", "--json",
                           str(xip), "-o", str(tmp_path / "l")], capture_output=True, text=True,
                          env=env, cwd=REPO)
    assert json.loads(proc.stdout)["sdks"][0]["name"] == "MacOSX.sdk"
    # A terminal gets a progress line on stderr (bytes of the input read).
    proc = subprocess.run([sys.executable, "-m", "pipeline", "sdk", "extract", "--list",
                           str(xip), "-o", str(tmp_path / "p")], capture_output=True, text=True,
                          env={**env, "REPRODMG_PROGRESS": "1"}, cwd=REPO)
    assert "reading Xcode_15.xip: 100%" in proc.stderr


# ---------------------------------------------------------------------------
# Hostile and broken inputs: clear errors, nothing left behind


def _refused(path: Path, out: Path, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        sdk_extract.extract(path, out)
    assert not out.exists() or os.listdir(out) == []


def test_corrupt_xip_headers_and_checksums(xip, tmp_path):
    raw = xip.read_bytes()
    bad = tmp_path / "bad.xip"
    bad.write_bytes(b"xar?" + raw[4:])
    _refused(bad, tmp_path / "o1", InputError, "not a .xip, .pkg")
    toc_end = 28 + int.from_bytes(raw[8:16], "big")
    bad.write_bytes(raw[:toc_end] + bytes([raw[toc_end] ^ 0xFF]) + raw[toc_end + 1:])
    _refused(bad, tmp_path / "o2", VerificationError, "xar toc checksum")
    bad.write_bytes(raw[:toc_end + (len(raw) - toc_end) // 2])     # inside Content
    _refused(bad, tmp_path / "o3", CorruptError, r"xar member 'Content': offset 0x[0-9a-f]+: truncated")


def test_truncated_pbzx_chunk(xcode, tmp_path):
    payload = aa.cpio_of(xcode, "Xcode.app")
    content = b"".join(aa.pbzx(aa.split(payload, 4096), 4096))
    path = aa.xar([("Content", content[:-100])], tmp_path / "t.xip")
    _refused(path, tmp_path / "out", CorruptError, r"pbzx chunk \d+")


@pytest.mark.parametrize("name, link, match", [
    ("./Xcode.app/../../evil.h", None, "leaves the tree"),
    ("/Xcode.app/Contents/version.plist", None, "leaves the tree"),
    (f"./Xcode.app/{aa.XCODE_SDKS}/MacOSX.sdk/usr/include/escape", "../" * 12 + "x",
     "symbolic link .* leaves the tree"),
    (f"./Xcode.app/{aa.XCODE_SDKS}/MacOSX.sdk/usr/include/abs", "/etc/passwd",
     "symbolic link .* leaves the tree"),
])
def test_hostile_cpio_names_and_links(xcode, tmp_path, name, link, match):
    payload = aa.cpio_of(xcode, "Xcode.app")
    trailer = payload.rindex(b"070707")
    payload = payload[:trailer] + _odc(name, link) + payload[trailer:]
    path = aa.xar([("Content", b"".join(aa.pbzx([payload], len(payload))))], tmp_path / "h.xip")
    _refused(path, tmp_path / "out", CorruptError, match)


def _odc(name: str, link: str | None) -> bytes:
    data = (link or "data").encode()
    return odc_header(name, mode=0o120777 if link else 0o100644, size=len(data),
                      ino=1234) + data


def _dmg_of(folder: Path, out: Path, *extra: str) -> Path:
    subprocess.run([sys.executable, "-m", "pipeline", "dmg", "create", str(folder), "-o",
                    str(out), "--format", "UDZO", *extra], check=True, cwd=REPO,
                   env={**os.environ, "REPRODMG_PROGRESS": "0"}, capture_output=True)
    return out


@pytest.mark.parametrize("compression", [None, "zlib", "lzfse"])
def test_command_line_tools_dmg_gives_the_pkgs_sdk(tmp_path, compression):
    """A CLT-style disk image (our own writer) with the .pkg at its top,
    stored plainly or with HFS+ compression (as `ditto --hfsCompression`)."""
    # An uncompressed cpio payload, so that HFS+ compression has work to do.
    pkg = _clt_pkg(tmp_path, gzip_payload=False, plain_payload=True)
    volume = tmp_path / "Command Line Developer Tools"
    volume.mkdir()
    shutil.copy(pkg, volume / "Command Line Tools.pkg")
    options = ("--hfs-compression", compression) if compression else ()
    dmg = _dmg_of(volume, tmp_path / "Command_Line_Tools.dmg", *options)
    if compression:
        listing = subprocess.run([sys.executable, "-m", "pipeline", "dmg", "ls", "--json",
                                  str(dmg)], check=True, capture_output=True, text=True,
                                 cwd=REPO).stdout
        assert f'"compression": "{compression}"' in listing
    from_pkg = sdk_extract.extract(pkg, tmp_path / "a")
    from_dmg = sdk_extract.extract(dmg, tmp_path / "b")
    assert from_dmg["sha256"] == from_pkg["sha256"]
    assert from_dmg["tarball"] == from_pkg["tarball"] and from_dmg["kind"] == "clt"
    assert os.listdir(tmp_path / "b") == [from_dmg["tarball"]]


@pytest.mark.parametrize("compression", [None, "lzfse"])
def test_an_older_xcode_dmg_holding_the_app(xcode, tmp_path, compression):
    """Xcode releases before the .xip came as a disk image with Xcode.app."""
    options = ("--hfs-compression", compression) if compression else ()
    dmg = _dmg_of(xcode, tmp_path / "Xcode_15.dmg", "--keep-modes", *options)
    expected = sdk_extract.extract(xcode / "Xcode.app", tmp_path / "a")
    got = sdk_extract.extract(dmg, tmp_path / "b")
    assert (got["sha256"], got["tarball"], got["kind"]) == \
        (expected["sha256"], expected["tarball"], "xcode")


def test_a_dmg_without_packages_or_with_apfs_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty/readme.txt").write_text("nothing\n")
    dmg = _dmg_of(tmp_path / "empty", tmp_path / "e.dmg")
    with pytest.raises(InputError, match="no .pkg or Xcode .app at the top of the volume 'empty'"):
        sdk_extract.extract(dmg, tmp_path / "out")
    # An APFS container where the HFS+ volume would be: said, not misread.
    raw = bytearray(1 << 20)
    raw[32:36] = b"NXSB"
    (tmp_path / "apfs.img").write_bytes(bytes(raw))
    apfs = tmp_path / "apfs.dmg"
    subprocess.run([sys.executable, "-m", "pipeline", "dmg", "convert", str(tmp_path / "apfs.img"),
                    "-o", str(apfs), "--format", "UDZO"], check=True, cwd=REPO,
                   capture_output=True)
    with pytest.raises(UnsupportedError, match="APFS"):
        sdk_extract.extract(apfs, tmp_path / "out2")


def test_not_an_xcode_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="neither an Xcode.app"):
        sdk_extract.extract(tmp_path / "empty", tmp_path / "out")
    shutil.rmtree(tmp_path / "empty")


def test_a_multi_gigabyte_xip_streams_in_bounded_memory(tmp_path):
    """2 GiB of payload (mostly zeros, a 300 KB .xip) through the command:
    peak RSS of the whole process stays under 200 MB.  Speed: `python -m
    pipeline.bench sdk` (docs/benchmarks.md)."""
    from pipeline.bench.sdk import measure_command, synthetic_xip
    xip = tmp_path / "Synthetic.xip"
    payload = synthetic_xip(xip, 2 << 30)
    assert payload > 2 << 30 and xip.stat().st_size < 1 << 20
    status, _seconds, rss_kb, out = measure_command(
        [sys.executable, "-m", "pipeline", "sdk", "extract", str(xip), "-o",
         str(tmp_path / "out"), "--json"], {**os.environ, "REPRODMG_PROGRESS": "0",
                                             "PYTHONPATH": str(REPO)})
    assert status == 0
    report = json.loads(out)
    assert report["tarball"].endswith("Xcode-99.0-99A1-extracted-SDK-with-libcxx-headers.tar")
    assert rss_kb < 200 * 1024, f"peak RSS {rss_kb // 1024} MB"
    with tarfile.open(report["tarball"]) as tar:
        assert "Xcode-99.0-99A1-extracted-SDK-with-libcxx-headers/usr/include/stdio.h" in \
            tar.getnames()
    assert sorted(os.listdir(tmp_path / "out")) == [Path(report["tarball"]).name]


def test_seeded_mutations_of_a_xip_give_only_our_errors(xip, tmp_path):
    """Hostile input: 300 seeded byte mutations of the .xip (header, TOC,
    heap, payload) either extract or stop with the project's own error, and
    leave nothing behind."""
    import random
    from pipeline.errors import ReprodmgError
    raw = xip.read_bytes()
    rng = random.Random(13)
    bad = tmp_path / "m.xip"
    outcomes = {"ok": 0, "refused": 0}
    for i in range(300):
        data = bytearray(raw)
        for _ in range(rng.choice((1, 2, 8))):
            at = rng.randrange(len(data)) if rng.random() < 0.5 else rng.randrange(min(600, len(data)))
            data[at] = rng.randrange(256)
        if rng.random() < 0.1:
            data = data[:rng.randrange(len(data))]
        bad.write_bytes(bytes(data))
        out = tmp_path / f"o{i}"
        try:
            sdk_extract.extract(bad, out)
            outcomes["ok"] += 1
            shutil.rmtree(out)
        except ReprodmgError:
            outcomes["refused"] += 1
            assert not out.exists() or os.listdir(out) == [], i
    assert outcomes["refused"] > 100, outcomes


def test_seeded_mutations_of_the_payload_behind_valid_checksums(xcode, tmp_path):
    """The same, one layer down: the cpio payload is mutated and wrapped
    again, so that every checksum holds and the cpio reader and the staging
    rules face the damage."""
    import random
    from pipeline.errors import ReprodmgError
    payload = aa.cpio_of(xcode, "Xcode.app")
    rng = random.Random(31)
    refused = 0
    for i in range(150):
        data = bytearray(payload)
        for _ in range(rng.choice((1, 3))):
            data[rng.randrange(len(data))] = rng.choice(b"0178/.\x00 x\xff")
        if rng.random() < 0.1:
            data = data[:rng.randrange(len(data))]
        path = aa.xar([("Content", b"".join(aa.pbzx([bytes(data)], len(data) or 1)))],
                      tmp_path / f"p{i}.xip")
        out = tmp_path / f"o{i}"
        try:
            sdk_extract.extract(path, out)
            shutil.rmtree(out)
        except ReprodmgError:
            refused += 1
            assert not out.exists() or os.listdir(out) == [], i
    assert refused > 20
