"""Code signatures of UDIF disk images: what Apple's codesign writes for a
.dmg, and the notarization ticket stapler adds to it.

Layout (Apple's Security sources, libsecurity_codesigning diskimagerep.cpp,
signer.cpp, diskrep.cpp; checked byte for byte on an image signed by
codesign, tests/data/sparkle-dmg):

    [data fork ... property list][SuperBlob][koly]

- koly (the last 512 bytes) ``codeSignatureOffset`` (at 296) and
  ``codeSignatureLength`` (at 304): the SuperBlob fills exactly the bytes
  between its offset and the koly, no padding; an unsigned image has 0/0.
  Signing writes the SuperBlob where the koly was (or over the old
  signature), the koly after it, and truncates.
- CodeDirectory: one hash (pageSize 0, "none") over ``[0, codeLimit)``, the
  code limit being the signature's offset (the koly's position in an
  unsigned image); special slot 2 the requirements blob's hash, slot 6
  (cdRepSpecificSlot) the hash of the koly "prepared" for signing:
  codeSignatureOffset = code limit, codeSignatureLength = 0.  nSpecialSlots
  6, slots 1, 3, 4, 5 zero.  Version 0x20100, or 0x20200 with the team id
  of the signing certificate; flags 2 (adhoc) or 0; SHA-256; platform and
  execSeg 0.
- Identifier: codesign's canonical identifier of the file name (the last
  extension dropped unless numeric, then numeric suffixes after the first:
  ``Hello-1.0.0.dmg`` -> ``Hello-1``); ad hoc and without a dot, ``-`` and
  the hex SHA-1 of the prepared koly are appended.
- SuperBlob (0xfade0cc0), slots in order: 0 CodeDirectory, 2 requirements
  (empty for ad hoc; the designated requirement with an identity), 0x10000
  CMS in a blob wrapper (empty for ad hoc), 0x10002 the stapled ticket in a
  blob wrapper.  Stapling adds or replaces slot 0x10002 and changes only
  codeSignatureLength: the ticket is not hashed and the prepared koly has
  length 0, so the signature stays valid.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..atomic import atomic_output
from ..errors import CorruptError, InputError, UnsupportedError
from . import blobs
from .cms import build_signed_data, verify_cms
from .requirements import DESIGNATED_REQUIREMENT, requirements_blob

KOLY_SIZE = 512
KOLY_MAGIC = b"koly"
SIGNATURE_OFFSET_FIELD = 296      # koly codeSignatureOffset, u64 big-endian
SIGNATURE_LENGTH_FIELD = 304      # koly codeSignatureLength
CSSLOT_REP_SPECIFIC = 6
CSSLOT_TICKET = 0x10002
MAX_SIGNATURE = 16 << 20
_PIECE = 1 << 20

Progress = Callable[[str, int, int], None]


@dataclass
class ImageSignature:
    """A disk image's trailer and signature, as the file holds them."""
    path: str
    size: int
    koly: bytes                   # the raw trailer
    data_end: int                 # what the code hash covers: [0, data_end)
    superblob: bytes | None       # None: unsigned

    @property
    def prepared_koly(self) -> bytes:
        return prepare_koly(self.koly, self.data_end)

    @property
    def blob(self) -> blobs.SuperBlob | None:
        if self.superblob is None:
            return None
        return blobs.SuperBlob.parse(self.superblob, blobs.BlobContext(self.path, "disk image",
                                                                       self.data_end))

    def code_directory(self) -> blobs.CodeDirectory | None:
        sb = self.blob
        if sb is None:
            return None
        raw = sb.get(blobs.CSSLOT_CODEDIRECTORY)
        if raw is None:
            raise CorruptError(self.path, "disk image signature", "no CodeDirectory (slot 0)",
                               self.data_end)
        return blobs.CodeDirectory.parse(raw, blobs.BlobContext(self.path, "disk image",
                                                                self.data_end))

    def ticket(self) -> bytes | None:
        sb = self.blob
        raw = sb.get(CSSLOT_TICKET) if sb is not None else None
        return blobs.blob_payload(raw) if raw is not None else None


def prepare_koly(koly: bytes, data_end: int) -> bytes:
    """The koly as the signature hashes it: offset = code limit, length 0."""
    out = bytearray(koly)
    struct.pack_into(">QQ", out, SIGNATURE_OFFSET_FIELD, data_end, 0)
    return bytes(out)


