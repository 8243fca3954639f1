"""Benchmark: `reprodmg sdk extract` on a synthetic multi-GB Xcode .xip,
next to the bare decoding of the same pbzx stream.

    python -m pipeline.bench sdk [--size-gb 3] [--workdir DIR] [--json]

The .xip is generated on the fly and stays small on disk: an Xcode.app with
a tiny MacOSX.sdk and one large file of zeros (what most of a real Xcode is
to this command: bytes that only pass through), in 16 MiB pbzx chunks.
Measured, each in its own child process so that its peak memory is its
own (``wait4``): the command, and a baseline that only decodes the pbzx
stream (xar member read + xz) and discards it.  Prints MB/s of payload,
peak RSS of each and the ratio of times.
"""

from __future__ import annotations

import argparse
import json
import os
import plistlib
import subprocess
import sys
import tempfile
from pathlib import Path

from ..pkg.writer import odc_header, odc_trailer, pbzx_chunks, write_xar

CHUNK = 1 << 24
SDK = "Xcode.app/Contents/Developer/Platforms/MacOSX.platform/Developer/SDKs/MacOSX.sdk"


def _file(name: str, data: bytes, mode: int = 0o100644) -> bytes:
    return odc_header(name, mode=mode, size=len(data)) + data


def _folder(name: str) -> bytes:
    return odc_header(name, mode=0o40755, size=0)


def synthetic_xip(out: str | os.PathLike, payload_bytes: int) -> int:
    """Write an Xcode .xip whose cpio payload is about ``payload_bytes``
    long; returns the payload's exact length."""
    head = b"".join([
        _folder("./Xcode.app"), _folder("./Xcode.app/Contents"),
        _file("./Xcode.app/Contents/version.plist", plistlib.dumps(
            {"CFBundleShortVersionString": "99.0", "ProductBuildVersion": "99A1"})),
        _file(f"./{SDK}/usr/include/stdio.h", b"int printf(const char *, ...);\n"),
        _file(f"./{SDK}/usr/lib/libSystem.tbd", b"--- !tapi-tbd\n"),
        _file(f"./{SDK}/System/Library/Frameworks/Kernel.framework/Headers/k.h", b"\n"),
        _file(f"./{SDK}/System/Library/CoreServices/SystemVersion.plist",
              plistlib.dumps({"ProductVersion": "99.0", "ProductBuildVersion": "99A1"})),
    ])
    big = max(0, payload_bytes - len(head))
    big_header = odc_header("./Xcode.app/Contents/Resources/Payload.bin", mode=0o100644,
                            size=big)
    tail = odc_trailer()
    # Every full chunk of zeros packs to the same bytes: pack it once.
    [_magic, full_zero] = list(pbzx_chunks([bytes(CHUNK)], CHUNK))
    with tempfile.TemporaryDirectory(dir=Path(out).parent) as tmp:
        content = Path(tmp) / "Content"
        with open(content, "wb") as f:
            f.write(b"".join(pbzx_chunks([head + big_header], CHUNK)))
            left = big
            while left >= CHUNK:
                f.write(full_zero)
                left -= CHUNK
            for piece in list(pbzx_chunks([bytes(left), tail], CHUNK))[1:]:
                f.write(piece)
        write_xar([("Content", content), ("Metadata", plistlib.dumps({}))], out)
    return len(head) + len(big_header) + big + len(tail)


# The measured command runs as the grandchild of a small Python process: a
# child forked straight from a big process (pytest, say) starts with that
# process's pages counted in its peak RSS (Linux keeps the high-water mark
# across exec), which would measure the caller, not the command.
_MEASURE = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
out = proc.stdout.read()
_pid, status, usage = os.wait4(proc.pid, 0)
# One binary stream, status line first (text and binary layers flush apart).
sys.stdout.buffer.write(b"%d %d %.6f\\n" % (os.waitstatus_to_exitcode(status), usage.ru_maxrss,
                                           time.perf_counter() - start) + out)
sys.stdout.buffer.flush()
"""


def measure_command(cmd: list[str], env: dict[str, str] | None = None) -> tuple[int, float, int, str]:
    """Run ``cmd``; return (exit status, seconds, peak RSS in KB, stdout)."""
    proc = subprocess.run([sys.executable, "-S", "-c", _MEASURE, *cmd], capture_output=True,
                          env=env, check=False)
    first, _, out = proc.stdout.partition(b"\n")
    fields = first.split()
    if len(fields) != 3:
        raise RuntimeError(f"measuring {cmd[:3]}: no status line (stderr: "
                           f"{proc.stderr.decode(errors='replace')[-500:]})")
    status, rss, seconds = fields
    return int(status), float(seconds), int(rss), out.decode()


def _child(code: str, *args: str) -> tuple[float, int, str]:
    """Run ``python -c code args`` and return (seconds, peak RSS in KB, stdout)."""
    status, seconds, rss, out = measure_command(
        [sys.executable, "-c", code, *args], {**os.environ, "REPRODMG_PROGRESS": "0"})
    if status != 0:
        raise SystemExit(f"benchmark child failed ({status}): {code}")
    return seconds, rss, out


DECODE_ONLY = """
import sys
from pipeline.pkg import open_xar, decode_pbzx, ChunkStream
a = open_xar(sys.argv[1])
n = 0
for piece in decode_pbzx(ChunkStream(a.read(a.member("Content"))), sys.argv[1]):
    n += len(piece)
print(n)
"""
EXTRACT = """
import sys
from pipeline.build import sdk_extract
print(sdk_extract.extract(sys.argv[1], sys.argv[2])["sha256"])
"""


def measure(xip: Path, out_dir: Path) -> dict:
    base_s, base_rss, decoded = _child(DECODE_ONLY, str(xip))
    ours_s, ours_rss, _sha = _child(EXTRACT, str(xip), str(out_dir))
    mb = int(decoded) / 1e6
    return {"payload_mb": round(mb), "xip_kb": xip.stat().st_size // 1024,
            "extract_s": round(ours_s, 2), "extract_mb_s": round(mb / ours_s),
            "extract_peak_rss_mb": round(ours_rss / 1024),
            "decode_only_s": round(base_s, 2), "decode_only_mb_s": round(mb / base_s),
            "decode_only_peak_rss_mb": round(base_rss / 1024),
            "ratio": round(ours_s / base_s, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.bench sdk")
    parser.add_argument("--size-gb", type=float, default=3.0)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        xip = Path(tmp) / "Synthetic.xip"
        synthetic_xip(xip, int(args.size_gb * (1 << 30)))
        result = measure(xip, Path(tmp) / "out")
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(f"payload {result['payload_mb']} MB in a {result['xip_kb']} KB .xip")
        print(f"sdk extract: {result['extract_s']} s, {result['extract_mb_s']} MB/s, "
              f"peak RSS {result['extract_peak_rss_mb']} MB")
        print(f"decode only: {result['decode_only_s']} s, {result['decode_only_mb_s']} MB/s, "
              f"peak RSS {result['decode_only_peak_rss_mb']} MB")
        print(f"ratio {result['ratio']}x")
    return 0
