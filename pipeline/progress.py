"""Progress for long operations: shown on a terminal, silent in CI and pipes.

Format libraries never draw anything: their long operations take an
optional ``progress`` callback, ``progress(label, done, total)``, and the
front ends (the CLI, doit actions) hand them a ``TerminalProgress``.
"""

from __future__ import annotations

import os
import sys
from typing import Callable, TextIO

# What a format library calls: (what is being done, units done, units in all).
ProgressCallback = Callable[[str, int, int], None]


def _wanted(stream: TextIO) -> bool:
    # REPRODMG_PROGRESS=0 / =1 forces it off / on; otherwise a terminal
    # outside CI gets it.
    forced = os.environ.get("REPRODMG_PROGRESS")
    if forced is not None:
        return forced not in ("", "0")
    return stream.isatty() and not os.environ.get("CI")


class Progress:
    """A one-line counter on stderr, drawn only when stderr is a terminal.

    ``REPRODMG_PROGRESS=0`` or ``CI`` in the environment silences it;
    ``REPRODMG_PROGRESS=1`` forces it on.
    """

    def __init__(self, label: str, total: int | None = None,
                 stream: TextIO | None = None, unit: str = "") -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = _wanted(self.stream)
        self._last_pct = -1

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.total:
            pct = min(100, self.done * 100 // self.total)
            if pct == self._last_pct:
                return
            self._last_pct = pct
            self.stream.write(f"\r{self.label}: {pct:3d}%")
        else:
            self.stream.write(f"\r{self.label}: {self.done}{self.unit}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TerminalProgress:
    """A ``ProgressCallback`` drawing one line per label on stderr (when wanted)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = _wanted(self.stream)
        self._label: str | None = None
        self._pct = -1

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if label != self._label:
            if self._label is not None:
                self.stream.write("\n")
            self._label, self._pct = label, -1
        pct = min(100, done * 100 // total) if total else 100
        if pct != self._pct:
            self._pct = pct
            self.stream.write(f"\r{label}: {pct:3d}%")
            if done >= total:
                self.stream.write("\n")
                self._label = None
            self.stream.flush()
