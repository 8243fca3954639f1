"""Where the reference corpus lives, and how the tests find the oracles
they run (shared by every layer's tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _find_corpus() -> Path:
    override = os.environ.get("REPRODMG_CORPUS")
    candidates = [Path(override)] if override else []
    candidates += [REPO.parent / "shared" / "corpus", REPO / "shared" / "corpus"]
    for cand in candidates:
        if (cand / "hdiutil").is_dir():
            return cand
    raise RuntimeError(
        "reference corpus not found: expected ../shared/corpus beside the checkout "
        "(or set REPRODMG_CORPUS)")


CORPUS = _find_corpus()
HDIUTIL_CORPUS = CORPUS / "hdiutil"
SIGNAPPLE_CORPUS = CORPUS / "signapple-x86"


def require_tool(name: str) -> str:
    """Path of an external oracle; a missing one is a failure, not a skip.

    .ci/setup installs every oracle, so a missing tool means a broken setup.
    """
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"oracle {name!r} is not installed; run .ci/setup")
    return path


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)
