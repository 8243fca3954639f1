"""SafeDestination remembers which folders resolve inside the root (so a
million files in a thousand folders resolve a thousand paths); a link made
afterwards must make it resolve again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.safedest import SafeDestination


class Outside(Exception):
    pass


def _dest(tmp_path: Path) -> SafeDestination:
    return SafeDestination(tmp_path / "dest", lambda rel: Outside(rel))


def test_a_symbolic_link_made_later_is_resolved_again(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with _dest(tmp_path) as out:
        out.target("a/first")               # "a" is not there yet: resolves inside
        out.symlink("a", str(elsewhere))
        with pytest.raises(Outside):
            out.target("a/second")
    assert not any(elsewhere.iterdir())


def test_a_hard_link_to_a_symbolic_link_is_resolved_again(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "link")
    with _dest(tmp_path) as out:
        out.target("b/first")
        out.hard_link("b", str(tmp_path / "link"))   # link(2) does not follow it
        with pytest.raises(Outside):
            out.target("b/second")


def test_folders_made_here_stay_resolved(tmp_path):
    with _dest(tmp_path) as out:
        out.makedirs("x/y")
        assert out.target("x/y/f") == os.path.join(os.path.realpath(tmp_path / "dest"),
                                                   "x/y/f")
