"""`reprodmg dmg sig`: the disk image's own code signature (verify, sign,
staple, detach, apply); see docs/signing.md."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import InputError
from ..progress import TerminalProgress
from .output import emit_json, report_failures
from .sig import add_password_options, p12_password, read_certificate, summary_line


def register_dmg_sig(dmg_commands: argparse._SubParsersAction) -> None:
    parser = dmg_commands.add_parser(
        "sig", help="the image's own code signature: verify, sign, staple, detach, apply")
    sub = parser.add_subparsers(dest="sig_command", metavar="COMMAND", required=True)

    p = sub.add_parser("verify", help="check the image's signature: hashes, CMS, chain, ticket")
    p.add_argument("image", metavar="X.dmg")
    p.add_argument("--anchor", type=Path, action="append", metavar="ROOT.cer",
                   help="also require the CMS chain to end at this root (repeatable)")
    p.add_argument("--apple-root", action="store_true",
                   help="also require the chain to end at Apple Root CA")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_verify)

    p = sub.add_parser("sign", help="sign the image as codesign does (portable signer)")
    p.add_argument("image", metavar="X.dmg")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--p12", type=Path, metavar="KEY.p12", help="the signing identity")
    who.add_argument("--adhoc", action="store_true", help="an ad-hoc signature (codesign -s -)")
    add_password_options(p)
    p.add_argument("--identifier", metavar="ID",
                   help="code identifier (default: codesign's, from the file name)")
    p.add_argument("-o", "--output", type=Path, metavar="OUT.dmg",
                   help="write here instead of signing in place")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_sign)

    p = sub.add_parser("staple", help="add a notarization ticket to the image's signature")
    p.add_argument("image", metavar="X.dmg")
    p.add_argument("ticket", type=Path, metavar="TICKET")
    p.add_argument("-o", "--output", type=Path, metavar="OUT.dmg")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_staple)

    p = sub.add_parser("detach", help="the image's signature (and ticket) as a tarball")
    p.add_argument("image", metavar="SIGNED.dmg")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="dmg-signature.tar")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_detach)

    p = sub.add_parser("apply", help="put a detached image signature back, then verify")
    p.add_argument("image", metavar="UNSIGNED.dmg")
    p.add_argument("signature", type=Path, metavar="dmg-signature.tar")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="SIGNED.dmg")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_apply)


def _print(report, as_json: bool) -> int:
    from ..textescape import shown
    if as_json:
        emit_json(report.to_json())
    else:
        print(shown(summary_line(report.path, report.ok, report.kind, report.identifier,
                                 report.cdhash, signer=report.signer, ticket=report.ticket)))
    return 0 if report.ok else report_failures(report.failures)


def _verify(args: argparse.Namespace) -> int:
    from ..codesign.diskimage import verify_image_signature
    anchors = [read_certificate(p) for p in args.anchor] if args.anchor else None
    return _print(verify_image_signature(args.image, anchors=anchors, apple_root=args.apple_root,
                                         progress=TerminalProgress()), args.json)


def _sign(args: argparse.Namespace) -> int:
    from ..codesign.diskimage import sign_image, verify_image_signature
    from ..codesign.sign import Identity
    from ..epoch import source_date_epoch
    password = None if args.adhoc else p12_password(args)
    identity = None if args.adhoc else Identity.from_p12(
        args.p12, password.encode() if password is not None else None)
    out = args.output or Path(args.image)
    sign_image(args.image, identity, out=out, identifier=args.identifier,
               epoch=source_date_epoch(), progress=TerminalProgress())
    return _print(verify_image_signature(out), args.json)


def _staple(args: argparse.Namespace) -> int:
    from ..codesign.diskimage import staple_image, verify_image_signature
    try:
        ticket = args.ticket.read_bytes()
    except OSError as exc:
        raise InputError(f"{args.ticket}: cannot read: {exc.strerror}") from None
    out = args.output or Path(args.image)
    staple_image(args.image, ticket, out=out)
    return _print(verify_image_signature(out), args.json)


def _detach(args: argparse.Namespace) -> int:
    from ..codesign.diskimage import detach_signature
    from ..epoch import source_date_epoch
    info = detach_signature(args.image, args.output, epoch=source_date_epoch())
    if args.json:
        emit_json({"output": os.fspath(args.output), **info})
    else:
        print(f"{args.output}: signature of {args.image} (cdhash {info['cdhash']}"
              f"{', ticket' if info['ticket'] else ''})")
    return 0


def _apply(args: argparse.Namespace) -> int:
    from ..codesign.diskimage import apply_signature
    return _print(apply_signature(args.image, args.signature, args.output), args.json)
