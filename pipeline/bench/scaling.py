"""Benchmark: how `dmg create` scales from one compression worker to two,
codec by codec (issue 18 §3: each codec's 2-worker wall time should be at
most 0.55 x its 1-worker time on 2 cores).

The baseline is the same command with ``--workers 1``, run alternately with
``--workers 2`` in this one invocation (medians of ``--runs``), on the
seeded tree of ``pipeline.bench.dmg``; output bytes are checked identical
for both worker counts.

Beside each ratio, the machine's own ceiling, measured in the same run:
- how compression alone scales: the writer's data chunks of the same
  volume compressed by one thread, then by two (no reading, hashing or
  writing: nothing but the codec);
- the serial start: a process that imports the CLI, walks the tree and
  names every entry (what any layout needs before the first chunk's
  place is known);
- the first chunk: a process that imports the CLI, builds the volume and
  plans chunks until the first data chunk exists (what these bytes need
  before any compression can start: the catalog, and the volume id in
  the volume header, which is a digest of every file's content);
- the best ratio any pipeline could reach here, if everything after the
  serial start scaled as well as compression alone:
  (start + (1-worker time - start) x compression-alone ratio) / 1-worker
  time; and the same from the first chunk (the best any pipeline writing
  these exact bytes could reach).

    python -m pipeline.bench scaling [--size-mb 100 | --tree DIR] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..udif.formats import FORMATS
from .dmg import make_tree, run_measured

CODECS = ("UDZO", "UDBZ", "ULFO", "ULMO")
TARGET = 0.55

# What must happen before any layout is known: start the interpreter, import
# the command line, walk the tree and name every entry.
_SERIAL_START = ("import sys, pipeline.cli.dmg, pipeline.udif.writer\n"
                 "from pipeline.hfs.tree import tree_from_directory\n"
                 "from pipeline.hfs.writer import assign_cnids\n"
                 "assign_cnids(tree_from_directory(sys.argv[1]))\n")
# What these bytes need before the first chunk can be compressed.
_FIRST_CHUNK = ("import sys, pipeline.cli.dmg\n"
                "from pipeline.bench.scaling import first_data_chunk\n"
                "first_data_chunk(sys.argv[1])\n")


def writer_chunks(tree: Path) -> list[bytes]:
    """The data chunks `dmg create` compresses for ``tree`` (zero and free
    runs excluded), in order."""
    from ..hfs.writer import build_volume
    from ..udif.writer import plan_chunks

    vol = build_volume(str(tree), volname=tree.name or "tree")
    return [d for _, _, _, d in plan_chunks(vol, vol.size // 512, vol.free_ranges())
            if d is not None]


def first_data_chunk(tree: str) -> bytes:
    """Build the volume and plan it until its first data chunk exists."""
    from ..hfs.writer import build_volume
    from ..udif.writer import plan_chunks

    vol = build_volume(tree, volname=Path(tree).name or "tree")
    return next(d for _, _, _, d in plan_chunks(vol, vol.size // 512, vol.free_ranges())
                if d is not None)


def _best_ratio(serial: float, one: float, alone: float) -> float:
    """The 1-worker run's work after ``serial`` seconds, spread as well as
    compression alone spreads, over the 1-worker time."""
    return (serial + (one - serial) * alone) / one


def compression_alone(chunks: list[bytes], codec: str, level: int | None,
                      runs: int) -> tuple[float, float]:
    """Median seconds to compress ``chunks`` on one thread and on two."""
    from .. import codecs

    compress = codecs.compressor(codec, level)
    times: dict[int, list[float]] = {1: [], 2: []}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(runs):
            t0 = time.perf_counter()
            for c in chunks:
                compress(c)
            times[1].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for _ in pool.map(compress, chunks):
                pass
            times[2].append(time.perf_counter() - t0)
    return statistics.median(times[1]), statistics.median(times[2])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.bench scaling")
    ap.add_argument("--size-mb", type=int, default=100, help="tree size (MiB)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--codec", action="append", choices=CODECS)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--tree", default=None, help="measure this folder instead of the seeded "
                    "tree (e.g. a copy of Python's library and /usr/share/doc)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="reprodmg-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    tree = Path(args.tree) if args.tree else work / "tree"
    if not tree.exists():
        make_tree(tree, args.size_mb)
    starts = [run_measured([sys.executable, "-c", _SERIAL_START, str(tree)], work)[0]
              for _ in range(args.runs)]
    start = statistics.median(starts)
    first = statistics.median(run_measured([sys.executable, "-c", _FIRST_CHUNK, str(tree)],
                                           work)[0] for _ in range(args.runs))
    chunks = writer_chunks(tree)
    rows = []
    for codec in args.codec or CODECS:
        times: dict[int, list[float]] = {1: [], 2: []}
        digests = set()
        for _ in range(args.runs):
            for workers in (1, 2):
                out = work / f"{codec}-{workers}.dmg"
                wall, _rss, _cpu = run_measured(
                    [sys.executable, "-m", "pipeline", "dmg", "create", str(tree), "-o",
                     str(out), "--format", codec, "--workers", str(workers)], work)
                times[workers].append(wall)
                digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
        one, two = statistics.median(times[1]), statistics.median(times[2])
        fmt = FORMATS[codec]
        alone1, alone2 = compression_alone(chunks, fmt.codec, fmt.default_level, args.runs)
        alone = alone2 / alone1
        rows.append({"codec": codec, "one_worker_s": round(one, 2), "two_workers_s": round(two, 2),
                     "ratio": round(two / one, 3), "target": TARGET, "met": two / one <= TARGET,
                     "identical_output": len(digests) == 1,
                     "compression_alone_s": [round(alone1, 2), round(alone2, 2)],
                     "compression_alone_ratio": round(alone, 3),
                     "serial_start_s": round(start, 3),
                     "best_possible_ratio": round(_best_ratio(start, one, alone), 3),
                     "first_chunk_s": round(first, 3),
                     "best_possible_ratio_these_bytes": round(_best_ratio(first, one, alone),
                                                              3)})
    if args.json:
        print(json.dumps({"tree": args.tree or f"seeded {args.size_mb} MiB", "runs": args.runs,
                          "data_chunks": len(chunks), "rows": rows}, indent=2))
    else:
        for r in rows:
            print(f"{r['codec']}: 1 worker {r['one_worker_s']} s, 2 workers {r['two_workers_s']} s,"
                  f" ratio {r['ratio']} (target <= {TARGET}: {'met' if r['met'] else 'MISSED'});"
                  f" output {'identical' if r['identical_output'] else 'DIFFERS'}")
            print(f"  here, compression alone: 1 thread {r['compression_alone_s'][0]} s,"
                  f" 2 threads {r['compression_alone_s'][1]} s, ratio"
                  f" {r['compression_alone_ratio']}; serial start {r['serial_start_s']} s;"
                  f" best possible ratio {r['best_possible_ratio']}")
            print(f"  first data chunk after {r['first_chunk_s']} s; best possible ratio for"
                  f" these bytes {r['best_possible_ratio_these_bytes']}")
    return 0 if all(r["identical_output"] for r in rows) else 1