def read_signature(path: str | os.PathLike) -> ImageSignature:
    """The trailer and, when there is one, the SuperBlob; refuses a
    signature that does not fill the space before the koly exactly (as
    Apple's reader does)."""
    name = os.fspath(path)
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size < KOLY_SIZE:
            raise CorruptError(name, "koly", f"{size} bytes is too short for a disk image", 0)
        f.seek(size - KOLY_SIZE)
        koly = f.read(KOLY_SIZE)
        if koly[:4] != KOLY_MAGIC:
            raise CorruptError(name, "koly.signature", "no 'koly' trailer: not a UDIF image",
                               size - KOLY_SIZE)
        offset, length = struct.unpack_from(">QQ", koly, SIGNATURE_OFFSET_FIELD)
        koly_at = size - KOLY_SIZE
        if offset == 0 and length == 0:
            return ImageSignature(name, size, koly, koly_at, None)
        if offset + length != koly_at or length > MAX_SIGNATURE or length < 12:
            raise CorruptError(name, "koly.codeSignatureOffset/Length",
                               f"a {length}-byte signature at {offset} does not end where the "
                               f"koly starts ({koly_at})", koly_at + SIGNATURE_OFFSET_FIELD)
        f.seek(offset)
        superblob = f.read(length)
    magic, blob_length = struct.unpack_from(">II", superblob, 0)
    if magic != blobs.CSMAGIC_EMBEDDED_SIGNATURE or blob_length != length:
        raise CorruptError(name, "disk image signature SuperBlob",
                           f"magic {magic:#x}, length {blob_length}: not a {length}-byte "
                           "embedded signature", offset)
    return ImageSignature(name, size, koly, offset, superblob)


def canonical_identifier(filename: str) -> str:
    """codesign's default identifier for a file name (DiskRep::canonicalIdentifier)."""
    s = filename.rsplit("/", 1)[-1]
    dot = s.rfind(".")
    if dot != -1 and not s[dot + 1:dot + 2].isdigit():
        s = s[:dot]
    if not s or s[0] in "0123456789.":
        return s
    p = len(s) - 1
    while p >= 0 and s[p] in "0123456789.":
        p -= 1
    p += 1
    if p < len(s) and s[p] == ".":
        p += 1
    while p < len(s) and s[p] in "0123456789":
        p += 1
    return s[:p]


def default_identifier(filename: str, prepared_koly: bytes, adhoc: bool) -> str:
    identifier = canonical_identifier(filename)
    if adhoc and "." not in identifier:
        identifier += "-" + hashlib.sha1(prepared_koly).hexdigest()
    return identifier


def _hash_range(path: str, end: int, progress: Progress | None,
                algorithm: str = "sha256") -> bytes:
    digest = hashlib.new(algorithm)
    done = 0
    with open(path, "rb") as f:
        while done < end:
            piece = f.read(min(_PIECE, end - done))
            if not piece:
                raise CorruptError(path, "disk image data", f"ends at {done}, before {end}")
            digest.update(piece)
            done += len(piece)
            if progress:
                progress("hashing the image", done, end)
    return digest.digest()


def build_signature(image: ImageSignature, identity=None, *, identifier: str | None = None,
                    epoch: int = 0, progress: Progress | None = None) -> bytes:
    """The SuperBlob codesign writes for this image (``identity`` None: ad hoc;
    otherwise a ``sign.Identity``)."""
    if image.data_end > 0xFFFFFFFF:
        raise UnsupportedError(f"{image.path}: signing a disk image over 4 GiB (codeLimit64) "
                               "is not supported")
    prepared = image.prepared_koly
    ident = identifier or default_identifier(Path(image.path).name, prepared, identity is None)
    team = identity.team_id if identity is not None else None
    cd = blobs.CodeDirectory(version=0x20200 if team else 0x20100,
                             flags=blobs.CS_ADHOC if identity is None else 0,
                             identifier=ident, team_id=team, code_limit=image.data_end,
                             page_size_log2=0)
    if identity is None:
        req = blobs.EMPTY_REQUIREMENTS
    else:
        req = requirements_blob({DESIGNATED_REQUIREMENT: identity.designated_requirement(ident)})
    cd.special_hashes = {blobs.CSSLOT_REQUIREMENTS: cd.hash(req),
                         CSSLOT_REP_SPECIFIC: cd.hash(prepared)}
    cd.n_special_slots = CSSLOT_REP_SPECIFIC
    cd.code_hashes = [_hash_range(image.path, image.data_end, progress)]
    cd_blob = cd.pack()
    if identity is None:
        cms_der = b""
    else:
        from .sign import signing_time
        cms_der = build_signed_data([(cd_blob, "sha256")], identity.der(identity.leaf),
                                    [identity.der(c) for c in identity.chain], identity.key,
                                    signing_time(epoch))
    entries = [(blobs.CSSLOT_CODEDIRECTORY, cd_blob), (blobs.CSSLOT_REQUIREMENTS, req),
               (blobs.CSSLOT_SIGNATURESLOT, blobs.blob_wrapper(cms_der))]
    return blobs.SuperBlob(blobs.CSMAGIC_EMBEDDED_SIGNATURE, entries).pack()


