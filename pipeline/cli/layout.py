"""`reprodmg layout import FILE [-D key=value]... [--json]`: an appdmg JSON
specification or a dmgbuild settings file as the release configuration's
``[dmg]`` and ``[dmg.window]`` tables (pipeline.build.layout_import).  The
TOML goes to stdout; what was not imported is said in its comments and on
stderr."""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from .output import emit_json


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("layout", help="installer window settings: import appdmg or "
                                              "dmgbuild settings")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = sub.add_parser("import", help="print an appdmg .json or dmgbuild .py settings file as "
                                      "[dmg] and [dmg.window] TOML (read, never executed)")
    p.add_argument("settings", metavar="FILE")
    p.add_argument("-D", "--define", action="append", default=[], metavar="KEY=VALUE",
                   help="a dmgbuild define (what `dmgbuild -D` passes to defines.get)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from ..build.layout_import import load_layout
    defines = {}
    for item in args.define:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"-D {item!r}: expected KEY=VALUE")
        defines[key] = value
    layout = load_layout(args.settings, defines=defines)
    if args.json:
        emit_json(layout.to_json())
    else:
        sys.stdout.write(layout.to_toml())
        for item in layout.ignored:
            print(f"reprodmg: note: {args.settings}: not imported: {item}", file=sys.stderr)
    return 0
