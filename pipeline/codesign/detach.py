"""Cut the signatures out of a signed app (or one Mach-O file).

The tarball holds, for every signed Mach-O slice, the bytes at
[dataoff, dataoff + datasize) as ``<relative path>.<arch>sign``, and every
``_CodeSignature/CodeResources``; paths are relative to the app folder (a
single file is named by its base name).  Pure Python, so a signer can run
it on a Mac right after ``codesign``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError, ReprodmgError
from ..macho import read_macho
from ..tarball import pack_members
from .bundle import macho_files, relative_name
from .coderesources import sealed_as_data

SIGN_SUFFIX = "sign"


def signature_members(signed: Path) -> dict[str, bytes]:
    signed = Path(signed)
    if not signed.exists():
        raise InputError(f"{signed}: no such file or folder")
    members: dict[str, bytes] = {}
    data_files = sealed_as_data(signed)
    for path in macho_files(signed):
        rel = relative_name(path, signed)
        try:
            slices = read_macho(path).slices
        except ReprodmgError:
            if path in data_files:
                continue          # sealed by its hash only (PowerPC, damaged): no signature to carry
            raise
        # Code a seal records by its hash (a helper app inside Resources) may
        # still have been signed by the signer: its signature travels too, or
        # the builders' copy would not match the hash the seal recorded.
        for sl in slices:
            sig = sl.signature_bytes()
            if sig is None or not any(sig):
                continue
            members[f"{rel}.{sl.arch}{SIGN_SUFFIX}"] = sig
    if signed.is_dir():
        for dirpath, dirnames, filenames in os.walk(signed):
            dirnames.sort()
            if Path(dirpath).name == "_CodeSignature" and "CodeResources" in filenames:
                res = Path(dirpath) / "CodeResources"
                if res.is_file() and not res.is_symlink():
                    members[relative_name(res, signed)] = res.read_bytes()
    if not members:
        raise InputError(f"{signed}: no signed Mach-O code found")
    # A stapled notarization ticket travels with the signatures.
    ticket = signed / "Contents" / "CodeResources"
    if signed.is_dir() and ticket.is_file() and not ticket.is_symlink():
        members["Contents/CodeResources"] = ticket.read_bytes()
    return members


def detach(signed: Path, out_tar: Path, *, epoch: int = 0) -> None:
    """Write the detached signatures of ``signed`` as a deterministic tarball
    whose entries carry ``epoch`` as their time."""
    pack_members(signature_members(Path(signed)), out_tar, mtime=epoch)
