"""Mach-O and code-signing test fixtures, made once per test session."""

from __future__ import annotations

import pytest

from macho_builder import Builder


@pytest.fixture(scope="session")
def builder(tmp_path_factory) -> Builder:
    return Builder(tmp_path_factory.mktemp("lld"))
