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

import itertools
import json
import sys
from typing import Any, Iterable, Iterator

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


# Listings longer than this are printed as they are read; shorter ones are
# printed whole or, when the input turns out damaged, not at all.
STREAM_AFTER = 10_000


def _held(items: Iterable[Any], hold: int) -> tuple[list[Any], Iterator[Any]]:
    it = iter(items)
    return list(itertools.islice(it, hold)), it


def emit_lines(lines: Iterable[str], hold: int = STREAM_AFTER) -> None:
    """Write text lines; a long listing streams instead of being held."""
    first, rest = _held(lines, hold)
    sys.stdout.write("".join(first))
    for line in rest:
        sys.stdout.write(line)


def emit_json_streaming(obj: dict, key: str, items: Iterable[Any],
                        hold: int = STREAM_AFTER) -> None:
    """``emit_json({**obj, key: list(items)})``, byte for byte, without
    holding a long list: past ``hold`` items, they are written as they come
    (a damaged input then ends the document early, and the command fails)."""
    first, rest = _held(items, hold)
    if len(first) < hold:
        emit_json({**obj, key: first})
        return
    marker = "\0reprodmg-stream\0"
    head, tail = canonical_json({**obj, key: [marker]}).decode("utf-8").split(
        json.dumps(marker), 1)
    indent = head[head.rindex("\n") + 1:]          # the list items' indentation
    out = sys.stdout
    out.write(head[:len(head) - len(indent)])
    for n, item in enumerate(itertools.chain(first, rest)):
        text = json.dumps(item, indent=2, sort_keys=True, ensure_ascii=False)
        out.write((",\n" if n else "") + indent + text.replace("\n", "\n" + indent))
    out.write(tail)
