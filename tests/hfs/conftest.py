"""HFS+ test fixtures, made once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from hfs_corpus import HFS_DMGS, extract_volume


@pytest.fixture(scope="session")
def volumes(tmp_path_factory) -> dict[str, Path]:
    """The corpus HFS+ volumes, taken out of their DMGs by 7-Zip."""
    d = tmp_path_factory.mktemp("corpus")
    return {n: extract_volume(n, d) for n in HFS_DMGS}
