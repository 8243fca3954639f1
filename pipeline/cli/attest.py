"""`reprodmg attest` and `reprodmg attestations check`: builders' signed
statements of what they built, and their comparison (docs/reproducibility.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .output import emit_json, report_failures


def register(groups: argparse._SubParsersAction) -> None:
    p = groups.add_parser("attest", help="sign what this build produced (SSH or OpenPGP key)",
                          description="Write OUT/attestation.json (the release's SHA256SUMS, "
                                      "build manifest digest, toolchain identity, builder name) "
                                      "and its detached signature.")
    p.add_argument("release_dir", type=Path, metavar="RELEASE_DIR",
                   help="the build's output folder (SHA256SUMS, build-manifest.json)")
    p.add_argument("--builder", required=True, help="your name as in the allowed signers")
    key = p.add_mutually_exclusive_group(required=True)
    key.add_argument("--ssh-key", type=Path, metavar="KEY",
                     help="SSH private key (ssh-keygen -Y sign, namespace reprodmg)")
    key.add_argument("--gpg-key", metavar="ID", help="OpenPGP key id (gpg --detach-sign)")
    p.add_argument("--gpg-home", type=Path, metavar="DIR", help="GnuPG home folder")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                   help="folder for attestation.json and its signature (one per builder)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_attest)

    q = groups.add_parser("attestations", help="check and compare builders' attestations")
    sub = q.add_subparsers(dest="command", metavar="COMMAND", required=True)
    c = sub.add_parser("check", help="verify every builder's signature and compare the sums",
                       description="DIR holds one folder per builder, each with "
                                   "attestation.json and its signature. Exit 0 only when "
                                   "every signature verifies and every artifact has one digest.")
    c.add_argument("folder", type=Path, metavar="DIR")
    c.add_argument("--allowed-signers", type=Path, metavar="FILE",
                   help="ssh-keygen allowed signers (principal = builder name)")
    c.add_argument("--gpg-home", type=Path, metavar="DIR",
                   help="GnuPG home holding the builders' public keys")
    c.add_argument("--json", action="store_true")
    c.set_defaults(handler=_check)


def _attest(args: argparse.Namespace) -> int:
    from ..build.attestation import DOCUMENT, attest
    from ..jsonfile import read_json
    out = attest(args.release_dir, args.output, builder=args.builder, ssh_key=args.ssh_key,
                 gpg_key=args.gpg_key, gpg_home=args.gpg_home)
    if args.json:
        emit_json(read_json(out / DOCUMENT))
    else:
        print(f"{out / DOCUMENT}: attestation of {args.builder}, signed")
    return 0


def _check(args: argparse.Namespace) -> int:
    from ..build.attestation import check, format_table
    report = check(args.folder, allowed_signers=args.allowed_signers, gpg_home=args.gpg_home)
    if args.json:
        emit_json(report.to_json())
    else:
        print(format_table(report), end="")
    return 0 if report.agree else report_failures(report.problems())
