"""A command-line tool's embedded Info.plist (``-sectcreate __TEXT
__info_plist``): outside a bundle, codesign seals the section's bytes in
the Info.plist slot (-1) and takes its CFBundleIdentifier as the default
identifier (Security's MachORep::infoPlist / explicitIdentifier; rcodesign
does the same).

Oracles: llvm-objcopy dumps the section; the CodeDirectory is read here
with struct, independently of pipeline.codesign.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys

from helpers import require_tool
from macho_builder import LIPO, otool_load_commands
from pipeline.codesign.sign import sign_app
from pipeline.codesign.verify import verify_path

PLIST = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
\t<key>CFBundleIdentifier</key>
\t<string>org.example.embedded-tool</string>
\t<key>NSCameraUsageDescription</key>
\t<string>Takes pictures.</string>
</dict>
</plist>
"""


def _tool(builder, tmp_path, arch: str = "x86_64"):
    plist = tmp_path / "Info.plist"
    plist.write_bytes(PLIST)
    return builder.link(arch, f"ipl-{arch}/tool", "-sectcreate", "__TEXT", "__info_plist",
                        str(plist))


def _section(path, arch: str | None = None) -> bytes:
    out = path.with_name(path.name + ".sect")
    args = [require_tool("llvm-objcopy-19"), f"--dump-section=__TEXT,__info_plist={out}",
            str(path), "/dev/null"]
    subprocess.run(args, check=True)
    return out.read_bytes()


def _code_directory(path) -> tuple[str, bytes, bytes]:
    """(identifier, slot -1 hash or b"", hash of nothing) of a thin file's
    primary CodeDirectory, read with struct (big-endian blobs)."""
    data = path.read_bytes()
    sig = next(c for c in otool_load_commands(path) if c.get("cmd") == "LC_CODE_SIGNATURE")
    base = int(sig["dataoff"])
    magic, _length, count = struct.unpack_from(">III", data, base)
    assert magic == 0xFADE0CC0
    entries = [struct.unpack_from(">II", data, base + 12 + 8 * i) for i in range(count)]
    cd = base + dict(entries)[0]
    hash_offset, ident_offset, n_special = struct.unpack_from(">III", data, cd + 16)
    hash_size = data[cd + 36]
    ident = data[cd + ident_offset:data.index(b"\0", cd + ident_offset)].decode()
    slot = data[cd + hash_offset - hash_size:cd + hash_offset] if n_special >= 1 else b""
    return ident, slot, bytes(hash_size)


def test_a_signed_tool_seals_its_embedded_info_plist(builder, tmp_path):
    tool = _tool(builder, tmp_path)
    section = _section(tool)
    assert section == PLIST
    sign_app(tool, None, None)                   # ad hoc, default identifier
    ident, slot, _zero = _code_directory(tool)
    assert ident == "org.example.embedded-tool"
    assert slot == hashlib.sha256(section).digest()
    report = verify_path(tool)
    assert report.ok, report


def test_a_universal_tool_seals_each_slice(builder, tmp_path):
    thin = [_tool(builder, tmp_path, arch) for arch in ("x86_64", "arm64")]
    uni = tmp_path / "uni" / "tool"
    uni.parent.mkdir()
    subprocess.run([require_tool(LIPO), "-create", *map(str, thin), "-output", str(uni)],
                   check=True)
    sign_app(uni, None, None, identifier="org.example.given")
    report = verify_path(uni)
    assert report.ok, report
    slices = report.files[0].slices
    assert [s.identifier for s in slices] == ["org.example.given"] * 2
    for arch in ("x86_64", "arm64"):
        out = tmp_path / f"thin-{arch}"
        subprocess.run([require_tool(LIPO), str(uni), "-thin", arch, "-output", str(out)],
                       check=True)
        _ident, slot, _zero = _code_directory(out)
        assert slot == hashlib.sha256(PLIST).digest(), arch


def test_a_changed_embedded_info_plist_fails_verification_on_its_slot(builder, tmp_path):
    tool = _tool(builder, tmp_path)
    sign_app(tool, None, None)
    data = tool.read_bytes()
    at = data.index(b"Takes pictures.")
    tool.write_bytes(data[:at] + b"Takes pictureS." + data[at + 15:])
    proc = subprocess.run([sys.executable, "-m", "pipeline", "sig", "verify", str(tool)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "special slot -1 (Info.plist) hash mismatch" in proc.stderr


def test_a_linker_signed_tool_with_an_unsealed_info_plist_verifies(builder, tmp_path):
    """lld's linker signature has no special slots: the embedded Info.plist
    is not sealed, and that is not a failure (codesign checks the slot only
    once something has loaded the Info.plist)."""
    tool = _tool(builder, tmp_path, "arm64")          # lld signs arm64 output itself
    _ident, slot, _zero = _code_directory(tool)
    assert slot == b""
    report = verify_path(tool)
    assert report.ok, report
    assert report.files[0].slices[0].kind == "linker-signed"


def test_an_embedded_info_plist_past_the_slice_is_named(builder, tmp_path):
    tool = _tool(builder, tmp_path)
    sign_app(tool, None, None)
    data = bytearray(tool.read_bytes())
    header = data.index(b"__info_plist\0\0\0\0__TEXT")
    struct.pack_into("<I", data, header + 48, 0xFFFFFF00)          # section_64.offset
    tool.write_bytes(data)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "sig", "verify", str(tool)],
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "section __TEXT,__info_plist.offset" in proc.stderr
    assert "Traceback" not in proc.stderr
