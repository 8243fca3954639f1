"""`reprodmg hfs`: HFS+ volumes: create, ls, extract."""

from __future__ import annotations

import argparse


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("hfs", help="HFS+ volumes: create, ls, extract")
    parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
