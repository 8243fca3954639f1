"""Signing, detaching, re-attaching and verifying stream the binary: peak
memory does not grow with its size (issue 18: a 258 MiB binary used to be
held several times, 573-579 MB RSS).

Each command runs in a child process whose own peak RSS is read with
wait4; a universal binary with 2 x 96 MiB of section data is compared with
the same app around a binary of a few KiB.
"""

from __future__ import annotations

import filecmp
import os
import plistlib
import sys
from pathlib import Path

from pipeline.bench.sdk import measure_command


BIG_SECTION = 96 << 20
LIMIT = 150 << 20          # the bound for any binary size
GROWTH = 40 << 20          # big app minus tiny app


def _app(root: Path, exe: Path) -> Path:
    app = root / "Big.app"
    (app / "Contents/MacOS").mkdir(parents=True)
    with open(exe, "rb") as src, open(app / "Contents/MacOS/Big", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    os.chmod(app / "Contents/MacOS/Big", 0o755)
    (app / "Contents/Info.plist").write_bytes(plistlib.dumps(
        {"CFBundleExecutable": "Big", "CFBundleIdentifier": "org.example.big"}))
    return app


def _universal(builder, name: str, section: int) -> Path:
    blob = builder.root / f"{name}.blob"
    with open(blob, "wb") as fh:               # sparse: cheap to make, not to sign
        fh.write(bytes(range(256)) * 16)
        fh.truncate(section)
    slices = [builder.link(arch, f"{name}-{arch}", "-sectcreate", "__TEXT", "__blob", str(blob))
              for arch in ("x86_64", "arm64")]
    return builder.lipo(name, *slices)


def _peak_rss(*args: str) -> int:
    # As the grandchild of a small process (see measure_command): this test
    # process may hold hundreds of MB from earlier tests, which Linux would
    # count in a direct child's peak RSS.
    status, _seconds, rss_kb, _out = measure_command([sys.executable, "-m", "pipeline", *args])
    assert status == 0, args
    return rss_kb * 1024


def _measure(builder, root: Path, section: int) -> dict[str, int]:
    root.mkdir()
    exe = _universal(builder, root.name, section)
    unsigned = _app(root / "unsigned", exe)
    signed = _app(root / "signed", exe)
    rss = {"sign": _peak_rss("sig", "sign", "--adhoc", str(signed)),
           "verify": _peak_rss("sig", "verify", str(signed)),
           "detach": _peak_rss("sig", "detach", str(signed), "-o", str(root / "sig.tar"))}
    out = root / "applied.app"
    rss["apply"] = _peak_rss("sig", "apply", str(unsigned), str(root / "sig.tar"), "-o", str(out))
    # The recombined binary is the signed one, byte for byte.
    assert filecmp.cmp(out / "Contents/MacOS/Big", signed / "Contents/MacOS/Big", shallow=False)
    assert (signed / "Contents/MacOS/Big").stat().st_size > 2 * section
    return rss


def test_signing_memory_does_not_grow_with_the_binary(builder, tmp_path):
    tiny = _measure(builder, tmp_path / "tiny", 4096)
    big = _measure(builder, tmp_path / "big", BIG_SECTION)
    for step in ("sign", "verify", "detach", "apply"):
        assert big[step] < LIMIT, (step, big[step] >> 20)
        assert big[step] - tiny[step] < GROWTH, (step, tiny[step] >> 20, big[step] >> 20)
