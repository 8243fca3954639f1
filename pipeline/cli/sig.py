"""`reprodmg sig`: Code signatures: detach, apply, verify, sign."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import InputError
from .output import emit_json, report_failures

P12_PASSWORD_ENV = "REPRODMG_P12_PASSWORD"


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("sig", help="Code signatures: detach, apply, verify, sign")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("detach", help="cut the signatures out of a signed app or file")
    p.add_argument("signed", type=Path, metavar="SIGNED_APP_OR_FILE")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="SIGNATURES.tar")
    p.add_argument("--json", action="store_true", help="list the members written as JSON")
    p.set_defaults(handler=_detach)

    p = commands.add_parser("apply", help="attach detached signatures to an unsigned app, verify")
    p.add_argument("unsigned", type=Path, metavar="UNSIGNED_APP")
    p.add_argument("signatures", type=Path, metavar="SIGNATURES.tar")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="SIGNED_APP")
    p.add_argument("--json", action="store_true", help="print the verification report as JSON")
    p.set_defaults(handler=_apply)

    p = commands.add_parser("verify", help="verify the code signatures of an app or file")
    p.add_argument("path", type=Path, metavar="APP_OR_FILE")
    p.add_argument("--anchor", type=Path, action="append", metavar="ROOT.cer",
                   help="also require the CMS certificate chain to end at this DER root "
                        "certificate (repeatable)")
    p.add_argument("--apple-root", action="store_true",
                   help="also require the chain to end at Apple Root CA (pinned by SHA-256)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=_verify)

    p = commands.add_parser("sign", help="sign an app in place, nested code first, with a "
                                         "PKCS#12 identity or ad hoc (portable signer)",
                            description="Sign APP in place: nested frameworks, plug-ins, helpers "
                                        "and dylibs first, then the app. Options for the app "
                                        "and for each nested item come from the release "
                                        "configuration's [signing] table (--config); the "
                                        "flags below override the app's.")
    p.add_argument("app", type=Path, metavar="APP")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--p12", type=Path, metavar="KEY.p12", help="the signing identity")
    who.add_argument("--adhoc", action="store_true",
                     help="ad-hoc signatures (no identity), as codesign -s -")
    p.add_argument("--config", type=Path, metavar="release.toml",
                   help="release configuration whose [signing] table to apply (the unsigned "
                        "tarball carries it, with the entitlements it names)")
    add_password_options(p)
    p.add_argument("--identifier", metavar="ID", help="code identifier (default: CFBundleIdentifier)")
    p.add_argument("--hardened-runtime", action="store_true", help="set the runtime flag (0x10000)")
    p.add_argument("--entitlements", type=Path, metavar="F", help="entitlements plist to embed")
    p.add_argument("--json", action="store_true", help="print the verification report as JSON")
    p.set_defaults(handler=_sign)

    p = commands.add_parser("staple", help="staple a notarization ticket to an app "
                                           "(Contents/CodeResources, as stapler does)")
    p.add_argument("app", type=Path, metavar="APP")
    p.add_argument("ticket", type=Path, metavar="TICKET")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_staple)


def _staple(args: argparse.Namespace) -> int:
    from ..codesign.staple import staple_app
    from ..codesign.verify import verify_path
    try:
        ticket = args.ticket.read_bytes()
    except OSError as exc:
        raise InputError(f"{args.ticket}: cannot read: {exc.strerror}") from None
    staple_app(args.app, ticket)
    report = verify_path(args.app)
    if not args.json:
        print(f"{args.app}: ticket {report.ticket}")
    return _print_report(report, args.json)


def _detach(args: argparse.Namespace) -> int:
    from ..codesign.detach import detach
    from ..epoch import source_date_epoch
    detach(args.signed, args.output, epoch=source_date_epoch())
    if args.json:
        from ..tarball import read_members
        emit_json({"output": os.fspath(args.output),
                   "members": {n: len(d) for n, d in sorted(read_members(args.output).items())}})
    else:
        print(f"{args.output}: signatures of {args.signed}")
    return 0


def summary_line(what: str, ok: bool, kind: str | None, identifier: str | None,
                 cdhash: str | None, **extra: str | None) -> str:
    """One verified signature on one line: state, kind, identifier, cdhash,
    then the extras that have a value (signer, bundle, ticket...)."""
    tail = "".join(f", {name} {value}" for name, value in extra.items() if value)
    return (f"{what}: {'ok' if ok else 'FAILED'}: {kind or 'unsigned'}, identifier "
            f"{identifier}, cdhash {cdhash}{tail}")


def _print_report(report, as_json: bool) -> int:
    from ..textescape import shown     # identifiers and names come from the files
    if as_json:
        emit_json(report.to_json())
    else:
        for f in report.files:
            for s in f.slices:
                print(shown(summary_line(f"{f.path} ({s.arch})", s.ok, s.kind, s.identifier,
                                         s.cdhash, signer=s.signer, bundle=f.bundle)))
    return 0 if report.ok else report_failures(report.failures)


def _apply(args: argparse.Namespace) -> int:
    from ..codesign.apply import apply
    from ..codesign.verify import verify_path
    apply(args.unsigned, args.signatures, args.output)
    return _print_report(verify_path(args.output), args.json)


def _verify(args: argparse.Namespace) -> int:
    from ..codesign.verify import verify_path
    anchors = [read_certificate(path) for path in args.anchor] if args.anchor else None
    return _print_report(verify_path(args.path, anchors=anchors, apple_root=args.apple_root),
                         args.json)


def read_certificate(path: Path) -> bytes:
    """DER bytes of the certificate in ``path`` (DER, or PEM as exported by
    Keychain Access and openssl); anything else is refused naming the file
    rather than reported later as a malformed CMS."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
        x509.load_der_x509_certificate(data)
        return data
    except ValueError as exc:
        raise InputError(f"{path}: not a DER or PEM certificate ({exc})") from None


def p12_password(args: argparse.Namespace) -> str | None:
    """The PKCS#12 password from --password-file or the environment variable:
    never from the command line, where `ps` and shell history would show it."""
    if args.password_file is not None:
        try:
            return args.password_file.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, UnicodeError, IndexError) as exc:
            raise InputError(f"{args.password_file}: cannot read a password line ({exc})") from None
    return os.environ.get(args.password_env)


def add_password_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password-env", default=P12_PASSWORD_ENV, metavar="VAR",
                   help=f"environment variable holding the p12 password (default {P12_PASSWORD_ENV}; "
                        "unset means no password)")
    p.add_argument("--password-file", type=Path, metavar="F",
                   help="read the p12 password from the first line of this file instead")


def _sign(args: argparse.Namespace) -> int:
    from ..codesign.sign import Identity, ItemOptions, read_entitlements, sign_tree
    from ..codesign.verify import verify_path
    from ..epoch import source_date_epoch
    password = p12_password(args)
    main, items = ItemOptions(), {}
    if args.config is not None:
        from ..build.config import load_signing
        from ..build.signature import signing_options
        main, items = signing_options(load_signing(args.config), args.config.parent)
    main = ItemOptions(args.identifier or main.identifier,
                       read_entitlements(args.entitlements) if args.entitlements
                       else main.entitlements,
                       args.hardened_runtime or main.hardened_runtime)
    identity = None if args.adhoc else Identity.from_p12(
        args.p12, password.encode() if password is not None else None)
    sign_tree(args.app, identity, main=main, items=items, epoch=source_date_epoch())
    return _print_report(verify_path(args.app), args.json)
