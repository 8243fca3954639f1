"""Test helpers that make Apple-style downloads: a fake Xcode.app tree, cpio
payloads (GNU cpio writes them: an independent writer), pbzx streams and
xar archives (pipeline.pkg.writer, our own small writers, so that tests can
corrupt any field; bsdtar writes xar too, for the readers' independent
check)."""

from __future__ import annotations

import os
import plistlib
import subprocess
from pathlib import Path
from typing import Iterable, Iterator

from helpers import require_tool
from pipeline.pkg.writer import pbzx_chunks, write_xar

XCODE_SDKS = "Contents/Developer/Platforms/MacOSX.platform/Developer/SDKs"
XCODE_LIBCXX = "Contents/Developer/Toolchains/XcodeDefault.xctoolchain/usr/include/c++/v1"
CLT_SDKS = "Library/Developer/CommandLineTools/SDKs"


def _write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)


def fake_sdk(sdk: Path, *, version: str = "14.0", libcxx: bool = False) -> None:
    """A small MacOSX.sdk with what gen-sdk.py's rules touch: three parts,
    left-out .modulemap/.swiftmodule names, links, a hard link, an
    executable, files outside the parts."""
    _write(sdk / "usr/include/stdio.h", "int printf(const char *, ...);\n")
    _write(sdk / "usr/include/sys/types.h", "typedef long ssize_t;\n")
    _write(sdk / "usr/include/module.modulemap", "module Darwin {}\n")
    _write(sdk / "usr/include/zz_a.h", "#define SHARED 1\n")
    os.link(sdk / "usr/include/zz_a.h", sdk / "usr/include/aa_b.h")      # b sorts first
    _write(sdk / "usr/lib/libSystem.tbd", "--- !tapi-tbd\ninstall-name: /usr/lib/libSystem.B.dylib\n")
    os.symlink("libSystem.tbd", sdk / "usr/lib/libc.tbd")
    _write(sdk / "usr/lib/swift/Foo.swiftmodule/arm64.swiftinterface", "// swift\n")
    _write(sdk / "usr/lib/helper.sh", "#!/bin/sh\n", 0o755)
    _write(sdk / "usr/share/man/man1/x.1", "manual\n")
    fw = sdk / "System/Library/Frameworks/Foo.framework"
    _write(fw / "Versions/A/Headers/Foo.h", "void foo(void);\n")
    _write(fw / "Versions/A/Foo.tbd", "--- !tapi-tbd\ninstall-name: Foo\n")
    os.symlink("A", fw / "Versions/Current")
    os.symlink("Versions/Current/Headers", fw / "Headers")
    os.symlink("Versions/Current/Foo.tbd", fw / "Foo.tbd")
    _write(sdk / "System/Library/CoreServices/SystemVersion.plist", plistlib.dumps(
        {"ProductVersion": version, "ProductBuildVersion": "23A334", "ProductName": "macOS"}))
    _write(sdk / "SDKSettings.json", '{"Version": "%s"}\n' % version)
    if libcxx:
        _write(sdk / "usr/include/c++/v1/vector", "// the SDK's own <vector>\n")


def fake_xcode(root: Path, *, version: str = "15.0", build: str = "15A240d",
               libcxx_in_sdk: bool = False, app: str = "Xcode.app") -> Path:
    xcode = root / app
    _write(xcode / "Contents/version.plist", plistlib.dumps(
        {"CFBundleShortVersionString": version, "ProductBuildVersion": build}))
    _write(xcode / "Contents/MacOS/Xcode", b"\xcf\xfa\xed\xfe" + b"\0" * 5000, 0o755)
    sdks = xcode / XCODE_SDKS
    fake_sdk(sdks / "MacOSX.sdk", libcxx=libcxx_in_sdk)
    os.symlink("MacOSX.sdk", sdks / "MacOSX14.0.sdk")
    cxx = xcode / XCODE_LIBCXX
    _write(cxx / "vector", "// toolchain <vector>\n")
    _write(cxx / "__config", "#define _LIBCPP_VERSION 170006\n")
    _write(cxx / "experimental/memory", "// experimental\n")
    return xcode


def cpio_of(root: Path, names_under: str, fmt: str = "odc") -> bytes:
    """GNU cpio's archive of ``./<names_under>`` and everything below, as
    Apple's payloads name them ("./Xcode.app/...")."""
    cpio = require_tool("cpio")
    names = sorted(["./" + p.relative_to(root).as_posix()
                    for p in [root / names_under, *(root / names_under).rglob("*")]])
    proc = subprocess.run([cpio, "-o", "--quiet", "-H", fmt], cwd=root, check=True,
                          input="\n".join(names).encode() + b"\n", capture_output=True)
    return proc.stdout


def pbzx(chunks: Iterable[bytes], chunk_size: int = 1 << 24) -> Iterator[bytes]:
    return pbzx_chunks(chunks, chunk_size)


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def xar(members: list[tuple[str, bytes | Path]], out: Path, *, checksum: str = "sha1") -> Path:
    return write_xar(members, out, checksum=checksum)


def xip(xcode_parent: Path, out: Path, *, app: str = "Xcode.app", fmt: str = "odc",
        chunk_size: int = 4096) -> Path:
    """An Xcode .xip of ``xcode_parent/<app>``: cpio -> pbzx -> xar member Content."""
    payload = cpio_of(xcode_parent, app, fmt)
    content = b"".join(pbzx(split(payload, chunk_size), chunk_size))
    return xar([("Content", content), ("Metadata", plistlib.dumps({"Version": 1}))], out)
