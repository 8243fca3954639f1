"""Files shipped beside the code: the bundle templates, the SDK pins and the
toolchain recipes with their patches.

In a checkout they are the project's ``templates/``, ``sdk/`` and
``patches/`` folders; an installed wheel carries the same files as
``pipeline/resources/<folder>`` (pyproject.toml maps the folders there), so
``reprodmg build`` works from a user's own repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]


def _shipped(name: str) -> Path:
    installed = _PACKAGE / "resources" / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


TEMPLATES_DIR = _shipped("templates")
SDK_PINS_DIR = _shipped("sdk")
PATCHES_DIR = _shipped("patches")
