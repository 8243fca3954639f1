"""Shared test fixtures: where the reference corpus lives, and tool lookup."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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


@pytest.fixture(scope="session")
def corpus() -> Path:
    return CORPUS


def require_tool(name: str) -> str:
    """Path of an external oracle; a missing one is a failure, not a skip.

    .ci/setup installs every oracle, so a missing tool means a broken setup.
    """
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"oracle {name!r} is not installed; run .ci/setup")
    return path


# CI runs the property tests derandomized: a landing gate must not depend on
# the luck of the draw.  Local runs keep exploring new examples.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")
