"""`reprodmg toolchain`: build a toolchain recipe (patches/<component>/recipe.toml)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .output import emit_json


def register(groups: argparse._SubParsersAction) -> None:
    p = groups.add_parser("toolchain", help="toolchains built from pinned sources and patches")
    commands = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    build = commands.add_parser(
        "build", help="fetch, verify, extract, patch, build and install a recipe",
        description="Build RECIPE into the cache (reused when its sources, patches, recipe "
                    "and host tools are unchanged) and print where it is installed.")
    build.add_argument("--recipe", required=True, type=Path, metavar="patches/NAME/recipe.toml")
    build.add_argument("--cache", type=Path, default=os.environ.get("REPRODMG_CACHE") or
                       "build/cache", metavar="DIR",
                       help="sources and installed toolchains (default $REPRODMG_CACHE, "
                            "else build/cache)")
    build.add_argument("--json", action="store_true", help="print toolchain.json as JSON")
    build.set_defaults(handler=_build)


def _build(args: argparse.Namespace) -> int:
    from ..build import source_toolchain
    from ..jsonfile import read_json
    installed = source_toolchain.provide(source_toolchain.load_recipe(args.recipe), args.cache)
    if args.json:
        emit_json({"location": os.fspath(installed),
                   **read_json(installed / source_toolchain.MANIFEST)})
    else:
        print(installed)
    return 0
