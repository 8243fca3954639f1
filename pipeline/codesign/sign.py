"""A portable Developer-ID-shaped signer (no Mac, no codesign).

Per Mach-O slice: a SHA-256 CodeDirectory (0x20500 with the hardened
runtime, else 0x20400; special slots Info.plist -1, Requirements -2,
CodeResources -3, Entitlements -5), a Requirements blob holding the
designated requirement, the entitlements as given, and a CMS SignedData
over the CodeDirectory with contentType, signingTime, messageDigest and
Apple's CDHashes attributes (see cms.py).  Room is made with the same
rules as codesign_allocate (allocate.py).

Reproducible by construction: signingTime comes from SOURCE_DATE_EPOCH,
RSA PKCS#1 v1.5 signatures are deterministic, and every walk is sorted - so
signing the same app with the same key twice gives the same bytes.  (ECDSA
keys work, but their signatures are randomised.)  Not done: timestamps from
a TSA, SHA-1 alternate CodeDirectories for pre-10.11 systems, DER
entitlements (slot -7), nested bundles with their own Info.plist.
"""

from __future__ import annotations

import datetime as _dt
import os
import plistlib
import shutil
from pathlib import Path

from cryptography import x509 as cx509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ..atomic import atomic_write_bytes
from ..errors import InputError
from ..macho import MachOSlice, build_universal, read_macho
from . import blobs
from .allocate import allocate, default_dataoff, round_up
from .bundle import bundle_parts, macho_files, read_info_plist
from .cms import build_signed_data
from .coderesources import build_code_resources
from .requirements import (AppleGenericAnchor, CertField, CertGenericExists, CertHash,
                           DESIGNATED_REQUIREMENT, Expr, Ident, SLOT_ROOT, all_of, oid_contents,
                           requirements_blob)

OID_DEVELOPER_ID_LEAF = "1.2.840.113635.100.6.1.13"
OID_DEVELOPER_ID_INTERMEDIATE = "1.2.840.113635.100.6.2.6"


class Identity:
    """Private key, leaf certificate and the rest of the chain from a .p12."""

    def __init__(self, key, leaf: cx509.Certificate, chain: list[cx509.Certificate]) -> None:
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise InputError("signing key: only RSA and EC keys are supported")
        self.key = key
        self.leaf = leaf
        self.chain = chain

    @classmethod
    def from_p12(cls, path: Path, password: bytes | None) -> "Identity":
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        try:
            key, leaf, extra = pkcs12.load_key_and_certificates(data, password)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InputError(f"{path}: not a PKCS#12 file, or wrong password ({exc})") from None
        if key is None or leaf is None:
            raise InputError(f"{path}: the PKCS#12 file has no private key and certificate")
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise InputError(f"{path}: a {type(key).__name__}; only RSA and EC signing keys "
                             "are supported")
        return cls(key, leaf, list(extra or []))

    def der(self, cert: cx509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.DER)

    @property
    def team_id(self) -> str | None:
        ou = self.leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        return str(ou[0].value) if ou else None

    def designated_requirement(self, identifier: str) -> Expr:
        leaf_oids = {ext.oid.dotted_string for ext in self.leaf.extensions}
        team = self.team_id
        if OID_DEVELOPER_ID_LEAF in leaf_oids and team:
            # codesign's Developer ID requirement (see `codesign -d -r-`).
            return all_of(Ident(identifier), AppleGenericAnchor(),
                          CertGenericExists(1, oid_contents(OID_DEVELOPER_ID_INTERMEDIATE),
                                            OID_DEVELOPER_ID_INTERMEDIATE),
                          CertGenericExists(0, oid_contents(OID_DEVELOPER_ID_LEAF),
                                            OID_DEVELOPER_ID_LEAF),
                          CertField(0, "subject.OU", team))
        # Any other identity: pin the chain's root by its SHA-1, as codesign
        # does for self-signed and private-CA identities.
        root = self.chain[-1] if self.chain else self.leaf
        return all_of(Ident(identifier), CertHash(SLOT_ROOT, root.fingerprint(hashes.SHA1())))


def signing_time(epoch: int) -> _dt.datetime:
    """The CMS signing time for a build's epoch (SOURCE_DATE_EPOCH): signing
    never reads the clock, so the same inputs sign to the same bytes."""
    return _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc)