def write_signed(image: ImageSignature, superblob: bytes, out: str | os.PathLike) -> None:
    """``out``: the image's data, ``superblob`` and the koly pointing at it,
    written to a temporary file and renamed (``out`` may be the input)."""
    koly = bytearray(image.koly)
    struct.pack_into(">QQ", koly, SIGNATURE_OFFSET_FIELD, image.data_end, len(superblob))
    # atomic_output renames only at the end, so ``out`` may be the input.
    with open(image.path, "rb") as src, atomic_output(out) as dst:
        left = image.data_end
        while left:
            piece = src.read(min(_PIECE, left))
            if not piece:
                raise CorruptError(image.path, "disk image data", "ends early")
            dst.write(piece)
            left -= len(piece)
        dst.write(superblob)
        dst.write(bytes(koly))


def sign_image(path: str | os.PathLike, identity=None, *, out: str | os.PathLike | None = None,
               identifier: str | None = None, epoch: int = 0,
               progress: Progress | None = None) -> None:
    """Sign (or re-sign) a disk image as codesign does; in place by default."""
    image = read_signature(path)
    superblob = build_signature(image, identity, identifier=identifier, epoch=epoch,
                                progress=progress)
    write_signed(image, superblob, out or path)


def staple_image(path: str | os.PathLike, ticket: bytes, *,
                 out: str | os.PathLike | None = None) -> None:
    """Add (or replace) the notarization ticket in a signed image's SuperBlob."""
    image = read_signature(path)
    sb = image.blob
    if sb is None:
        raise InputError(f"{image.path}: not signed: sign the image before stapling a ticket")
    if not ticket:
        raise InputError("the ticket is empty")
    entries = [(slot, raw) for slot, raw in sb.entries if slot != CSSLOT_TICKET]
    entries.append((CSSLOT_TICKET, blobs.blob_wrapper(ticket)))
    entries.sort(key=lambda e: e[0])
    write_signed(image, blobs.SuperBlob(sb.magic, entries).pack(), out or path)


@dataclass
class ImageReport:
    path: str
    signed: bool
    identifier: str | None = None
    cdhash: str | None = None
    kind: str | None = None          # "ad hoc" or "identity"
    signer: str | None = None
    team_id: str | None = None
    ticket: str | None = None        # None, "stapled (cdhash listed)" or a problem
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.signed and not self.failures

    def to_json(self) -> dict:
        return {"path": self.path, "signed": self.signed, "ok": self.ok,
                "identifier": self.identifier, "cdhash": self.cdhash, "kind": self.kind,
                "signer": self.signer, "team_id": self.team_id, "ticket": self.ticket,
                "failures": list(self.failures)}


def verify_image_signature(path: str | os.PathLike, *, anchors: list[bytes] | None = None,
                           apple_root: bool = False,
                           progress: Progress | None = None) -> ImageReport:
    """Every hash of the image's signature, its CMS and, when asked, the chain."""
    image = read_signature(path)
    report = ImageReport(image.path, image.superblob is not None)
    if image.superblob is None:
        report.failures.append("the image is not signed (koly codeSignatureLength 0)")
        return report
    sb = image.blob
    cd = image.code_directory()
    report.identifier, report.cdhash = cd.identifier, cd.cdhash().hex()
    report.team_id = cd.team_id
    report.kind = "ad hoc" if cd.flags & blobs.CS_ADHOC else "identity"
    fail = report.failures.append
    if cd.code_limit != image.data_end:
        fail(f"CodeDirectory.codeLimit {cd.code_limit} is not the signature's offset "
             f"{image.data_end}")
    elif len(cd.code_hashes) != 1 or cd.page_size_log2 != 0:
        fail(f"CodeDirectory: {len(cd.code_hashes)} code slots of 2**{cd.page_size_log2} bytes; "
             "a disk image has one hash over the whole image")
    elif cd.code_hashes[0] != _hash_of(cd, image, progress):
        fail(f"image data [0, {image.data_end}): its hash does not match the CodeDirectory's "
             "code slot (the image was changed after signing)")
    koly_hash = cd.special_hashes.get(CSSLOT_REP_SPECIFIC)
    if koly_hash != cd.hash(image.prepared_koly):
        fail("koly trailer: its hash (special slot 6) does not match (the trailer was changed "
             "after signing)")
    req = sb.get(blobs.CSSLOT_REQUIREMENTS)
    if req is not None and cd.special_hashes.get(blobs.CSSLOT_REQUIREMENTS) != cd.hash(req):
        fail("requirements blob (slot 2): its hash does not match the CodeDirectory")
    wrapper = sb.get(blobs.CSSLOT_SIGNATURESLOT)
    cms_der = blobs.blob_payload(wrapper) if wrapper is not None else b""
    if cms_der:
        result = verify_cms(cms_der, [(0, cd.raw, blobs.HASH_TYPES[cd.hash_type][0])],
                            anchors, apple_root)
        report.signer = result.signer
        report.failures.extend(f"CMS: {f}" for f in result.failures)
    elif not cd.flags & blobs.CS_ADHOC:
        fail("no CMS signature, but the CodeDirectory is not marked ad hoc")
    ticket = image.ticket()
    if ticket is not None:
        if cd.cdhash() in ticket:
            report.ticket = "stapled (lists this cdhash)"
        else:
            report.ticket = "stapled"
            fail(f"stapled ticket does not list this image's cdhash {cd.cdhash().hex()}")
    return report


