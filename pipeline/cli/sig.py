"""`reprodmg sig`: Code signatures: detach, apply, verify, sign."""

from __future__ import annotations

import argparse


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("sig", help="Code signatures: detach, apply, verify, sign")
    parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
