"""Benchmark: folder -> DMG against the libdmg-hfsplus flow and against the
one-core compression floors (issue 18 §3), on any tree.

In one run:
- `reprodmg dmg create --format UDBZ` and `--format UDZO` of ``--tree`` (all
  workers), each a separate process measured with wait4;
- the one-core floors, in this process: the writer's data chunks of the
  same volume through bzip2 (UDBZ's level) and libdeflate (UDZO's default
  level) on one thread;
- with ``--libdmg-bin DIR`` holding `mkfs.hfsplus`, `hfsplus` and `dmg`
  (hfsprogs' newfs_hfs and libdmg-hfsplus, built by hand: Debian ships
  neither), the flow `truncate` + `mkfs.hfsplus` + `hfsplus addall` +
  `dmg build`.
Each ratio is printed beside its target: UDBZ <= 0.25 x the flow, UDZO <=
0.6 x the one-core zlib floor; UDBZ against the bzip2 floor is reported.

    python -m pipeline.bench flow --tree DIR [--libdmg-bin DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .dmg import floors, run_measured

TARGET_FLOW = 0.25
TARGET_ZLIB_FLOOR = 0.6


def _flow(bin_dir: Path, tree: Path, work: Path, volume_bytes: int) -> dict[str, float]:
    vol, out = work / "flow.hfs", work / "flow.dmg"
    for path in (vol, out):
        path.unlink(missing_ok=True)
    # The volume is given the size our writer chose plus 10 % (libdmg's
    # addall cannot grow it), rounded up to a MiB.
    size = -(-int(volume_bytes * 1.1) // (1 << 20)) << 20
    steps = {"truncate": ["truncate", "-s", str(size), str(vol)],
             "mkfs.hfsplus": [str(bin_dir / "mkfs.hfsplus"), "-v", "Bench", str(vol)],
             "hfsplus addall": [str(bin_dir / "hfsplus"), str(vol), "addall", str(tree)],
             "dmg build": [str(bin_dir / "dmg"), "build", str(vol), str(out)]}
    times = {}
    for name, cmd in steps.items():
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=work, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times[name] = round(time.perf_counter() - t0, 2)
    times["total"] = round(sum(times.values()), 2)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.bench flow")
    ap.add_argument("--tree", required=True, help="the folder to put in the images")
    ap.add_argument("--libdmg-bin", help="folder with mkfs.hfsplus, hfsplus and dmg")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    tree = Path(args.tree)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="reprodmg-bench-flow-"))
    work.mkdir(parents=True, exist_ok=True)
    py = [sys.executable, "-m", "pipeline"]
    result: dict = {"tree": str(tree)}
    for fmt in ("UDBZ", "UDZO"):
        wall, rss, _cpu = run_measured(py + ["dmg", "create", str(tree), "-o",
                                             str(work / f"{fmt}.dmg"), "--format", fmt], work)
        result[fmt] = {"wall_s": round(wall, 2), "rss_mb": round(rss / 2**20, 1)}
    raw = work / "volume.raw"
    raw.unlink(missing_ok=True)
    run_measured(py + ["dmg", "convert", str(work / "UDZO.dmg"), "-o", str(raw), "--format",
                       "raw"], work)
    result["bzip2_floor_s"] = round(floors(raw, 9, "bzip2", all_chunks=False)
                                    ["floor_writer_chunks_s"], 2)
    result["zlib_floor_s"] = round(floors(raw, 1, "zlib", all_chunks=False)
                                   ["floor_writer_chunks_s"], 2)
    ratios = {"UDBZ / bzip2 floor": (result["UDBZ"]["wall_s"] / result["bzip2_floor_s"], None),
              "UDZO / zlib floor": (result["UDZO"]["wall_s"] / result["zlib_floor_s"],
                                    TARGET_ZLIB_FLOOR)}
    if args.libdmg_bin:
        result["flow"] = _flow(Path(args.libdmg_bin), tree, work, raw.stat().st_size)
        ratios["UDBZ / libdmg-hfsplus flow"] = (result["UDBZ"]["wall_s"] /
                                                result["flow"]["total"], TARGET_FLOW)
    result["ratios"] = {name: {"ratio": round(r, 3), "target": t,
                               "met": None if t is None else r <= t}
                        for name, (r, t) in ratios.items()}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"tree {tree}: UDBZ {result['UDBZ']['wall_s']} s, UDZO {result['UDZO']['wall_s']} s; "
          f"one-core floors: bzip2 {result['bzip2_floor_s']} s, zlib {result['zlib_floor_s']} s")
    if "flow" in result:
        print("libdmg-hfsplus flow: " + ", ".join(f"{k} {v} s" for k, v in result["flow"].items()))
    for name, r in result["ratios"].items():
        verdict = "reported" if r["target"] is None else \
            f"target <= {r['target']}: {'met' if r['met'] else 'MISSED'}"
        print(f"{name}: {r['ratio']} ({verdict})")
    return 0
