"""Shared helpers for command output: ``--json`` and human text.

The rules every command follows:
- a command's report (text, or canonical JSON with ``--json``) goes to stdout;
- a check that fails (``verify`` commands, ``dmg diff`` on differing images)
  still prints its whole report, then one ``reprodmg: error: ...`` line per
  problem on stderr, and exits 1;
- bad input (unreadable, damaged, wrong options) is one ``reprodmg: error:``
  line on stderr and exit 2;
- a reader that closes the pipe early (``| head``) ends the command quietly
  with status 141, as a shell reports a process stopped by SIGPIPE, so it is
  never mistaken for "failed" or "differs".
"""

from __future__ import annotations

import sys
from typing import Any, Iterable

from ..jsonfile import canonical_json


BROKEN_PIPE_STATUS = 141
CHECK_FAILED_STATUS = 1


def report_failures(problems: Iterable[str]) -> int:
    """Print each problem of a failed check on stderr; the status to exit with."""
    from ..textescape import shown      # problems quote names read from the files
    for problem in problems:
        print(f"reprodmg: error: {shown(problem)}", file=sys.stderr)
    return CHECK_FAILED_STATUS


def emit_json(obj: Any) -> None:
    sys.stdout.write(canonical_json(obj).decode("utf-8"))
