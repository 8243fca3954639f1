"""`reprodmg dmg diff A.dmg B.dmg [--json]`: where two images differ.

Exit status: 0 identical, 1 different, 2 error (unreadable or hostile input).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .output import emit_json


def register_diff(dmg_commands: argparse._SubParsersAction) -> None:
    p = dmg_commands.add_parser(
        "diff", help="say which koly field, chunk, file, metadata field or block differs "
                     "between two images (exit 0 identical, 1 different, 2 error)")
    p.add_argument("a", metavar="A.dmg")
    p.add_argument("b", metavar="B.dmg")
    p.add_argument("--json", action="store_true", help="the whole structured report")
    p.add_argument("--summary", action="store_true",
                   help="the verdict and the most telling findings, on one screen")
    p.add_argument("--html", metavar="OUT.html", type=Path,
                   help="also write the report as one HTML page, the layers side by side")
    from .dmg import add_passphrase_option
    add_passphrase_option(p)
    p.set_defaults(handler=cmd_diff)


def cmd_diff(args: argparse.Namespace) -> int:
    from ..diff import diff_images, exit_status, format_report, format_summary
    from ..progress import Progress
    from .dmg import read_passphrase
    with Progress(f"diff {Path(args.a).name} {Path(args.b).name}", unit=" partitions") as progress:
        report = diff_images(args.a, args.b, progress=progress,
                             passphrase=read_passphrase(args))
    if args.html:
        from ..atomic import atomic_write_bytes
        from ..diff.html import render_html
        atomic_write_bytes(args.html, render_html(report).encode("utf-8"))
    if args.json:
        emit_json(report.to_json())
    elif args.summary:
        print(format_summary(report))
    else:
        print(format_report(report))
    return exit_status(report)