def sign_slice(sl: MachOSlice, identity: Identity, identifier: str, *,
               info_plist: bytes | None = None, code_resources: bytes | None = None,
               entitlements: bytes | None = None, hardened_runtime: bool = False,
               epoch: int = 0) -> bytearray:
    """The slice's bytes signed with ``identity``."""
    text = sl.segment("__TEXT")
    if text is None:
        raise InputError(f"{sl.path}: {sl.arch}: no __TEXT segment")
    when = signing_time(epoch)
    req = requirements_blob({DESIGNATED_REQUIREMENT: identity.designated_requirement(identifier)})
    ent = blobs.entitlements_blob(entitlements) if entitlements is not None else None
    dataoff = default_dataoff(sl)
    version = 0x20500 if hardened_runtime else 0x20400
    cd = blobs.CodeDirectory(
        version=version, flags=blobs.CS_RUNTIME if hardened_runtime else 0, identifier=identifier,
        team_id=identity.team_id, code_limit=dataoff, page_size_log2=12,
        exec_seg_base=text.fileoff, exec_seg_limit=text.filesize,
        exec_seg_flags=blobs.CS_EXECSEG_MAIN_BINARY if sl.filetype == 0x2 else 0,
        runtime=(sl.build_version.sdk if sl.build_version else 0) if hardened_runtime else 0)
    special = {blobs.CSSLOT_REQUIREMENTS: cd.hash(req)}
    if info_plist is not None:
        special[blobs.CSSLOT_INFOSLOT] = cd.hash(info_plist)
    if code_resources is not None:
        special[blobs.CSSLOT_RESOURCEDIR] = cd.hash(code_resources)
    if ent is not None:
        special[blobs.CSSLOT_ENTITLEMENTS] = cd.hash(ent)
    cd.special_hashes = special
    cd.n_special_slots = max(special)

    def superblob(code: memoryview | None) -> bytes:
        # code None: the sizes only (every hash has the same length)
        cd.code_hashes = cd.expected_code_hashes(code) if code is not None else \
            [bytes(cd.hash_size)] * -(-dataoff // cd.page_size)
        cd_blob = cd.pack()
        cms_der = build_signed_data([(cd_blob, "sha256")], identity.der(identity.leaf),
                                    [identity.der(c) for c in identity.chain], identity.key, when)
        entries = [(blobs.CSSLOT_CODEDIRECTORY, cd_blob), (blobs.CSSLOT_REQUIREMENTS, req)]
        if ent is not None:
            entries.append((blobs.CSSLOT_ENTITLEMENTS, ent))
        entries.append((blobs.CSSLOT_SIGNATURESLOT, blobs.blob_wrapper(cms_der)))
        return blobs.SuperBlob(blobs.CSMAGIC_EMBEDDED_SIGNATURE, entries).pack()

    estimate = len(superblob(None))
    # RSA signatures have a fixed length; an ECDSA signature's DER varies by
    # a few bytes, so leave room for that.
    slack = 16 if isinstance(identity.key, ec.EllipticCurvePrivateKey) else 0
    size = round_up(estimate + slack, 16)
    data = allocate(sl, size, dataoff)
    with memoryview(data) as view:
        sig = superblob(view[:dataoff])
    if len(sig) > size:
        raise AssertionError("signature outgrew its estimate")
    data[dataoff:dataoff + len(sig)] = sig
    return data


def sign_file(path: Path, identity: Identity, identifier: str, **options) -> bytes:
    """Sign every slice of one Mach-O file in place; return the first
    slice's cdhash (what a CodeResources seal records for nested code)."""
    macho = read_macho(path)
    slices = [sign_slice(sl, identity, identifier, **options) for sl in macho.slices]
    fat = macho.fat
    del macho                      # the input bytes are no longer needed
    data = slices[0] if fat is None else build_universal(fat, slices)
    mode = os.stat(path).st_mode & 0o7777
    atomic_write_bytes(path, data)
    os.chmod(path, mode)
    first = read_macho(path).slices[0]
    return blobs.CodeDirectory.parse(blobs.SuperBlob.parse(first.signature_bytes()).get(0)).cdhash()


def sign_app(app: Path, p12: Path, password: bytes | None, identifier: str | None = None,
             hardened_runtime: bool = False, entitlements: Path | None = None,
             epoch: int = 0) -> None:
    """Sign ``app`` (a bundle folder, or one Mach-O file) in place; ``epoch``
    (seconds since 1970) is the signing time."""
    app = Path(app)
    identity = Identity.from_p12(p12, password)
    ent_bytes = None
    if entitlements is not None:
        try:
            ent_bytes = Path(entitlements).read_bytes()
            if not isinstance(plistlib.loads(ent_bytes), dict):
                raise ValueError("top level is not a dictionary")
        except OSError as exc:
            raise InputError(f"{entitlements}: cannot read: {exc.strerror}") from None
        except Exception as exc:
            raise InputError(f"{entitlements}: not an entitlements plist ({exc})") from None
    if app.is_file():
        sign_file(app, identity, identifier or app.name, entitlements=ent_bytes,
                  hardened_runtime=hardened_runtime, epoch=epoch)
        return
    if not app.is_dir():
        raise InputError(f"{app}: no such file or folder")
    parts = bundle_parts(app)
    if parts.main_executable is None or parts.info_plist is None:
        raise InputError(f"{app}: not a bundle: no Info.plist with a CFBundleExecutable that exists")
    info = read_info_plist(parts.info_plist)
    ident = identifier or info.get("CFBundleIdentifier") or parts.main_executable.name
    if not isinstance(ident, str) or not ident:
        raise InputError(f"{parts.info_plist}: CFBundleIdentifier is not a string")

    nested_seals: dict[Path, tuple[bytes, str]] = {}
    nested = [p for p in macho_files(app) if p != parts.main_executable]
    # Innermost code first: a seal records the cdhash of code already signed.
    for path in sorted(nested, key=lambda p: (-len(p.parts), p.as_posix())):
        nested_ident = path.stem if "." in path.name else path.name
        cdhash = sign_file(path, identity, nested_ident, hardened_runtime=hardened_runtime,
                           epoch=epoch)
        nested_seals[path] = (cdhash, identity.designated_requirement(nested_ident).text())

    def nested_info(path: Path) -> tuple[bytes, str]:
        if path not in nested_seals:
            raise InputError(f"{path}: nested bundles are not supported by the portable signer")
        return nested_seals[path]

    sig_dir = parts.code_resources.parent
    if sig_dir.exists():
        shutil.rmtree(sig_dir)
    resources = build_code_resources(parts.contents, parts.main_rel, nested_info)
    sig_dir.mkdir()
    os.chmod(sig_dir, 0o755)
    atomic_write_bytes(parts.code_resources, resources)
    os.chmod(parts.code_resources, 0o644)
    sign_file(parts.main_executable, identity, ident,
              info_plist=parts.info_plist.read_bytes(), code_resources=resources,
              entitlements=ent_bytes, hardened_runtime=hardened_runtime, epoch=epoch)
