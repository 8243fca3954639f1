"""The signed path's first stage: a pinned detached-signature tarball is
checked, applied to the unsigned app and verified before the image stage
makes the signed DMG from the result."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..codesign.apply import apply
from ..codesign.verify import verify_path
from ..errors import VerificationError
from .bundle import normalise_tree
from ..jsonfile import sha256_file


def apply_signature(unsigned_app: str | os.PathLike, sig_tar: str | os.PathLike,
                    sig_sha256: str, out_app: str | os.PathLike, *, epoch: int = 0) -> Path:
    """The signed path's first stages: pinned signature tarball -> apply -> verify.

    The tarball's hash is checked against the release configuration's pin
    before it is opened; ``pipeline.codesign.apply`` refuses signatures that
    do not fit and verifies the result; the verification is repeated here
    on the final tree, which then gets the bundle's fixed modes and times.
    """
    actual = sha256_file(sig_tar)
    if actual != sig_sha256:
        raise VerificationError(f"{sig_tar}: signature tarball refused: expected sha256 "
                                f"{sig_sha256} (release configuration), actual sha256 {actual}")
    out = Path(out_app)
    if out.exists():
        shutil.rmtree(out)
    apply(Path(unsigned_app), Path(sig_tar), out)
    try:
        verify_path(out).raise_for_failure()
        normalise_tree(out, epoch)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out
