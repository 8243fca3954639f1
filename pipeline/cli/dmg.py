"""`reprodmg dmg`: UDIF disk images: create, convert, info, verify, ls, extract."""

from __future__ import annotations

import argparse


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("dmg", help="UDIF disk images: create, convert, info, verify, ls, extract")
    parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
