"""Progress for long operations: shown on a terminal, silent in CI and pipes."""

from __future__ import annotations

import os
import sys
from typing import TextIO


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
        forced = os.environ.get("REPRODMG_PROGRESS")
        if forced is not None:
            self.enabled = forced not in ("", "0")
        else:
            self.enabled = self.stream.isatty() and not os.environ.get("CI")
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
