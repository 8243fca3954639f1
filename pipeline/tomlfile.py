"""Reading the project's TOML files (release configurations, SDK pins)."""

from __future__ import annotations

import os
import tomllib
from typing import Any

from .errors import InputError


def read_toml(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """Parse ``path``; every failure is an InputError naming the file.

    ``what`` says what the file was meant to be ("release configuration").
    """
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: not UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
