"""The ``reprodmg`` command line.

Each command group lives in its own module with a ``register(subparsers)``
function; handlers return an exit code.  Only ``ReprodmgError`` is expected
to escape a handler: it is printed as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from ..errors import ReprodmgError
from . import attest, build, dmg, hfs, layout, package, repro, sdk, sig, toolchain, verify
from .output import BROKEN_PIPE_STATUS

GROUPS = (build, package, hfs, dmg, layout, sig, sdk, toolchain, attest, verify, repro)


class _VersionAction(argparse.Action):
    # Like argparse's "version" action, but the report (which imports the
    # codec libraries) is only made when asked for.
    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from ..versions import version_report
        print(version_report())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reprodmg",
        description="Reproducible macOS apps and .dmg installers, built on Linux.")
    parser.add_argument("--version", action=_VersionAction,
                        help="show the version and the versions of the libraries that shape "
                             "output bytes, then exit")
    groups = parser.add_subparsers(dest="group", metavar="GROUP", required=True)
    for module in GROUPS:
        module.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.parse_args([*(argv or sys.argv[1:]), "--help"])
        return 2
    try:
        status = int(handler(args) or 0)
        # Buffered output meets a closed pipe here, not at interpreter exit
        # (where Python would turn it into status 120 and a complaint).
        sys.stdout.flush()
        return status
    except ReprodmgError as exc:
        print(f"reprodmg: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("reprodmg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): nothing more can be said, and
        # Python must not complain about it while flushing at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return BROKEN_PIPE_STATUS
    except OSError as exc:
        # A file-system error no reader turned into its own message (a name
        # too long, a full disk, a permission): one line naming the file.
        where = exc.filename if exc.filename is not None else "reprodmg"
        print(f"reprodmg: error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
