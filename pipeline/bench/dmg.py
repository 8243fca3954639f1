"""Benchmark: `dmg create` of a realistic ~250 MB tree to UDZO.

Prints, from one run on this machine:
- end-to-end wall time and peak RSS of `reprodmg dmg create` (a separate
  process, measured with wait4), and of `dmg convert` from the raw volume
  (the UDIF writer alone);
- the one-core compression floor: the same codec (libdeflate, same level)
  compressing the raw volume in 1 MiB chunks on one core, both for every
  chunk of the volume and for exactly the chunks the writer compresses
  (zero and free regions excluded);
- `gzip -9` of the raw volume, for scale.
Targets (issue 3): end-to-end <= 0.6 x the one-core floor using all cores;
peak RSS < 300 MB for a 1 GiB volume (`--volume-size 1G`).

    python -m pipeline.bench dmg [--size-mb 250] [--volume-size 1G] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def make_tree(root: Path, total_mb: int, seed: int = 250) -> int:
    """A seeded tree shaped like an app bundle: text (sources, plists,
    localisations), semi-compressible binaries, incompressible media, many
    small files and a few large ones."""
    rng = random.Random(seed)
    vocab = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randrange(2, 10)))
             for _ in range(3000)]
    text = b" ".join(rng.choice(vocab) + (b"\n" if rng.random() < 0.1 else b"")
                     for _ in range(250000))
    skew = bytes(rng.choice(b"\x00\x00\x00\x00\x01\x02\x08\x10\x48\x89\xe5\xff\xc3\x0f\x1f\x44")
                 for _ in range(256))
    budget = total_mb << 20
    written = 0
    n = 0
    while written < budget:
        kind = rng.random()
        if rng.random() < 0.97:
            size = rng.randrange(512, 96 << 10)
        else:
            size = rng.randrange(1 << 20, 12 << 20)
        size = min(size, budget - written) or 1
        folder = root / "App.app" / "Contents" / ("Resources" if kind < 0.7 else "MacOS") / \
            f"d{n % 37:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        if kind < 0.4:
            start = rng.randrange(len(text))
            data = (text * (size // len(text) + 2))[start:start + size]
            name = f"f{n:05d}.txt"
        elif kind < 0.7:
            data = rng.randbytes(size).translate(skew)
            name = f"f{n:05d}.bin"
        else:
            data = rng.randbytes(size)
            name = f"f{n:05d}.png"
        (folder / name).write_bytes(data)
        written += size
        n += 1
    return n


def run_measured(cmd: list[str], cwd: Path) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (bytes) and CPU seconds of one child process.

    CPU time is reported too because wall time on a shared machine depends
    on the other load; CPU time shows the work done.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO), "REPRODMG_PROGRESS": "0"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{err}")
    return wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def floors(raw: Path, level: int, codec: str = "zlib", all_chunks: bool = True) -> dict:
    """One-core compression floors of a raw volume with the codec as the
    writer runs it: every 1 MiB chunk, and exactly the writer's data chunks
    (zero and free regions excluded)."""
    from .. import codecs
    from ..hfs.freespace import free_byte_ranges
    from ..imagesource import FileImageSource
    from ..udif.writer import plan_chunks

    compress = codecs.compressor(codec, level)
    step = 1 << 20
    t0, c0 = time.perf_counter(), time.process_time()
    with open(raw, "rb") as fh:
        while all_chunks:
            chunk = fh.read(step)
            if not chunk:
                break
            compress(chunk)
    all_chunks_s = time.perf_counter() - t0
    all_cpu = time.process_time() - c0
    with FileImageSource(raw) as src:
        free = free_byte_ranges(src, raw.name) or []
        data = [d for _, _, _, d in plan_chunks(src, src.size // 512, free) if d is not None]
    t0 = time.perf_counter()
    for d in data:
        compress(d)
    same = time.perf_counter() - t0
    return {"floor_all_chunks_s": all_chunks_s, "floor_writer_chunks_s": same,
            "floor_all_chunks_cpu_s": all_cpu,
            "writer_data_chunks": len(data)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.bench dmg")
    ap.add_argument("--size-mb", type=int, default=250, help="tree size (MiB)")
    ap.add_argument("--volume-size", default=None, help="fixed volume size, e.g. 1G")
    ap.add_argument("--level", type=int, default=1)
    ap.add_argument("--workdir", default=None, help="keep files here (default: a temp dir)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="reprodmg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        tree = work / "tree"
        if not tree.exists():
            files = make_tree(tree, args.size_mb)
        else:
            files = sum(1 for p in tree.rglob("*") if p.is_file())
        size_opt = ["--size", args.volume_size] if args.volume_size else []
        py = sys.executable
        load_before = os.getloadavg()[0]
        create_s, create_rss, create_cpu = run_measured(
            [py, "-m", "pipeline", "dmg", "create", str(tree), "-o", str(work / "create.dmg"),
             "--format", "UDZO", "--level", str(args.level), "--volname", "Bench", *size_opt],
            work)
        # The raw volume, for the floors and the writer-only run.
        from ..hfs.writer import build_volume
        from ..cli.volume import parse_size
        vol = build_volume(str(tree), volname="Bench", epoch=0,
                           size=parse_size(args.volume_size) if args.volume_size else None)
        raw = work / "volume.hfs"
        with open(raw, "wb") as fh:
            vol.write_to(fh)
        convert_s, convert_rss, convert_cpu = run_measured(
            [py, "-m", "pipeline", "dmg", "convert", str(raw), "-o", str(work / "conv.dmg"),
             "--format", "UDZO", "--level", str(args.level)], work)
        fl = floors(raw, args.level)
        t0 = time.perf_counter()
        with open(raw, "rb") as src, open(os.devnull, "wb") as null:
            subprocess.run(["gzip", "-9", "-c"], stdin=src, stdout=null, check=True)
        gzip_s = time.perf_counter() - t0
        result = {
            "cores": len(os.sched_getaffinity(0)),
            "load_average_before": round(load_before, 2),
            "tree_files": files, "tree_mib": args.size_mb,
            "volume_bytes": raw.stat().st_size,
            "dmg_bytes": (work / "create.dmg").stat().st_size,
            "create_wall_s": round(create_s, 2), "create_peak_rss_mb": round(create_rss / 2**20, 1),
            "create_cpu_s": round(create_cpu, 2),
            "convert_wall_s": round(convert_s, 2),
            "convert_cpu_s": round(convert_cpu, 2),
            "convert_peak_rss_mb": round(convert_rss / 2**20, 1),
            "floor_all_chunks_one_core_s": round(fl["floor_all_chunks_s"], 2),
            "floor_all_chunks_one_core_cpu_s": round(fl["floor_all_chunks_cpu_s"], 2),
            "floor_writer_chunks_one_core_s": round(fl["floor_writer_chunks_s"], 2),
            "gzip9_s": round(gzip_s, 2),
            "create_vs_floor_all": round(create_s / fl["floor_all_chunks_s"], 3),
            "create_vs_floor_writer_chunks": round(create_s / fl["floor_writer_chunks_s"], 3),
            "convert_vs_floor_all": round(convert_s / fl["floor_all_chunks_s"], 3),
            "convert_vs_floor_writer_chunks": round(convert_s / fl["floor_writer_chunks_s"], 3),
        }
        if args.json:
            print(json.dumps(result, indent=2, sort_keys=True))
        else:
            for k, v in result.items():
                print(f"{k:34s} {v}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0
