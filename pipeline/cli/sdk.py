"""`reprodmg sdk`: macOS SDK tarballs: pack, verify."""

from __future__ import annotations

import argparse


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("sdk", help="macOS SDK tarballs: pack, verify")
    parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
