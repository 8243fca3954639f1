"""`reprodmg sdk`: macOS SDK tarballs: pack, verify, build (demo SDK recipe),
extract (from Apple's downloads)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..build import sdk as sdk_lib
from .. import tarball
from ..errors import InputError
from ..build.tomlfile import SHA256_RE
from ..jsonfile import sha256_file
from .output import emit_json, report_failures


def _pack(args: argparse.Namespace) -> int:
    digest = sdk_lib.pack(args.sdk_dir, args.output)
    if args.json:
        emit_json({"output": os.fspath(args.output), "sha256": digest})
    else:
        print(f"{digest}  {args.output}")
    return 0


def _expected(args: argparse.Namespace) -> tuple[str, str | None]:
    if args.pin is not None:
        pin = sdk_lib.load_pin(args.pin)
        return pin.sha256, os.fspath(args.pin)
    if args.sha256 is not None:
        value = args.sha256.lower()
        if not SHA256_RE.match(value):
            raise InputError(f"--sha256: {args.sha256!r} is not 64 hex digits")
        return value, None
    raise InputError("sdk verify: give --pin sdk/NAME.toml or --sha256 HEX")


def _verify(args: argparse.Namespace) -> int:
    expected, pin = _expected(args)
    # Hash first: nothing of a tarball with the wrong hash is parsed.
    actual = sha256_file(args.tarball)
    ok = actual == expected
    members = tarball.check_members(args.tarball) if ok else None
    if args.json:
        emit_json({"tarball": os.fspath(args.tarball), "pin": pin, "sha256": expected,
                   "actual_sha256": actual, "members": None if members is None else len(members),
                   "ok": ok})
    elif ok:
        print(f"{args.tarball}: OK (sha256 {expected}, {len(members)} members, "
              "all safe to extract)")
    else:
        print(f"{args.tarball}: FAILED (sha256 {actual}, pinned {expected})")
    if not ok:
        return report_failures([f"{args.tarball}: SDK tarball refused before extraction: "
                                f"expected sha256 {expected}, actual sha256 {actual}"])
    return 0


def _build(args: argparse.Namespace) -> int:
    pin = sdk_lib.load_pin(args.pin)
    out = Path(args.output or f"{pin.name}.tar")
    digest = sdk_lib.build_tarball(pin, args.cache, out)
    matches = digest == pin.sha256
    if args.json:
        emit_json({"output": os.fspath(out), "sha256": digest, "pinned_sha256": pin.sha256,
                   "matches_pin": matches})
    else:
        print(f"{digest}  {out}")
        print("matches the pin" if matches else f"DIFFERS from the pin {pin.sha256}")
    return 0 if matches else 1


def _extract(args: argparse.Namespace) -> int:
    from ..build import sdk_extract
    from ..progress import TerminalProgress
    out = Path(args.output)
    if args.list:
        report = sdk_extract.list_sdks(args.input, out, progress=TerminalProgress())
        if args.json:
            emit_json(report)
        else:
            what = "Xcode" if report["kind"] == "xcode" else "Command Line Tools"
            print(f"{args.input}: {what} {report['version']} {report['build']}".rstrip())
            for sdk in report["sdks"]:
                link = f" -> {sdk['link_to']}" if sdk["link_to"] else ""
                print(f"  {sdk['name']}{link}  {sdk['version']} {sdk['build']}".rstrip())
        return 0
    report = sdk_extract.extract(args.input, out, sdk_name=args.sdk, progress=TerminalProgress())
    if args.json:
        emit_json({**report, "tarball": os.fspath(out / report["tarball"])})
    else:
        print(f"{report['sha256']}  {out / report['tarball']}")
        print(f"\n# sdk/{report['tarball'].removesuffix('.tar')}.toml\n{report['pin']}", end="")
    return 0


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("sdk", help="macOS SDK tarballs: pack, verify, build, extract")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    pack = commands.add_parser(
        "pack", help="deterministic tarball of an SDK folder",
        description="Pack SDK_DIR as a deterministic tarball (sorted, mtime 0, uid/gid 0, "
                    "no owner names, modes 0755/0644, PAX, uncompressed) and print its sha256.")
    pack.add_argument("sdk_dir", metavar="SDK_DIR")
    pack.add_argument("-o", "--output", required=True, metavar="NAME.tar")
    pack.add_argument("--json", action="store_true", help="machine-readable output")
    pack.set_defaults(handler=_pack)

    verify = commands.add_parser(
        "verify", help="check an SDK tarball against its pin",
        description="Hash TARBALL and compare with the pin (before reading it), then check "
                    "that every member is safe to extract.")
    verify.add_argument("tarball", metavar="TARBALL")
    verify.add_argument("--pin", metavar="sdk/NAME.toml", help="the SDK pin to check against")
    verify.add_argument("--sha256", metavar="HEX")
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    verify.set_defaults(handler=_verify)

    build = commands.add_parser(
        "build", help="make a pinned SDK tarball from its recipe (demo SDK from the ziglang wheel)",
        description="Download the pinned wheel with pip (hash-checked), build the SDK tarball, "
                    "and compare its sha256 with the pin (exit 1 if it differs).")
    build.add_argument("--pin", required=True, metavar="sdk/NAME.toml",
                       help="the SDK pin whose recipe to run")
    build.add_argument("-o", "--output", metavar="NAME.tar")
    build.add_argument("--cache", default=os.environ.get("REPRODMG_CACHE") or "build/cache",
                       metavar="DIR",
                       help="where the wheel is kept (default $REPRODMG_CACHE, as for doit, "
                            "else build/cache)")
    build.add_argument("--json", action="store_true", help="machine-readable output")
    build.set_defaults(handler=_build)

    extract = commands.add_parser(
        "extract", help="the SDK tarball from an Xcode .xip, a .pkg or an Xcode.app folder",
        description="Stream INPUT (Xcode .xip, Command Line Tools .pkg, or an extracted "
                    "Xcode.app), keep only the SDK, and write "
                    "Xcode-<version>-<build>-extracted-SDK-with-libcxx-headers.tar as Bitcoin "
                    "Core's gen-sdk.py writes it; print its sha256 and an sdk/ pin.")
    extract.add_argument("input", metavar="INPUT")
    extract.add_argument("-o", "--output", default=".", metavar="DIR",
                         help="folder for the tarball (default: the current folder)")
    extract.add_argument("--sdk", metavar="NAME.sdk",
                         help="which SDK of the input (default MacOSX.sdk; see --list)")
    extract.add_argument("--list", action="store_true", help="list the SDKs found, write nothing")
    extract.add_argument("--json", action="store_true", help="machine-readable output")
    extract.set_defaults(handler=_extract)
