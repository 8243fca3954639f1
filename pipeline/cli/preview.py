"""`reprodmg dmg preview X.dmg -o window.png [--scale 2] [--json]`: the Finder
window the image opens, drawn from the image alone (pipeline.build.preview)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .output import emit_json


def register_preview(dmg_commands: argparse._SubParsersAction) -> None:
    p = dmg_commands.add_parser(
        "preview", help="draw the Finder window the image opens (background, icons, labels)")
    p.add_argument("image")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.png")
    p.add_argument("--scale", type=int, choices=(1, 2), default=1,
                   help="pixels per point (2: a Retina picture, using a two-page background's "
                        "2x page)")
    p.add_argument("--json", action="store_true", help="what was read from the image")
    from .dmg import add_passphrase_option
    add_passphrase_option(p)
    p.set_defaults(handler=cmd_preview)


def cmd_preview(args: argparse.Namespace) -> int:
    from ..atomic import atomic_write_bytes
    from ..build.preview import preview_png
    from .dmg import read_passphrase
    png, view = preview_png(args.image, scale=args.scale, passphrase=read_passphrase(args))
    atomic_write_bytes(args.output, png)
    if args.json:
        emit_json({"output": str(args.output), **view.to_json()})
    else:
        x, y, w, h = view.bounds
        print(f"{args.output}: {w}x{h} points at {x},{y}; {len(view.items)} item(s): "
              + ", ".join(f"{i.name} at {i.position[0]},{i.position[1]}" for i in view.items))
        for problem in view.problems:
            print(f"  not drawn as Finder would: {problem}")
    return 0
