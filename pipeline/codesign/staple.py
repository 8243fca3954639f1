"""Stapling a notarization ticket to an app bundle, as Apple's stapler does:
the ticket's bytes, unchanged, as ``Contents/CodeResources`` (a name the
bundle seal leaves out, so the signature stays valid).  The disk image's
ticket goes into its signature instead (``diskimage.staple_image``)."""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import atomic_write_bytes
from ..errors import InputError
from .verify import STAPLED_TICKET

MAX_TICKET = 1 << 20


def staple_app(app: str | os.PathLike, ticket: bytes) -> Path:
    """Write ``ticket`` into ``app``; returns the file written."""
    app = Path(app)
    contents = app / "Contents"
    if not contents.is_dir() or contents.is_symlink():
        raise InputError(f"{app}: not an app bundle (no Contents folder)")
    if not ticket or len(ticket) > MAX_TICKET:
        raise InputError(f"the ticket is {len(ticket)} bytes; expected 1..{MAX_TICKET}")
    target = app / STAPLED_TICKET
    if target.is_symlink():
        raise InputError(f"{target}: a symbolic link; refusing to write through it")
    atomic_write_bytes(target, ticket)
    os.chmod(target, 0o644)
    return target
