from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {"hfs": "pipeline.bench.hfs", "dmg": "pipeline.bench.dmg",
              "sdk": "pipeline.bench.sdk", "scaling": "pipeline.bench.scaling",
              "sig": "pipeline.bench.sig", "flow": "pipeline.bench.flow"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.bench")
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    args, rest = parser.parse_known_args(argv)
    module = importlib.import_module(BENCHMARKS[args.name])
    return int(module.main(rest) or 0)


sys.exit(main())
