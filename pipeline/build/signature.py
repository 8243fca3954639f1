"""Signatures in the build: the release's ``[signing]`` options as the signer
applies them, the optional ad-hoc signing of the unsigned bundle, and the
signed path's first stage (a pinned detached-signature tarball is checked,
applied to the unsigned app and verified before the image stage makes the
signed DMG from the result)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from typing import TYPE_CHECKING

from ..codesign.apply import apply
from ..codesign.diskimage import apply_signature as apply_image_signature
from ..codesign.sign import ItemOptions, read_entitlements, sign_tree
from ..codesign.verify import verify_path
from .bundle import normalise_tree
from ..jsonfile import require_sha256, sha256_file

if TYPE_CHECKING:
    from .config import SigningConfig


def signing_options(signing: "SigningConfig", root: str | os.PathLike
                    ) -> tuple[ItemOptions, dict[str, ItemOptions]]:
    """``[signing]`` as the signer's options: the app's, and each listed
    item's (entitlements read relative to ``root``, the configuration's folder)."""
    root = Path(root)

    def ent(rel: str | None) -> bytes | None:
        return read_entitlements(root / rel) if rel else None

    main = ItemOptions(signing.identifier, ent(signing.entitlements), signing.hardened_runtime)
    items = {i.path: ItemOptions(i.identifier, ent(i.entitlements),
                                 signing.hardened_runtime if i.hardened_runtime is None
                                 else i.hardened_runtime)
             for i in signing.items}
    return main, items


def adhoc_sign(app: str | os.PathLike, signing: "SigningConfig", root: str | os.PathLike, *,
               epoch: int) -> None:
    """Ad-hoc sign the unsigned bundle, nested code first (``[signing] adhoc``),
    so that an arm64 app with frameworks runs without a Developer ID."""
    main, items = signing_options(signing, root)
    sign_tree(Path(app), None, main=main, items=items, epoch=epoch)
    verify_path(app).raise_for_failure()
    normalise_tree(Path(app), epoch)


def apply_dmg_signature(dmg: str | os.PathLike, sig_tar: str | os.PathLike, sig_sha256: str,
                        info_path: str | os.PathLike) -> None:
    """The signed DMG gets its own signature (and stapled ticket) from the
    pinned tarball the signer detached from the same bytes; the image info
    records it.  Refused, naming what differs, when it was made for another
    image."""
    from ..jsonfile import read_json, write_json
    require_sha256(sig_tar, sig_sha256, "disk image signature tarball refused (pinned in "
                   "[signature] dmg)")
    report = apply_image_signature(dmg, sig_tar, dmg)
    info = read_json(info_path)
    info["dmg_signature"] = {"tarball_sha256": sig_sha256, "cdhash": report.cdhash,
                             "identifier": report.identifier, "kind": report.kind,
                             "ticket": report.ticket, "signed_dmg_sha256": sha256_file(dmg)}
    write_json(info_path, info)


def apply_signature(unsigned_app: str | os.PathLike, sig_tar: str | os.PathLike,
                    sig_sha256: str, out_app: str | os.PathLike, *, epoch: int = 0) -> Path:
    """The signed path's first stages: pinned signature tarball -> apply -> verify.

    The tarball's hash is checked against the release configuration's pin
    before it is opened; ``pipeline.codesign.apply`` refuses signatures that
    do not fit and verifies the result; the verification is repeated here
    on the final tree, which then gets the bundle's fixed modes and times.
    """
    require_sha256(sig_tar, sig_sha256, "signature tarball refused (pinned in [signature])")
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