def _hash_of(cd: blobs.CodeDirectory, image: ImageSignature, progress: Progress | None) -> bytes:
    name, size = blobs.HASH_TYPES[cd.hash_type]
    return _hash_range(image.path, image.data_end, progress, name)[:size]



# ---------------------------------------------------------------------------
# Detached: the signer's SuperBlob travels to builders who have the same image

SIGNATURE_MEMBER = "disk-image-signature/superblob"
INFO_MEMBER = "disk-image-signature/image.json"


def _data_sha256(image: ImageSignature) -> str:
    return _hash_range(image.path, image.data_end, None).hex()


def detach_signature(signed: str | os.PathLike, out_tar: str | os.PathLike, *,
                     epoch: int = 0) -> dict:
    """``out_tar``: the image's SuperBlob (ticket included) and what it fits:
    the data's length and SHA-256 and the prepared koly's SHA-256."""
    import json
    from ..tarball import pack_members
    image = read_signature(signed)
    if image.superblob is None:
        raise InputError(f"{image.path}: not signed: nothing to detach")
    cd = image.code_directory()
    info = {"image": Path(image.path).name, "data_length": image.data_end,
            "data_sha256": _data_sha256(image),
            "koly_sha256": hashlib.sha256(image.prepared_koly).hexdigest(),
            "cdhash": cd.cdhash().hex(), "identifier": cd.identifier,
            "ticket": image.ticket() is not None}
    pack_members({INFO_MEMBER: (json.dumps(info, indent=2, sort_keys=True) + "\n").encode(),
                  SIGNATURE_MEMBER: image.superblob}, out_tar, mtime=epoch)
    return info


def apply_signature(unsigned: str | os.PathLike, sig_tar: str | os.PathLike,
                    out: str | os.PathLike) -> ImageReport:
    """The image with the detached signature; refused, naming what differs,
    when the signature was made for other bytes.  The result is verified;
    ``out`` is written only when it verifies."""
    import json
    from ..errors import VerificationError
    from ..tarball import read_members
    members = read_members(sig_tar, max_member=MAX_SIGNATURE)
    for name in (INFO_MEMBER, SIGNATURE_MEMBER):
        if name not in members:
            raise InputError(f"{sig_tar}: no {name}: not a disk image signature tarball")
    try:
        info = json.loads(members[INFO_MEMBER])
        want_length, want_data, want_koly = (int(info["data_length"]), str(info["data_sha256"]),
                                             str(info["koly_sha256"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptError(os.fspath(sig_tar), INFO_MEMBER, f"not the expected JSON ({exc})") \
            from None
    image = read_signature(unsigned)
    problems = []
    if image.data_end != want_length:
        problems.append(f"image data is {image.data_end} bytes, the signature covers "
                        f"{want_length}")
    elif (have_data := _data_sha256(image)) != want_data:
        problems.append(f"image data [0, {want_length}) has other bytes (sha256 "
                        f"{have_data}, the signature's {want_data})")
    if hashlib.sha256(image.prepared_koly).hexdigest() != want_koly:
        problems.append("koly trailer differs from the one the signature hashes")
    if problems:
        raise VerificationError(f"{unsigned}: the signature in {sig_tar} was made for another "
                                "image (another build?): " + "; ".join(problems))
    out = Path(out)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        write_signed(image, members[SIGNATURE_MEMBER], tmp_name)
        report = verify_image_signature(tmp_name)
        if not report.ok:
            raise VerificationError(f"{unsigned} + {sig_tar}: the signed image does not "
                                    "verify: " + "; ".join(report.failures))
        os.replace(tmp_name, out)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    report.path = os.fspath(out)
    return report
