"""``python -m pipeline.fuzz [--minutes N | --cases N] [--seed S] [--target T]... [--json]``:
run the mutation fuzzer and report the distinct failures (exit 1 if any)."""

from __future__ import annotations

import argparse
import json
import resource
import sys

from .run import run
from .targets import TARGETS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.fuzz")
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--cases", type=int, default=None, help="cases per target")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", action="append", choices=sorted(TARGETS))
    parser.add_argument("--memory-mib", type=int, default=2048,
                        help="address-space limit for the run (MemoryError counts as a failure)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.minutes is None and args.cases is None:
        args.cases = 200
    limit = args.memory_mib << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    report = run(seed=args.seed, cases_per_target=args.cases,
                 seconds=args.minutes * 60 if args.minutes is not None else None,
                 targets=args.target)
    data = report.to_json()
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(f"seed {data['seed']}: {data['total_cases']} cases in {data['seconds']} s "
              f"({', '.join(f'{k} {v}' for k, v in sorted(data['cases'].items()))}); "
              f"project errors: {sum(data['project_errors'].values())}; "
              f"distinct failures: {data['distinct_failures']}")
        for f in data["failures"]:
            print(f"  {f['target']}: {f['key']} x{f['count']} (first case {f['first_case']}): "
                  f"{f['message']}")
    return 0 if report.ok else 1


sys.exit(main())
