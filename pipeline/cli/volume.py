"""The options that describe a volume, shared by `hfs create` and `dmg create`.

Sizes are parsed here, by argparse, so a bad ``--size`` fails before the
source tree is walked; the epoch is resolved here from SOURCE_DATE_EPOCH and
the option; the format library then gets plain values.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import TYPE_CHECKING

from ..epoch import source_date_epoch
from ..errors import InputError
from ..progress import TerminalProgress

if TYPE_CHECKING:
    from ..hfs import HFSVolume

_SIZE_RE = re.compile(r"\s*(\d+)\s*([kKmMgG]?)\s*")
_SHIFT = {"": 0, "K": 10, "M": 20, "G": 30}


def parse_size(text: str) -> int:
    """Bytes from ``123``, ``64K``, ``10M`` or ``2G``."""
    m = _SIZE_RE.fullmatch(text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of bytes with optional "
                                         "K, M or G")
    return int(m.group(1)) << _SHIFT[m.group(2).upper()]


def parse_headroom(text: str) -> tuple[int, int]:
    """(bytes, percent of the content) from ``10M`` or ``5%``."""
    if text.strip().endswith("%"):
        number = text.strip()[:-1].strip()
        if not number.isdigit():
            raise argparse.ArgumentTypeError(f"{text!r}: expected N% with a whole number N")
        return 0, int(number)
    return parse_size(text), 0


def add_volume_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--volname", help="volume name (default: the folder's name)")
    p.add_argument("--case-sensitive", action="store_true",
                   help="build a case-sensitive HFSX volume")
    p.add_argument("--size", type=parse_size, default=None,
                   help="exact volume size (bytes, or with K/M/G)")
    p.add_argument("--headroom", type=parse_headroom, default=(0, 0),
                   help="free space on top of the content: bytes, K/M/G, or N%% (default 0)")
    p.add_argument("--uid", type=int, default=0, help="owner of every entry (default 0)")
    p.add_argument("--gid", type=int, default=0, help="group of every entry (default 0)")
    p.add_argument("--keep-modes", action="store_true",
                   help="keep permission bits instead of normalising to 0755/0644")
    p.add_argument("--hard-links", choices=("link", "copy"), default="link",
                   help="store hard links as HFS+ hard links (default) or as copies")
    p.add_argument("--open-folder", metavar="PATH",
                   help="folder (relative to SRC) the Finder opens on mount")
    p.add_argument("--source-date-epoch", "--epoch", dest="epoch", type=int, default=None,
                   help="timestamp for every date (SOURCE_DATE_EPOCH in the environment wins)")
    p.add_argument("--hfs-compression", choices=("zlib", "lzfse"), default=None,
                   help="store files with HFS+ transparent compression (decmpfs), as "
                        "`ditto --hfsCompression` does (default: none)")


def volume_name(args: argparse.Namespace) -> str:
    return args.volname or os.path.basename(os.path.normpath(os.path.abspath(args.src)))


def build_volume_from_args(args: argparse.Namespace) -> "HFSVolume":
    """The volume the options describe, authored from ``args.src``."""
    from ..hfs import tree_from_directory
    from ..hfs.writer import build_volume
    if not os.path.isdir(args.src):
        raise InputError(f"{args.src}: not a folder")
    headroom_bytes, headroom_percent = args.headroom
    return build_volume(tree_from_directory(args.src), volname=volume_name(args),
                        case_sensitive=args.case_sensitive, epoch=source_date_epoch(args.epoch),
                        uid=args.uid, gid=args.gid, keep_modes=args.keep_modes, size=args.size,
                        headroom_bytes=headroom_bytes, headroom_percent=headroom_percent,
                        hard_links=args.hard_links, open_folder=args.open_folder,
                        hfs_compression=args.hfs_compression, progress=TerminalProgress())
