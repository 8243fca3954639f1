"""Benchmark: author an HFS+ volume from a generated tree, next to `cp -r`.

    python -m pipeline.bench hfs [--size-mb 250] [--workdir DIR] [--rounds 2]

Generates a tree of about SIZE MB (many small files, some medium, a few
large ones, like an application bundle plus resources), then measures in
the same run, alternating, `cp -r TREE COPY` and `reprodmg hfs create`'s
library path (build_volume + write_to into a file).  Prints the best time of
each, MB/s of tree content, and the ratio (target: HFS+ within 1.5x of cp).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ..hfs.writer import build_volume


def generate_tree(root: Path, size_mb: int, seed: int = 7) -> tuple[int, int]:
    """Write a deterministic tree of about ``size_mb`` MB; returns (files, bytes)."""
    rng = random.Random(seed)
    target = size_mb * 1_000_000
    total = files = 0
    block = rng.randbytes(1 << 20)
    i = 0
    while total < target:
        folder = root / f"Contents{i % 7}" / f"Resources{(i // 7) % 40:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = i % 100
        if kind < 90:
            size = rng.randrange(0, 16 * 1024)          # small files
        elif kind < 99:
            size = rng.randrange(64 * 1024, 1 << 20)    # medium
        else:
            size = rng.randrange(8 << 20, 24 << 20)     # large
        size = min(size, target - total) if target - total > 0 else 0
        with open(folder / f"file{i:06d}.bin", "wb") as fh:
            left = size
            off = i * 4099 % len(block)
            while left > 0:
                piece = block[off:off + left]
                fh.write(piece)
                left -= len(piece)
                off = 0
        total += size
        files += 1
        i += 1
    return files, total


def _time_cp(src: Path, dst: Path) -> float:
    if dst.exists():
        shutil.rmtree(dst)
    t0 = time.perf_counter()
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)
    subprocess.run(["sync", "-f", str(dst)], check=False)
    return time.perf_counter() - t0


def _time_hfs(src: Path, out: Path) -> tuple[float, int]:
    if out.exists():
        out.unlink()
    t0 = time.perf_counter()
    vol = build_volume(src, volname="Bench", epoch=0)
    with open(out, "wb") as fh:
        vol.write_to(fh)
        fh.flush()
        os.fsync(fh.fileno())
    return time.perf_counter() - t0, vol.size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.bench hfs")
    parser.add_argument("--size-mb", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", help="where to put the tree (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="reprodmg-bench-") as tmp:
        work = Path(tmp)
        src = work / "tree"
        files, content = generate_tree(src, args.size_mb)
        cp_times, hfs_times = [], []
        size = 0
        for _ in range(args.rounds):
            cp_times.append(_time_cp(src, work / "copy"))
            t, size = _time_hfs(src, work / "vol.hfs")
            hfs_times.append(t)
        cp_best, hfs_best = min(cp_times), min(hfs_times)
        mb = content / 1e6
        result = {"files": files, "content_mb": round(mb, 1), "volume_bytes": size,
                  "cp_seconds": round(cp_best, 3), "cp_mb_s": round(mb / cp_best, 1),
                  "hfs_seconds": round(hfs_best, 3), "hfs_mb_s": round(mb / hfs_best, 1),
                  "ratio_hfs_over_cp": round(hfs_best / cp_best, 2), "rounds": args.rounds}
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(f"tree: {files} files, {mb:.1f} MB")
        print(f"cp -r            : {cp_best:7.3f} s  {mb / cp_best:8.1f} MB/s")
        print(f"hfs create (ours): {hfs_best:7.3f} s  {mb / hfs_best:8.1f} MB/s")
        print(f"ratio hfs/cp     : {hfs_best / cp_best:.2f} (target <= 1.5)")
    return 0
