"""Build test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.build import sdk
from test_build import CACHE, PIN


@pytest.fixture(scope="session")
def cache() -> Path:
    """The pinned SDK tarball, made once from the pinned wheel and shared by every build."""
    sdk.obtain_tarball(sdk.load_pin(PIN), CACHE)
    return CACHE
