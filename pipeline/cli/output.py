"""Shared helpers for command output: ``--json`` and human text."""

from __future__ import annotations

import sys
from typing import Any

from ..jsonfile import canonical_json


def emit_json(obj: Any) -> None:
    sys.stdout.write(canonical_json(obj).decode("utf-8"))
