"""Fixtures every layer's tests share; each layer's folder has its own
conftest.py for the rest, and tests/support/ holds the helper modules."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The helper modules (tests/support) are imported by name from every folder.
sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

from helpers import CACHE, CORPUS, PIN  # noqa: E402


@pytest.fixture(scope="session")
def corpus() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def cache() -> Path:
    """The pinned SDK tarball, made once from the pinned wheel and shared by every build."""
    from pipeline.build import sdk
    sdk.obtain_tarball(sdk.load_pin(PIN), CACHE)
    return CACHE


# CI runs the property tests derandomized: a landing gate must not depend on
# the luck of the draw.  Local runs keep exploring new examples.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")
