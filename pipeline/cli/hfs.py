"""`reprodmg hfs`: HFS+ volumes: create, ls, extract."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..atomic import atomic_output
from ..imagesource import FileImageSource
from ..progress import TerminalProgress
from .output import emit_json, emit_json_streaming, emit_lines
from .volume import add_volume_options, build_volume_from_args, volume_name

if TYPE_CHECKING:
    from ..hfs.reader import HFSReader


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("hfs", help="HFS+ volumes: create, ls, extract")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    create = sub.add_parser("create", help="author a raw HFS+ volume from a folder")
    create.add_argument("src", help="folder to store in the volume")
    create.add_argument("-o", "--output", required=True, help="raw volume file to write")
    add_volume_options(create)
    create.add_argument("--json", action="store_true", help="print a JSON summary")
    create.set_defaults(handler=cmd_create)

    ls = sub.add_parser("ls", help="list the entries of a raw HFS+ volume")
    ls.add_argument("image")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(handler=cmd_ls)

    extract = sub.add_parser("extract", help="extract a raw HFS+ volume into a folder")
    extract.add_argument("image")
    extract.add_argument("dest")
    add_xattrs_option(extract)
    extract.add_argument("--json", action="store_true", help="print a JSON summary")
    extract.set_defaults(handler=cmd_extract)


def cmd_create(args: argparse.Namespace) -> int:
    volume = build_volume_from_args(args)
    volname = volume_name(args)
    with atomic_output(args.output) as fh:
        volume.write_to(fh, progress=TerminalProgress())
    summary = {"output": args.output, "size": volume.size, "volume_name": volname,
               "case_sensitive": args.case_sensitive, **volume.stats}
    if args.json:
        emit_json(summary)
    else:
        print(f"{args.output}: {volume.size} bytes, {volume.stats['files']} files, "
              f"{volume.stats['folders']} folders, {volume.stats['free_blocks']} free blocks")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from ..hfs.reader import HFSReader
    with FileImageSource(args.image) as src:
        reader = HFSReader(src, args.image)
        warn_journal(reader, args.image)
        print_listing(reader, args.json)
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from ..hfs.extract import extract
    from ..hfs.reader import HFSReader
    with FileImageSource(args.image) as src:
        reader = HFSReader(src, args.image)
        warn_journal(reader, args.image)
        result = extract(reader, args.dest, metadata=args.xattrs)
        report_extract(result, args.xattrs)
        if args.json:
            emit_json({"image": args.image, "dest": args.dest,
                       "volume_name": reader.volume_name, "metadata": result.to_json()})
    return 0


def print_listing(reader: "HFSReader", as_json: bool, head: dict | None = None) -> None:
    """What `hfs ls` and `dmg ls` print: one line per entry, or (``--json``)
    ``head``, the volume's fields and its entries.  Entries are read from
    the catalog as they are printed: a volume of a million files is listed
    in the memory of a few thousand."""
    from ..hfs.listing import format_entry
    entries = reader.entries()
    if not as_json:
        emit_lines(format_entry(e) + "\n" for e in entries)
        return
    volume = {"volume_name": reader.volume_name,
              "signature": reader.vh.signature.decode(),
              "case_sensitive": reader.case_sensitive,
              "journal": reader.journal,
              "block_size": reader.vh.blockSize,
              "total_blocks": reader.vh.totalBlocks,
              "free_blocks": reader.vh.freeBlocks}
    emit_json_streaming({**(head or {}), **volume}, "entries", (e.to_json() for e in entries))


def add_xattrs_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--xattrs", choices=("linux", "appledouble", "none"), default="linux",
                   help="where extended attributes, Finder info and resource forks go: "
                        "user.* attributes (default; AppleDouble ._name files where the "
                        "destination refuses them), ._name files, or nowhere (counted)")


def report_extract(result, mode: str) -> None:
    """Say on stderr when metadata was left out: never silently."""
    if result.dropped:
        print(f"reprodmg: warning: the extended attributes, Finder info or resource forks "
              f"of {result.dropped} item(s) were left out (--xattrs {mode})", file=sys.stderr)


def warn_journal(reader: HFSReader, image: str) -> None:
    """Say on stderr when what is read misses journal transactions macOS would replay."""
    if reader.journal == "dirty":
        print(f"reprodmg: warning: {image}: the journal holds transactions that were never "
              "replayed; the listing shows the volume as it was before them", file=sys.stderr)
