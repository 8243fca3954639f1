"""SDK pins: hash check before extraction, safe extraction, deterministic packing, demo recipe."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers import CACHE, PIN, require_tool
from pipeline.build import sdk
from pipeline.cli import main as cli_main
from pipeline.errors import InputError, VerificationError
from pipeline.jsonfile import sha256_file

REPO = Path(__file__).resolve().parents[2]
PIN_PATH = PIN


@pytest.fixture(scope="module")
def pin() -> sdk.SdkPin:
    return sdk.load_pin(PIN_PATH)


@pytest.fixture(scope="module")
def sdk_tarball(pin: sdk.SdkPin) -> Path:
    """The pinned demo SDK tarball, made once per cache from the pinned wheel."""
    return sdk.obtain_tarball(pin, CACHE)


@pytest.fixture(scope="module")
def wheel(pin: sdk.SdkPin, sdk_tarball: Path) -> Path:
    return sdk.fetch_wheel(pin.origin, CACHE)


def test_recipe_reproduces_the_pinned_hash(pin, wheel, tmp_path):
    out = tmp_path / "again.tar"
    assert sdk.build_from_wheel(wheel, pin.origin, out, pin.root) == pin.sha256
    assert sha256_file(out) == pin.sha256


def test_pinned_sdk_lists_as_a_normal_tarball(sdk_tarball):
    # GNU tar as the independent reader: owner 0/0, mtime 0, modes 0755/0644.
    tar = require_tool("tar")
    out = subprocess.run([tar, "--numeric-owner", "-tvf", str(sdk_tarball)], capture_output=True,
                         text=True, check=True, env={"TZ": "UTC", "LC_ALL": "C"})
    lines = out.stdout.splitlines()
    assert any(line.endswith("MacOSX.sdk/usr/include/stdio.h") for line in lines)
    assert any(line.endswith("MacOSX.sdk/usr/lib/libSystem.tbd") for line in lines)
    for line in lines:
        mode, owner, _size, date, _time, name = line.split(None, 5)
        assert owner == "0/0", line
        assert date == "1970-01-01", line
        assert mode in ("drwxr-xr-x", "-rw-r--r--"), line
        assert name.startswith("MacOSX.sdk/")
    names = [line.split(None, 5)[5].rstrip("/") for line in lines]
    assert names == sorted(names)


def _wheel_tbd(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read("ziglang/lib/libc/darwin/libSystem.tbd").decode()


def _link_hello(sdk_root: Path, work: Path, arch: str) -> subprocess.CompletedProcess:
    clang = require_tool("clang-19")
    lld = require_tool("ld64.lld-19")
    src = work / "hello.c"
    src.write_text("#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
    return subprocess.run([clang, "-target", f"{arch}-apple-macos11.0", "-isysroot", str(sdk_root),
                           "-fuse-ld=lld", f"--ld-path={lld}", str(src), "-o", str(work / "hello")],
                          capture_output=True, text=True, check=False)


def test_ld64_lld_rejects_the_stub_as_shipped_and_accepts_the_normalised_one(
        sdk_tarball, pin, wheel, tmp_path):
    root = sdk.extract(sdk_tarball, pin.sha256, tmp_path / "sdk") / pin.root
    ok = _link_hello(root, tmp_path, "arm64")
    assert ok.returncode == 0, ok.stderr
    # Put zig's original stub back: lld 19 refuses it (the reason for the recipe's change).
    (root / "usr/lib/libSystem.tbd").write_text(_wheel_tbd(wheel))
    bad = _link_hello(root, tmp_path, "arm64")
    assert bad.returncode != 0
    assert "unknown architecture" in bad.stderr or "malformed" in bad.stderr


def test_normalise_tbd_rewrites_only_target_lists():
    text = ("targets:         [ x86_64-macos, arm64e-macos, arm64e.x1-macos,\n"
            "                   arm64-macos, arm64e-maccatalyst ]\n"
            "symbols: [ _arm64e_thing ]\n")
    out = sdk.normalise_tbd(text)
    assert out == ("targets:         [ x86_64-macos, arm64-macos, arm64-maccatalyst ]\n"
                   "symbols: [ _arm64e_thing ]\n")


def test_normalised_stub_keeps_every_symbol(wheel):
    original = _wheel_tbd(wheel)
    fixed = sdk.normalise_tbd(original)
    assert "arm64e" not in "".join(line for line in fixed.splitlines() if "targets" in line)
    strip = lambda s: [ln for ln in s.splitlines() if "targets:" not in ln and "arm64" not in ln]
    assert strip(original) == strip(fixed)


def test_tampered_tarball_is_refused_with_both_hashes(sdk_tarball, pin, tmp_path):
    bad = tmp_path / "tampered.tar"
    data = bytearray(sdk_tarball.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(data)
    actual = sha256_file(bad)
    dest = tmp_path / "out"
    with pytest.raises(VerificationError) as err:
        sdk.extract(bad, pin.sha256, dest)
    assert f"expected sha256 {pin.sha256}" in str(err.value)
    assert f"actual sha256 {actual}" in str(err.value)
    assert not dest.exists() and not (tmp_path / "out.partial").exists()


def test_cli_verify_refuses_tampered_tarball(sdk_tarball, pin, tmp_path, capsys):
    assert cli_main(["sdk", "verify", str(sdk_tarball), "--pin", str(PIN_PATH), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["sha256"] == pin.sha256
    bad = tmp_path / "tampered.tar"
    bad.write_bytes(sdk_tarball.read_bytes() + b"\0" * 512)
    assert cli_main(["sdk", "verify", str(bad), "--pin", str(PIN_PATH)]) == 1
    err = capsys.readouterr().err
    assert pin.sha256 in err and sha256_file(bad) in err
    assert "Traceback" not in err


def _hostile_tar(path: Path, member: tarfile.TarInfo, data: bytes = b"") -> str:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        ok = tarfile.TarInfo("MacOSX.sdk/SDKSettings.json")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"{}"))
        member.size = len(data) if member.isreg() else 0
        tar.addfile(member, io.BytesIO(data) if member.isreg() else None)
    return sha256_file(path)


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


@pytest.mark.parametrize("member, problem", [
    (tarfile.TarInfo("MacOSX.sdk/../../evil.h"), "'..' in path refused"),
    (tarfile.TarInfo("/tmp/evil.h"), "absolute path refused"),
    (_symlink("MacOSX.sdk/usr/lib/libz.tbd", "/etc/passwd"), "leaves the destination"),
    (_symlink("MacOSX.sdk/usr", "../../.."), "leaves the destination"),
])
def test_malicious_tarball_is_refused_even_when_pinned(tmp_path, member, problem):
    bad = tmp_path / "hostile.tar"
    digest = _hostile_tar(bad, member, b"#error pwned\n")   # the pin matches: only safety stops it
    dest = tmp_path / "deep" / "out"
    with pytest.raises(InputError) as err:
        sdk.extract(bad, digest, dest)
    assert problem in str(err.value) and "hostile.tar" in str(err.value)
    assert not dest.exists()
    assert not (tmp_path / "evil.h").exists()
    # Every member is checked before the first write: not even the folder exists.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.tar"]
    assert cli_main(["sdk", "verify", str(bad), "--sha256", digest]) != 0


def _make_tree(root: Path, order: list[str], umask: int) -> None:
    old = os.umask(umask)
    try:
        for rel in order:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"content of {rel}\n")
            os.utime(path, (1_000_000 + len(rel) * 7919, 1_000_000 + len(rel) * 7919))
    finally:
        os.umask(old)


def test_pack_is_deterministic_across_umask_order_and_times(tmp_path, capsys):
    files = ["usr/include/a.h", "usr/include/sys/b.h", "usr/lib/libSystem.tbd", "SDKSettings.json"]
    a = tmp_path / "one" / "MacOSX.sdk"
    b = tmp_path / "two" / "MacOSX.sdk"
    _make_tree(a, files, 0o022)
    _make_tree(b, list(reversed(files)), 0o077)
    assert cli_main(["sdk", "pack", str(a), "-o", str(tmp_path / "a.tar"), "--json"]) == 0
    digest = json.loads(capsys.readouterr().out)["sha256"]
    assert cli_main(["sdk", "pack", str(b), "-o", str(tmp_path / "b.tar")]) == 0
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    assert sha256_file(tmp_path / "a.tar") == digest
    with tarfile.open(tmp_path / "a.tar") as tar:
        assert tar.getnames()[0] == "MacOSX.sdk"
        assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" for m in tar)
        # No global header, and per-member PAX records only where ustar cannot
        # hold a name: nothing of the host (atime, ctime, owner names) leaks in.
        assert tar.pax_headers == {}
        assert all(set(m.pax_headers) <= {"path", "linkpath"} for m in tar)
        assert {oct(m.mode) for m in tar} <= {"0o755", "0o644"}


def test_extracted_sdk_packs_back_to_the_pin(sdk_tarball, pin, tmp_path):
    root = sdk.extract(sdk_tarball, pin.sha256, tmp_path / "x") / pin.root
    assert sdk.pack(root, tmp_path / "again.tar") == pin.sha256


def test_pin_file_errors_name_the_key(tmp_path):
    bad = tmp_path / "X.toml"
    bad.write_text(PIN_PATH.read_text().replace('root = "MacOSX.sdk"', 'root = "MacOSX.sdk"\nroott = 1'))
    with pytest.raises(InputError, match="roott: unknown key"):
        sdk.load_pin(bad)
    with pytest.raises(VerificationError, match="pins sha256"):
        sdk.find_pin([REPO / "sdk"], "MacOSX-zig-0.17.1", "00" * 32)
    with pytest.raises(InputError, match="no pin file; looked for .*/elsewhere/NoSuch.toml"):
        sdk.find_pin([tmp_path / "elsewhere", REPO / "sdk"], "NoSuch")


def test_wheel_with_wrong_hash_is_refused(pin, wheel, tmp_path):
    fake = tmp_path / pin.origin.filename
    shutil.copyfile(wheel, fake)
    with open(fake, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(VerificationError, match="wheel refused"):
        sdk.fetch_wheel(pin.origin, tmp_path)


def _fake_pip(wheel: Path, *, interrupt: bool = False, fail: bool = False):
    """Stands in for `pip download`: copies the real wheel into -d, or half
    of it and then dies (an interrupted run), or fails like a network error."""
    def run(cmd, **kwargs):
        dest = Path(cmd[cmd.index("-d") + 1])
        if fail:
            return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version "
                                               "that satisfies the requirement (network down)")
        data = wheel.read_bytes()
        (dest / wheel.name).write_bytes(data[:len(data) // 2] if interrupt else data)
        if interrupt:
            raise KeyboardInterrupt
        return subprocess.CompletedProcess(cmd, 0, "", "")
    return run


def test_interrupted_or_failed_download_leaves_no_wheel_behind(pin, wheel, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setattr(sdk.subprocess, "run", _fake_pip(wheel, interrupt=True))
    with pytest.raises(KeyboardInterrupt):
        sdk.fetch_wheel(pin.origin, cache)
    assert list(cache.iterdir()) == []           # no truncated wheel under its final name
    monkeypatch.setattr(sdk.subprocess, "run", _fake_pip(wheel, fail=True))
    with pytest.raises(InputError, match="cannot download .*network down"):
        sdk.fetch_wheel(pin.origin, cache)
    assert list(cache.iterdir()) == []
    # The next run downloads again and gets the pinned wheel.
    monkeypatch.setattr(sdk.subprocess, "run", _fake_pip(wheel))
    got = sdk.fetch_wheel(pin.origin, cache)
    assert got == cache / pin.origin.filename and sha256_file(got) == pin.origin.sha256
    assert list(cache.iterdir()) == [got]


@pytest.mark.parametrize("old, new, key, problem", [
    # The wheel's name becomes a path in the cache: no folders.
    ('wheel = "ziglang-0.17.1', 'wheel = "../../escaped-ziglang-0.17.1', "origin.wheel",
     "not a wheel file name"),
    # The package and version reach pip's command line: not an option.
    ('package = "ziglang"', 'package = "--index-url=http://example.invalid/"', "origin.package",
     "not a package name"),
    ('platform = "manylinux', 'platform = "-rmanylinux', "origin.platform", "not a platform tag"),
    ('description = "libc', 'description = 5  # "libc', "description",
     "expected a string, got an integer"),
    ('sdk_version = "27.0"', 'sdk_version = 27', "sdk_version", "expected a string, got an integer"),
    ('root = "MacOSX.sdk"', 'root = "..sdk"', "root", "folder name like MacOSX.sdk"),
])
def test_hostile_pin_values_are_refused_naming_the_key(tmp_path, old, new, key, problem):
    text = PIN_PATH.read_text()
    assert old in text
    bad = tmp_path / "X.toml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as err:
        sdk.load_pin(bad)
    assert f"{bad}: {key}: " in str(err.value) and problem in str(err.value)


def test_cli_build_uses_the_cache_doit_uses(pin, wheel, tmp_path, monkeypatch, capsys):
    # `sdk build` finds the wheel where doit keeps it ($REPRODMG_CACHE), not
    # in a second build/cache under the current folder (no second download).
    monkeypatch.setenv("REPRODMG_CACHE", str(wheel.parent))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sdk.subprocess, "run", _fake_pip(wheel, fail=True))
    assert cli_main(["sdk", "build", "--pin", str(PIN_PATH), "-o", "out.tar", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["matches_pin"] is True
    assert not (tmp_path / "build").exists()
