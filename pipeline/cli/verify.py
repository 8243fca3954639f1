"""`reprodmg verify --against SHA256SUMS [DIR]`: local artifacts against a
release's published sums (docs/reproducibility.md).  Exit 0 all the same,
3 when only a disk image's encoding differs (same expanded volume), 1 when
anything else differs or is missing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .output import emit_json


def register(groups: argparse._SubParsersAction) -> None:
    p = groups.add_parser("verify", help="compare local artifacts with published SHA256SUMS")
    p.add_argument("--against", type=Path, required=True, metavar="SHA256SUMS",
                   help="the published sums (a build-manifest.json beside them is read too)")
    p.add_argument("folder", type=Path, nargs="?", default=Path("."), metavar="DIR",
                   help="where the local artifacts are (default: the current folder)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_verify)


def _verify(args: argparse.Namespace) -> int:
    from ..diff.published import check_against, format_report
    report = check_against(args.against, args.folder)
    if args.json:
        emit_json(report.to_json())
    else:
        sys.stdout.write(format_report(report))
    return report.exit_code
