"""Benchmark: `sig sign`, `sig verify`, `sig detach` and `sig apply` of an
app around a large universal binary (issue 18: peak RSS under 150 MB for any
binary size).

The binary is linked here (clang-19 and ld64.lld-19, no SDK) with a section
of ``--size-mb`` per slice taken from a seeded file (``-sectcreate``), for
x86_64 and arm64.  Baselines in the same run: the same four commands on the
same app around a binary of a few KiB (what memory does not depend on the
binary), and `cp` of the big binary (the cost of reading and writing it
once).  Each command is its own process, measured with wait4.

    python -m pipeline.bench sig [--size-mb 129] [--json]
"""

from __future__ import annotations

import argparse
import json
import plistlib
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .dmg import run_measured

RSS_TARGET = 150 << 20
SOURCE = "int value = 42;\nvoid start(void) { volatile int r = value; (void)r; for (;;) {} }\n"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"this benchmark needs {name} (the project's toolchain)")
    return found


def make_app(root: Path, section_bytes: int, seed: int = 18) -> Path:
    """An app whose executable is universal with ``section_bytes`` of seeded
    data per slice (1 MiB of noise in every 16, zeros between, like code and
    padding)."""
    root.mkdir(parents=True)
    blob = root / "section.bin"
    rng = random.Random(seed)
    with open(blob, "wb") as fh:
        left, i = section_bytes, 0
        while left > 0:
            n = min(left, 1 << 20)
            fh.write(rng.randbytes(n) if i % 16 == 0 else bytes(n))
            left, i = left - n, i + 1
    (root / "t.c").write_text(SOURCE)
    slices = []
    for arch in ("x86_64", "arm64"):
        obj, out = root / f"t-{arch}.o", root / f"exe-{arch}"
        subprocess.run([_tool("clang-19"), "-target", f"{arch}-apple-macos11", "-O1", "-c",
                        str(root / "t.c"), "-o", str(obj)], check=True)
        subprocess.run([_tool("ld64.lld-19"), "-arch", arch, "-platform_version", "macos",
                        "11.0", "11.0", "-e", "_start", "-o", str(out), str(obj),
                        "-sectcreate", "__TEXT", "__blob", str(blob)], check=True)
        slices.append(str(out))
    app = root / "unsigned" / "Big.app"
    (app / "Contents/MacOS").mkdir(parents=True)
    subprocess.run([_tool("llvm-lipo-19"), "-create", *slices, "-output",
                    str(app / "Contents/MacOS/Big")], check=True)
    (app / "Contents/Info.plist").write_bytes(plistlib.dumps(
        {"CFBundleExecutable": "Big", "CFBundleIdentifier": "org.example.big"}))
    for path in [blob, *map(Path, slices)]:
        path.unlink()
    return app


def measure(app: Path, work: Path) -> dict[str, dict[str, float]]:
    signed = work / "signed" / app.name
    shutil.copytree(app, signed)
    py = [sys.executable, "-m", "pipeline", "sig"]
    steps = {"sign": py + ["sign", "--adhoc", str(signed)],
             "verify": py + ["verify", str(signed)],
             "detach": py + ["detach", str(signed), "-o", str(work / "sig.tar")],
             "apply": py + ["apply", str(app), str(work / "sig.tar"), "-o",
                            str(work / "applied" / app.name)]}
    out = {}
    for name, cmd in steps.items():
        wall, rss, cpu = run_measured(cmd, work)
        out[name] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rss_mb": round(rss / 2**20, 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.bench sig")
    ap.add_argument("--size-mb", type=int, default=129, help="section size per slice (MiB)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reprodmg-bench-sig-") as tmp:
        work = Path(tmp)
        big = make_app(work / "big", args.size_mb << 20)
        tiny = make_app(work / "tiny", 4096)
        binary = big / "Contents/MacOS/Big"
        size = binary.stat().st_size
        cp_wall, _rss, _cpu = run_measured(["cp", str(binary), str(work / "copy")], work)
        rows = {"big": measure(big, work / "big"), "tiny": measure(tiny, work / "tiny")}
    result = {"binary_mb": round(size / 2**20, 1), "cp_s": round(cp_wall, 2),
              "rss_target_mb": RSS_TARGET >> 20, **rows,
              "met": all(r["rss_mb"] * 2**20 < RSS_TARGET for r in rows["big"].values())}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"universal binary of {result['binary_mb']} MiB (cp: {result['cp_s']} s); "
          f"target: peak RSS < {RSS_TARGET >> 20} MB")
    print(f"{'step':8} {'big wall':>9} {'big RSS':>9} {'tiny RSS':>9}")
    for step, r in rows["big"].items():
        print(f"{step:8} {r['wall_s']:8.2f}s {r['rss_mb']:7.1f}MB {rows['tiny'][step]['rss_mb']:7.1f}MB")
    print("target met" if result["met"] else "target MISSED")
    return 0
