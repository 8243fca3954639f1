"""`reprodmg dmg`: UDIF disk images: create, convert, info, verify, ls, extract."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..progress import TerminalProgress
from .output import emit_json, report_failures
from .hfs import add_xattrs_option
from .volume import add_volume_options, build_volume_from_args

if TYPE_CHECKING:
    from ..udif.reader import UDIFImage

FORMAT_HELP = ("UDRO (raw), UDZO (zlib, default level 1 as hdiutil), UDBZ (bzip2), "
               "ULFO or ULZF (lzfse), ULMO (lzma), raw (expanded disk image)")


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("dmg", help="UDIF disk images: create, convert, info, verify, ls, "
                                           "extract, sig, diff, preview")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def writer_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("-o", "--output", required=True, help="image to write")
        p.add_argument("--format", default="UDZO", help=FORMAT_HELP)
        p.add_argument("--level", type=int, default=None,
                       help="compression level (UDZO 1-12, UDBZ 1-9, ULMO 0-9)")
        p.add_argument("--layout", choices=("none", "gpt"), default=None,
                       help="partition layout (create: default none; convert: keep the "
                            "input's partitions unless given)")
        p.add_argument("--workers", type=int, default=None,
                       help="compression threads (default: all cores); output is identical "
                            "for any value")
        p.add_argument("--json", action="store_true", help="print the manifest as JSON")

    p = sub.add_parser("create", help="author an HFS+ volume from a folder and wrap it as UDIF")
    p.add_argument("src", metavar="SRC_FOLDER")
    add_volume_options(p)
    writer_options(p)
    p.set_defaults(handler=cmd_create)

    p = sub.add_parser("convert", help="convert a .dmg or raw image to another format")
    p.add_argument("input", metavar="IN")
    writer_options(p)
    p.set_defaults(handler=cmd_convert)

    p = sub.add_parser("info", help="what hdiutil imageinfo reports")
    p.add_argument("image")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser("verify", help="check every CRC32 (data fork, partitions, master)")
    p.add_argument("image")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("ls", help="list the HFS+ volume inside an image")
    p.add_argument("image")
    p.add_argument("--partition", default=None, help="blkx index or name (default: the HFS+ one)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ls)

    from .dmgsig import register_dmg_sig
    register_dmg_sig(sub)

    p = sub.add_parser("extract", help="extract the HFS+ volume inside an image")
    p.add_argument("image")
    p.add_argument("dest")
    p.add_argument("--partition", default=None, help="blkx index or name (default: the HFS+ one)")
    add_xattrs_option(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_extract)

    from .diff import register_diff
    register_diff(sub)

    from .preview import register_preview
    register_preview(sub)


@contextlib.contextmanager
def opened(path: str) -> Iterator["UDIFImage"]:
    """The image, after saying once on stderr what its reader had to tolerate."""
    from ..udif.reader import open_udif
    with open_udif(path) as image:
        for warning in image.warnings:
            print(f"reprodmg: warning: {warning}", file=sys.stderr)
        yield image


def _print_manifest(args, manifest: dict) -> None:
    if args.json:
        emit_json(manifest)
    else:
        print(f"{args.output}: {manifest['format']} {manifest['size']} bytes, "
              f"sha256 {manifest['sha256']}")
        print(f"expanded: {manifest['expanded_size']} bytes, sha256 {manifest['expanded_sha256']}")


def cmd_create(args: argparse.Namespace) -> int:
    from ..udif.writer import write_udif
    volume = build_volume_from_args(args)
    manifest = write_udif(volume, args.output, format=args.format, level=args.level,
                          layout=args.layout or "none", workers=args.workers,
                          source_name=Path(args.src).name, progress=TerminalProgress())
    _print_manifest(args, manifest)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from ..udif.convert import convert, is_udif
    if is_udif(Path(args.input)):
        with opened(args.input):
            pass                       # says once what was tolerated in the input
    manifest = convert(args.input, args.output, format=args.format, level=args.level,
                       layout=args.layout, workers=args.workers, progress=TerminalProgress())
    _print_manifest(args, manifest)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ..udif.info import format_info, image_info
    with opened(args.image) as image:
        info = image_info(image, display_path=args.image)
        if info["code_signature"] is not None:
            info["code_signature"].update(_signature_summary(image))
    if args.json:
        emit_json(info)
    else:
        print(format_info(info))
    return 0


def _signature_summary(image: "UDIFImage") -> dict:
    """What the image's own signature says (identifier, cdhash, signer), or
    the problem with it."""
    from ..codesign import summarise_signature
    from ..errors import ReprodmgError
    try:
        blob = image.code_signature_bytes()
        return summarise_signature(blob, str(image.path),
                                   image.koly.code_signature_offset).to_json()
    except ReprodmgError as exc:
        return {"problems": [str(exc)]}


def cmd_verify(args: argparse.Namespace) -> int:
    from ..udif.verify import verify_image
    with opened(args.image) as image:
        result = verify_image(image, progress=TerminalProgress())
    if args.json:
        d = result.to_json()
        d["path"] = args.image
        emit_json(d)
    else:
        for c in result.checks:
            status = "ok" if c.ok else "FAILED"
            value = f"CRC32 ${c.actual:08X}" if c.actual is not None else ""
            print(f"{c.what} {c.name}: {status} {value} {c.problem}".rstrip())
    return 0 if result.ok else report_failures(result.problems)


def _hfs_source(image, key):
    if key is None:
        part = image.data_partition()
    else:
        part = image.partition(int(key) if key.lstrip("-").isdigit() else key)
    return image.partition_source(part.index), part


def cmd_ls(args: argparse.Namespace) -> int:
    from ..hfs.listing import format_entries
    from ..hfs.reader import HFSReader
    from .hfs import listing_json, warn_journal
    with opened(args.image) as image:
        source, part = _hfs_source(image, args.partition)
        reader = HFSReader(source, f"{args.image}: {part.label}")
        warn_journal(reader, f"{args.image}: {part.label}")
        entries = list(reader.entries())
        if args.json:
            emit_json({"image": args.image, "partition": part.name,
                       **listing_json(reader, entries)})
        else:
            sys.stdout.write(format_entries(entries))
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from ..hfs.extract import extract
    from ..hfs.reader import HFSReader
    from .hfs import report_extract, warn_journal
    with opened(args.image) as image:
        source, part = _hfs_source(image, args.partition)
        reader = HFSReader(source, f"{args.image}: {part.label}")
        warn_journal(reader, f"{args.image}: {part.label}")
        result = extract(reader, args.dest, metadata=args.xattrs)
        report_extract(result, args.xattrs)
        if args.json:
            emit_json({"image": args.image, "partition": part.name, "dest": args.dest,
                       "metadata": result.to_json()})
    return 0
