"""`reprodmg dmg`: UDIF disk images: create, convert, info, verify, ls, extract."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

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
        p.add_argument("--encryption", metavar="AES-128|AES-256", default=None,
                       help="encrypt the output (encrcdsa v2) with the passphrase of "
                            "--passphrase-file")
        p.add_argument("--seed-file", type=Path, default=None, metavar="FILE",
                       help="derive the encryption keys, salt and IVs from FILE's bytes: the "
                            "same seed, passphrase and content give the same image (default: "
                            "random keys, the safe choice)")
        p.add_argument("--iterations", type=int, default=250_000,
                       help="PBKDF2 iterations for a new encrypted image (default 250000)")

    p = sub.add_parser("create", help="author an HFS+ volume from a folder and wrap it as UDIF")
    p.add_argument("src", metavar="SRC_FOLDER")
    add_volume_options(p)
    writer_options(p)
    add_passphrase_option(p)
    p.set_defaults(handler=cmd_create)

    p = sub.add_parser("convert", help="convert any image (UDIF, raw, sparse image or bundle, "
                                       "encrypted) to another format")
    p.add_argument("input", metavar="IN")
    writer_options(p)
    add_passphrase_option(p)
    p.set_defaults(handler=cmd_convert)

    p = sub.add_parser("info", help="what hdiutil imageinfo reports")
    p.add_argument("image")
    add_passphrase_option(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser("verify", help="check every CRC32 (data fork, partitions, master)")
    p.add_argument("image")
    add_passphrase_option(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("ls", help="list the HFS+ volume inside an image")
    p.add_argument("image")
    add_passphrase_option(p)
    p.add_argument("--partition", default=None, help="blkx index or name (default: the HFS+ one)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ls)

    from .dmgsig import register_dmg_sig
    register_dmg_sig(sub)

    p = sub.add_parser("extract", help="extract the HFS+ volume inside an image")
    p.add_argument("image")
    p.add_argument("dest")
    add_passphrase_option(p)
    p.add_argument("--partition", default=None, help="blkx index or name (default: the HFS+ one)")
    add_xattrs_option(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_extract)

    from .diff import register_diff
    register_diff(sub)

    from .preview import register_preview
    register_preview(sub)


def add_passphrase_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--passphrase-file", metavar="FILE", default=None,
                   help="the encrypted image's passphrase: FILE's first line, or - for "
                        "stdin (never on the command line)")


def read_passphrase(args: argparse.Namespace) -> bytes | None:
    """The passphrase from --passphrase-file (first line, without its newline)."""
    from ..errors import InputError
    name = getattr(args, "passphrase_file", None)
    if name is None:
        return None
    try:
        raw = sys.stdin.buffer.read(1 << 16) if name == "-" else Path(name).read_bytes()[:1 << 16]
    except OSError as exc:
        raise InputError(f"{name}: cannot read the passphrase: {exc.strerror}") from None
    line = raw.split(b"\n", 1)[0].rstrip(b"\r")
    if not line:
        raise InputError(f"{name}: the passphrase is empty")
    return line


def encryption_options(args: argparse.Namespace, passphrase: bytes | None):
    from ..errors import InputError
    from ..udif.variants import EncryptionOptions, parse_encryption
    if args.encryption is None:
        if args.seed_file is not None:
            raise InputError("--seed-file: only with --encryption")
        return None
    if passphrase is None:
        raise InputError("--encryption needs --passphrase-file FILE (or - for stdin)")
    seed = None
    if args.seed_file is not None:
        try:
            seed = args.seed_file.read_bytes()
        except OSError as exc:
            raise InputError(f"{args.seed_file}: cannot read: {exc.strerror}") from None
        if len(seed) < 16:
            raise InputError(f"{args.seed_file}: a seed of {len(seed)} bytes; give at least 16")
    return EncryptionOptions(passphrase, parse_encryption(args.encryption), seed, args.iterations)


@contextlib.contextmanager
def opened(path: str, passphrase: bytes | None = None, container=None) -> Iterator["UDIFImage"]:
    """The image, after saying once on stderr what its reader had to tolerate."""
    from ..udif.reader import UDIFImage
    with UDIFImage(path, passphrase=passphrase, container=container) as image:
        for warning in image.warnings:
            print(f"reprodmg: warning: {warning}", file=sys.stderr)
        yield image


def _print_manifest(args, manifest: dict) -> None:
    if args.json:
        emit_json(manifest)
    elif "sha256" not in manifest:      # a sparse variant: a disk of `size` bytes
        print(f"{args.output}: {manifest['format']}, {manifest.get('bands', 0)} band(s) of "
              f"{manifest.get('band_size', 0)} bytes, disk {manifest['size']} bytes"
              + (f", {manifest['encryption']['algorithm']}" if "encryption" in manifest else ""))
    else:
        print(f"{args.output}: {manifest['format']} {manifest['size']} bytes, "
              f"sha256 {manifest['sha256']}"
              + (f", {manifest['encryption']['algorithm']}" if "encryption" in manifest else ""))
        print(f"expanded: {manifest['expanded_size']} bytes, sha256 {manifest['expanded_sha256']}")


def cmd_create(args: argparse.Namespace) -> int:
    from ..udif.variants import container_format, write_container
    from ..udif.writer import write_udif
    encryption = encryption_options(args, read_passphrase(args))
    volume = build_volume_from_args(args)
    target = container_format(args.format)
    if target is not None:
        manifest = write_container(volume.read, volume.size, args.output, target, encryption)
    elif encryption is not None:
        # Through convert's path: the UDIF file, then its encryption.
        from ..udif.convert import encrypted_udif
        manifest = encrypted_udif(volume, args.output, format=args.format, level=args.level,
                                  layout=args.layout or "none", workers=args.workers,
                                  encryption=encryption, progress=TerminalProgress())
    else:
        manifest = write_udif(volume, args.output, format=args.format, level=args.level,
                              layout=args.layout or "none", workers=args.workers,
                              source_name=Path(args.src).name, progress=TerminalProgress())
    _print_manifest(args, manifest)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from ..udif.convert import convert
    passphrase = read_passphrase(args)
    manifest = convert(args.input, args.output, format=args.format, level=args.level,
                       layout=args.layout, workers=args.workers, progress=TerminalProgress(),
                       passphrase=passphrase, encryption=encryption_options(args, passphrase))
    for warning in manifest.pop("input_warnings", []):
        print(f"reprodmg: warning: {warning}", file=sys.stderr)
    _print_manifest(args, manifest)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ..udif.container import open_container, raw_partitions
    from ..udif.info import format_info, image_info
    with open_container(args.image, passphrase=read_passphrase(args)) as container:
        if container.holds_raw_disk:
            # A read/write image: the raw disk inside the container.
            scheme, entries, problems = raw_partitions(container)
            info = {"path": args.image,
                    "format": container.kind if container.layers else "raw",
                    "container": container.layers,
                    "disk_bytes": container.size, "partition_scheme": scheme,
                    "partitions": [e.to_json() for e in entries], "problems": problems}
            if args.json:
                emit_json(info)
            else:
                from ..udif.info import format_container
                print(format_container(info))
            return 0
        with opened(args.image, container=container) as image:
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
    from ..udif.container import open_container
    from ..udif.verify import verify_image
    with open_container(args.image, passphrase=read_passphrase(args)) as container:
        if container.holds_raw_disk:
            # No checksums in a raw disk: every block is read (and decrypted) once.
            step = 1 << 20
            for offset in range(0, container.size, step):
                container.pread(offset, min(step, container.size - offset))
            message = (f"{args.image}: {container.kind} holding a raw disk of {container.size} "
                       "bytes: every block reads; a raw disk carries no checksums")
            if args.json:
                emit_json({"path": args.image, "ok": True, "checks": [], "note": message})
            else:
                print(message)
            return 0
        with opened(args.image, container=container) as image:
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


@contextlib.contextmanager
def volume_of(args: argparse.Namespace) -> Iterator[tuple[Any, str, str]]:
    """(source, label, partition name) of the HFS+ volume an image holds:
    in a UDIF image, or in the raw disk of a read/write, sparse or encrypted one."""
    from ..udif.container import open_container, raw_volume
    with open_container(args.image, passphrase=read_passphrase(args)) as container:
        if container.holds_raw_disk:
            source, label = raw_volume(container, args.partition)
            yield source, f"{args.image}: {label}", label
            return
        with opened(args.image, container=container) as image:
            source, part = _hfs_source(image, args.partition)
            yield source, f"{args.image}: {part.label}", part.name


def cmd_ls(args: argparse.Namespace) -> int:
    from ..hfs.reader import HFSReader
    from .hfs import print_listing, warn_journal
    with volume_of(args) as (source, label, partition):
        reader = HFSReader(source, label)
        warn_journal(reader, label)
        print_listing(reader, args.json, {"image": args.image, "partition": partition})
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from ..hfs.extract import extract
    from ..hfs.reader import HFSReader
    from .hfs import report_extract, warn_journal
    with volume_of(args) as (source, label, partition):
        reader = HFSReader(source, label)
        warn_journal(reader, label)
        result = extract(reader, args.dest, metadata=args.xattrs)
        report_extract(result, args.xattrs)
        if args.json:
            emit_json({"image": args.image, "partition": partition, "dest": args.dest,
                       "metadata": result.to_json()})
    return 0
