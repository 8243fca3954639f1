"""A universal executable signed by Apple's codesign in 2014
(tests/data/ios-helloworld, MIT): armv7, armv7s and arm64 slices, SHA-1
CodeDirectories 0x20200, an "iPhone Developer" CMS signature.

Oracles: the sample itself (made by codesign), and ``openssl cms -verify``
over each slice's CodeDirectory and CMS blob, both cut out here with
struct.  The app bundle around the executable is not in the sample, so its
Info.plist and CodeResources slots are the only failures expected.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest

from helpers import REPO, require_tool

SAMPLE = REPO / "tests" / "data" / "ios-helloworld" / "MachO-iOS-armv7-armv7s-arm64-Helloworld"
ARCHS = ["armv7", "armv7s", "arm64"]
MISSING_BUNDLE = ["CodeDirectory: special slot -1 (Info.plist) is sealed but there is no "
                  "Info.plist to check",
                  "CodeDirectory: special slot -3 (CodeResources) is sealed but there is no "
                  "CodeResources to check"]
LC_CODE_SIGNATURE = 0x1D


def _verify(path) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "sig", "verify", "--json", str(path)],
                          capture_output=True, text=True)
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _slices(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of each fat_arch, big-endian, read here."""
    magic, count = struct.unpack_from(">II", data, 0)
    assert magic == 0xCAFEBABE
    return [struct.unpack_from(">iiIII", data, 8 + 20 * i)[2:4] for i in range(count)]


def _signature_blobs(data: bytes, offset: int) -> dict[int, bytes]:
    """{slot type: blob bytes} of the SuperBlob a slice's LC_CODE_SIGNATURE points at."""
    magic, _cpu, _sub, _ft, ncmds, _size, _flags = struct.unpack_from("<IiiIIII", data, offset)
    pos = offset + (32 if magic == 0xFEEDFACF else 28)
    for _ in range(ncmds):
        cmd, cmdsize = struct.unpack_from("<II", data, pos)
        if cmd == LC_CODE_SIGNATURE:
            dataoff, _datasize = struct.unpack_from("<II", data, pos + 8)
            base = offset + dataoff
            _m, _l, count = struct.unpack_from(">III", data, base)
            out = {}
            for i in range(count):
                kind, at = struct.unpack_from(">II", data, base + 12 + 8 * i)
                length = struct.unpack_from(">I", data, base + at + 4)[0]
                out[kind] = data[base + at:base + at + length]
            return out
        pos += cmdsize
    raise AssertionError("no LC_CODE_SIGNATURE")


def test_every_slice_verifies_but_for_the_missing_bundle():
    code, report = _verify(SAMPLE)
    assert code == 1                          # the Info.plist and CodeResources are not here
    slices = report["files"][0]["slices"]
    assert [s["arch"] for s in slices] == ARCHS
    for s in slices:
        assert s["kind"] == "cms" and s["hash_type"] == "sha1" and s["cd_version"] == "0x20200"
        assert s["identifier"] == "com.alephvoid.dv-test08"
        assert s["team_id"] == "Q75J9U4VW4"
        assert "iPhone Developer: Nicholas Starke" in s["signer"]
        assert s["signing_time"] == "2014-06-10T22:16:19+00:00"
        assert s["failures"] == MISSING_BUNDLE, s["arch"]


@pytest.mark.parametrize("index", range(3))
def test_openssl_accepts_each_cms_over_its_code_directory(tmp_path, index):
    data = SAMPLE.read_bytes()
    offset, _size = _slices(data)[index]
    blobs = _signature_blobs(data, offset)
    (tmp_path / "cd").write_bytes(blobs[0])
    (tmp_path / "cms.der").write_bytes(blobs[0x10000][8:])
    proc = subprocess.run([require_tool("openssl"), "cms", "-verify", "-noverify", "-binary",
                           "-inform", "DER", "-in", str(tmp_path / "cms.der"),
                           "-content", str(tmp_path / "cd"), "-out", "/dev/null"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_changed_code_byte_is_named_on_its_slice_and_page(tmp_path):
    data = bytearray(SAMPLE.read_bytes())
    offset, _size = _slices(bytes(data))[2]               # arm64
    data[offset + 3 * 4096 + 17] ^= 0x01
    changed = tmp_path / "changed"
    changed.write_bytes(data)
    code, report = _verify(changed)
    assert code == 1
    failures = {s["arch"]: s["failures"] for s in report["files"][0]["slices"]}
    assert failures["armv7"] == failures["armv7s"] == MISSING_BUNDLE
    assert failures["arm64"] == ["CodeDirectory: code page 3 (offset 0x3000) hash mismatch",
                                 *MISSING_BUNDLE]


def test_a_changed_code_directory_fails_its_cms(tmp_path):
    data = bytearray(SAMPLE.read_bytes())
    offset, _size = _slices(bytes(data))[0]
    at = data.index(b"com.alephvoid.dv-test08", offset)
    data[at] = ord("C")
    changed = tmp_path / "changed"
    changed.write_bytes(data)
    code, report = _verify(changed)
    armv7 = report["files"][0]["slices"][0]
    assert code == 1 and armv7["identifier"] == "Com.alephvoid.dv-test08"
    assert armv7["failures"] == [*MISSING_BUNDLE,
                                 "messageDigest does not match the CodeDirectory (slot 0)"]
