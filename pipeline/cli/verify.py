"""`reprodmg verify --against SHA256SUMS [--rebuild release.toml] [DIR]`: local
(or freshly rebuilt) artifacts against a release's published sums (docs/reproducibility.md).  Exit 0 all the same,
3 when only a disk image's encoding differs (same expanded volume), 1 when
anything else differs or is missing."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from ..jsonfile import read_sha256sums
from .output import emit_json


def register(groups: argparse._SubParsersAction) -> None:
    p = groups.add_parser("verify", help="compare local artifacts with published SHA256SUMS")
    p.add_argument("--against", type=Path, required=True, metavar="SHA256SUMS",
                   help="the published sums (a build-manifest.json beside them is read too)")
    p.add_argument("folder", type=Path, nargs="?", metavar="DIR",
                   help="where the local artifacts are (default: the current folder); with "
                        "--rebuild, the build folder (default: a new temporary folder)")
    p.add_argument("--rebuild", type=Path, metavar="release.toml",
                   help="build the release first (reprodmg build, in a fresh folder) and "
                        "compare what it made")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_verify)


def _rebuild(release: Path, build_dir: Path | None, published: set[str]) -> Path:
    """Build ``release`` with ``reprodmg build`` into ``build_dir`` and return
    the output folder that holds the published artifacts."""
    from ..errors import InputError, VerificationError
    if not release.is_file():
        raise InputError(f"{release}: no such release configuration")
    build_dir = (build_dir or Path(tempfile.mkdtemp(prefix="reprodmg-verify-"))).absolute()
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "rebuild.log"
    with open(log, "wb") as out:
        proc = subprocess.run([sys.executable, "-m", "pipeline", "build", "--build-dir",
                               str(build_dir), str(release.absolute())], stdout=out,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    # Not reproduced either way: exit 1, like a differing artifact.
    if proc.returncode != 0:
        raise VerificationError(f"{release}: the rebuild failed (exit {proc.returncode}); "
                                f"its output is in {log}")
    for sums in sorted(build_dir.glob("*/SHA256SUMS")):
        if published & set(read_sha256sums(sums)):
            return sums.parent
    raise VerificationError(f"{build_dir}: the rebuild made none of the published artifacts")


def _verify(args: argparse.Namespace) -> int:
    from ..diff.published import check_against, format_report
    folder = args.folder or Path(".")
    if args.rebuild is not None:
        folder = _rebuild(args.rebuild, args.folder, set(read_sha256sums(args.against)))
        if not args.json:
            print(f"rebuilt {args.rebuild} in {folder}")
    report = check_against(args.against, folder)
    if args.json:
        emit_json(report.to_json())
    else:
        sys.stdout.write(format_report(report))
    return report.exit_code
