"""What a standalone code signature says about itself: the summary that
``dmg info`` shows for a disk image's own signature (a SuperBlob that
``codesign`` places after the image's property list)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import CorruptError, ReprodmgError
from .blobs import (CSSLOT_SIGNATURESLOT, HASH_TYPES, BlobContext, CodeDirectory, SuperBlob,
                    blob_payload)
from .cms import verify_cms


@dataclass
class SignatureSummary:
    identifier: str
    cdhash: str                   # hex, of the primary CodeDirectory
    hash_type: int
    code_directories: int
    signer: str | None            # the CMS leaf certificate's subject; None when ad hoc
    problems: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"identifier": self.identifier, "cdhash": self.cdhash,
                "hash_type": self.hash_type, "code_directories": self.code_directories,
                "signer": self.signer, "problems": self.problems}


def summarise_signature(blob: bytes, path: str, base: int = 0) -> SignatureSummary:
    """Parse ``blob`` (a SuperBlob found at file offset ``base`` of ``path``)."""
    ctx = BlobContext(path, "", base)
    superblob = SuperBlob.parse(blob, ctx)
    cds = superblob.code_directories()
    if not cds:
        raise CorruptError(path, "code signature", "SuperBlob holds no CodeDirectory", base)
    primary = CodeDirectory.parse(cds[0][1], ctx)
    signer, problems = None, []
    cms_blob = superblob.get(CSSLOT_SIGNATURESLOT)
    if cms_blob is not None and blob_payload(cms_blob):
        listed = [(slot, cd_blob, HASH_TYPES[CodeDirectory.parse(cd_blob, ctx).hash_type][0])
                  for slot, cd_blob in cds]
        try:
            result = verify_cms(blob_payload(cms_blob), listed)
            signer = result.signer or None
            problems = list(result.failures)
        except ReprodmgError as exc:
            problems = [str(exc)]
    return SignatureSummary(primary.identifier, primary.cdhash().hex(), primary.hash_type,
                            len(cds), signer, problems)

