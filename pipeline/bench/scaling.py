"""Benchmark: how `dmg create` scales from one compression worker to two,
codec by codec (issue 18 §3: each codec's 2-worker wall time should be at
most 0.55 x its 1-worker time on 2 cores).

The baseline is the same command with ``--workers 1``, run alternately with
``--workers 2`` in this one invocation (medians of ``--runs``), on the
seeded tree of ``pipeline.bench.dmg``; output bytes are checked identical
for both worker counts.

    python -m pipeline.bench scaling [--size-mb 100 | --tree DIR] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
from pathlib import Path

from .dmg import make_tree, run_measured

CODECS = ("UDZO", "UDBZ", "ULFO", "ULMO")
TARGET = 0.55


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
        rows.append({"codec": codec, "one_worker_s": round(one, 2), "two_workers_s": round(two, 2),
                     "ratio": round(two / one, 3), "target": TARGET, "met": two / one <= TARGET,
                     "identical_output": len(digests) == 1})
    if args.json:
        print(json.dumps({"tree": args.tree or f"seeded {args.size_mb} MiB", "runs": args.runs,
                          "rows": rows}, indent=2))
    else:
        for r in rows:
            print(f"{r['codec']}: 1 worker {r['one_worker_s']} s, 2 workers {r['two_workers_s']} s,"
                  f" ratio {r['ratio']} (target <= {TARGET}: {'met' if r['met'] else 'MISSED'});"
                  f" output {'identical' if r['identical_output'] else 'DIFFERS'}")
    return 0 if all(r["identical_output"] for r in rows) else 1
