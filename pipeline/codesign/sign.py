"""A portable Developer-ID-shaped signer (no Mac, no codesign).

Per Mach-O slice: a SHA-256 CodeDirectory (0x20500 with the hardened
runtime, else 0x20400; special slots Info.plist -1, Requirements -2,
CodeResources -3, Entitlements -5), a Requirements blob holding the
designated requirement, the entitlements as given, and a CMS SignedData
over the CodeDirectory with contentType, signingTime, messageDigest and
Apple's CDHashes attributes (see cms.py).  Room is made with the same
rules as codesign_allocate (allocate.py).

Without an identity the same shape is signed ad hoc (as ``codesign -s -``):
the CodeDirectory flagged adhoc, an empty requirement set, an empty CMS
wrapper; an outer seal then records nested code by ``cdhash H"..."``.

Bundles are signed inside out (``nested.py``): nested frameworks, plug-ins,
helpers and apps get their own CodeResources and sealed Info.plist before
the bundle that holds them records their cdhash and designated requirement.

Reproducible by construction: signingTime comes from SOURCE_DATE_EPOCH,
RSA PKCS#1 v1.5 signatures are deterministic, and every walk is sorted - so
signing the same app with the same key twice gives the same bytes.  (ECDSA
keys work, but their signatures are randomised.)  Not done: timestamps from
a TSA, SHA-1 alternate CodeDirectories for pre-10.11 systems, DER
entitlements (slot -7), bundles without a main executable.
"""

from __future__ import annotations

import datetime as _dt
import os
import plistlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Mapping

from cryptography import x509 as cx509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ..atomic import atomic_write_bytes
from ..errors import InputError
from ..macho import MachOSlice, read_macho
from . import blobs
from .allocate import default_dataoff, plan_allocation, round_up
from .bundle import read_info_plist
from .cms import build_signed_data
from .coderesources import build_code_resources
from .nested import signing_order
from .requirements import (AppleGenericAnchor, CertField, CertGenericExists, CertHash,
                           DESIGNATED_REQUIREMENT, Expr, Ident, SLOT_ROOT, all_of, oid_contents,
                           requirements_blob)
from .writeout import SliceWriter, write_macho

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


def sign_slice(sl: MachOSlice, identity: Identity | None, identifier: str, *,
               info_plist: bytes | None = None, code_resources: bytes | None = None,
               entitlements: bytes | None = None, hardened_runtime: bool = False,
               epoch: int = 0) -> SliceWriter:
    """The slice signed with ``identity`` (None: ad hoc), as a writer that
    streams it: the code is read, hashed and written a window at a time."""
    text = sl.segment("__TEXT")
    if text is None:
        raise InputError(f"{sl.path}: {sl.arch}: no __TEXT segment")
    when = signing_time(epoch)
    if identity is None:
        req = blobs.EMPTY_REQUIREMENTS
    else:
        req = requirements_blob({DESIGNATED_REQUIREMENT:
                                 identity.designated_requirement(identifier)})
    ent = blobs.entitlements_blob(entitlements) if entitlements is not None else None
    dataoff = default_dataoff(sl)
    version = 0x20500 if hardened_runtime else 0x20400
    flags = (blobs.CS_RUNTIME if hardened_runtime else 0) | \
        (blobs.CS_ADHOC if identity is None else 0)
    cd = blobs.CodeDirectory(
        version=version, flags=flags, identifier=identifier,
        team_id=identity.team_id if identity else None, code_limit=dataoff, page_size_log2=12,
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

    def superblob(code_hashes: list[bytes] | None) -> bytes:
        # code_hashes None: the sizes only (every hash has the same length)
        cd.code_hashes = code_hashes if code_hashes is not None else \
            [bytes(cd.hash_size)] * -(-dataoff // cd.page_size)
        cd_blob = cd.pack()
        cms_der = b"" if identity is None else build_signed_data(
            [(cd_blob, "sha256")], identity.der(identity.leaf),
            [identity.der(c) for c in identity.chain], identity.key, when)
        entries = [(blobs.CSSLOT_CODEDIRECTORY, cd_blob), (blobs.CSSLOT_REQUIREMENTS, req)]
        if ent is not None:
            entries.append((blobs.CSSLOT_ENTITLEMENTS, ent))
        entries.append((blobs.CSSLOT_SIGNATURESLOT, blobs.blob_wrapper(cms_der)))
        return blobs.SuperBlob(blobs.CSMAGIC_EMBEDDED_SIGNATURE, entries).pack()

    estimate = len(superblob(None))
    # RSA signatures have a fixed length; an ECDSA signature's DER varies by
    # a few bytes, so leave room for that.
    slack = 16 if identity and isinstance(identity.key, ec.EllipticCurvePrivateKey) else 0
    size = round_up(estimate + slack, 16)
    allocation = plan_allocation(sl, size, dataoff)

    def write(fh: BinaryIO) -> None:
        # One pass: each window is written and hashed; the signature, which
        # holds the hashes, follows the code it covers.
        hasher = blobs.PageHasher(cd)
        for chunk in allocation.chunks():
            fh.write(chunk)
            hasher.update(chunk)
        sig = superblob(hasher.digests())
        if len(sig) > size:
            raise AssertionError("signature outgrew its estimate")
        fh.write(sig)
        fh.write(bytes(size - len(sig)))

    return SliceWriter(allocation.size, write)


def sign_file(path: Path, identity: Identity | None, identifier: str, *,
              info_plist: bytes | None = None, **options) -> bytes:
    """Sign every slice of one Mach-O file in place; return the first
    slice's cdhash (what a CodeResources seal records for nested code).
    Without a bundle's ``info_plist``, a slice's own ``__info_plist``
    section is sealed in its place, as codesign does for a tool."""
    macho = read_macho(path)
    slices = [sign_slice(sl, identity, identifier,
                         info_plist=info_plist if info_plist is not None
                         else sl.embedded_info_plist(), **options)
              for sl in macho.slices]
    first = write_macho(path, macho.fat, slices, mode=os.stat(path).st_mode & 0o7777).slices[0]
    return blobs.CodeDirectory.parse(blobs.SuperBlob.parse(first.signature_bytes()).get(0)).cdhash()


@dataclass(frozen=True)
class ItemOptions:
    """How one piece of code is signed.  ``identifier`` None: the bundle's
    CFBundleIdentifier, or a loose file's name without its extension."""
    identifier: str | None = None
    entitlements: bytes | None = None
    hardened_runtime: bool = False


def read_entitlements(path: Path) -> bytes:
    """An entitlements plist's bytes, refused naming the file unless it is a dictionary."""
    try:
        data = Path(path).read_bytes()
        if not isinstance(plistlib.loads(data), dict):
            raise ValueError("top level is not a dictionary")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except Exception as exc:
        raise InputError(f"{path}: not an entitlements plist ({exc})") from None
    return data


def _requirement_text(identity: Identity | None, identifier: str, cdhash: bytes) -> str:
    """The designated requirement an outer seal records for nested code."""
    if identity is None:
        return f'cdhash H"{cdhash.hex()}"'
    return identity.designated_requirement(identifier).text()


def _embedded_identifier(path: Path) -> str | None:
    """The CFBundleIdentifier of a tool's embedded Info.plist (its first
    slice's), which codesign takes as the default identifier."""
    data = read_macho(path).slices[0].embedded_info_plist()
    if data is None:
        return None
    try:
        info = plistlib.loads(data)
    except Exception as exc:
        raise InputError(f"{path}: section __TEXT,__info_plist is not a property list "
                         f"({exc})") from None
    ident = info.get("CFBundleIdentifier") if isinstance(info, dict) else None
    if ident is not None and (not isinstance(ident, str) or not ident):
        raise InputError(f"{path}: section __TEXT,__info_plist: CFBundleIdentifier is not "
                         "a string")
    return ident


def sign_tree(app: Path, identity: Identity | None, *, main: ItemOptions = ItemOptions(),
              items: Mapping[str, ItemOptions] | None = None, epoch: int = 0) -> list[str]:
    """Sign ``app`` (a bundle folder, or one Mach-O file) in place, nested code
    first.  ``main`` applies to the outer bundle; ``items`` maps paths
    relative to ``app`` (``Contents/Frameworks/Foo.framework``,
    ``Contents/Helpers/tool``) to their own options; other nested code gets
    the outer bundle's hardened-runtime choice and no entitlements.
    Returns the signed paths (relative to ``app``) in the order signed."""
    app = Path(app)
    items = dict(items or {})
    if app.is_file():
        sign_file(app, identity, main.identifier or _embedded_identifier(app) or app.name,
                  entitlements=main.entitlements, hardened_runtime=main.hardened_runtime,
                  epoch=epoch)
        return [app.name]
    if not app.is_dir():
        raise InputError(f"{app}: no such file or folder")
    order = signing_order(app)
    if order[-1].parts.main_executable is None or order[-1].parts.info_plist is None:
        raise InputError(f"{app}: not a bundle: no Info.plist with a CFBundleExecutable "
                         "that exists")
    known = {b.root.relative_to(app).as_posix() for b in order[:-1]} | \
        {p.relative_to(app).as_posix() for b in order for p in b.loose}
    for rel in sorted(set(items) - known):
        raise InputError(f"signing options for {rel!r}: no nested bundle or Mach-O file "
                         f"there in {app}")
    nested_default = ItemOptions(hardened_runtime=main.hardened_runtime)
    seals: dict[Path, tuple[bytes, str]] = {}
    signed: list[str] = []
    for bundle in order:
        for path in bundle.loose:
            rel = path.relative_to(app).as_posix()
            opts = items.get(rel, nested_default)
            ident = opts.identifier or _embedded_identifier(path) or \
                (path.stem if "." in path.name else path.name)
            cdhash = sign_file(path, identity, ident, entitlements=opts.entitlements,
                               hardened_runtime=opts.hardened_runtime, epoch=epoch)
            seals[path] = (cdhash, _requirement_text(identity, ident, cdhash))
            signed.append(rel)
        parts = bundle.parts
        rel = bundle.root.relative_to(app).as_posix()
        opts = main if bundle.root == app else items.get(rel, nested_default)
        info = read_info_plist(parts.info_plist) if parts.info_plist else {}
        ident = opts.identifier or info.get("CFBundleIdentifier") or parts.main_executable.name
        if not isinstance(ident, str) or not ident:
            raise InputError(f"{parts.info_plist}: CFBundleIdentifier is not a string")

        def nested_info(path: Path) -> tuple[bytes, str]:
            if path not in seals:
                raise InputError(f"{path}: nested code that could not be signed (a bundle "
                                 "without a main executable?)")
            return seals[path]

        sig_dir = parts.code_resources.parent
        if sig_dir.exists():
            shutil.rmtree(sig_dir)
        resources = build_code_resources(parts.contents, parts.main_rel, nested_info)
        sig_dir.mkdir()
        os.chmod(sig_dir, 0o755)
        atomic_write_bytes(parts.code_resources, resources)
        os.chmod(parts.code_resources, 0o644)
        cdhash = sign_file(parts.main_executable, identity, ident,
                           info_plist=parts.info_plist.read_bytes() if parts.info_plist else None,
                           code_resources=resources, entitlements=opts.entitlements,
                           hardened_runtime=opts.hardened_runtime, epoch=epoch)
        seals[bundle.root] = (cdhash, _requirement_text(identity, ident, cdhash))
        signed.append(parts.main_executable.relative_to(app).as_posix())
    return signed


def sign_app(app: Path, p12: Path | None, password: bytes | None, identifier: str | None = None,
             hardened_runtime: bool = False, entitlements: Path | None = None,
             epoch: int = 0, items: Mapping[str, ItemOptions] | None = None) -> list[str]:
    """Sign ``app`` in place with the identity in ``p12`` (None: ad hoc);
    ``epoch`` (seconds since 1970) is the signing time."""
    identity = Identity.from_p12(p12, password) if p12 is not None else None
    main = ItemOptions(identifier, read_entitlements(entitlements) if entitlements else None,
                       hardened_runtime)
    return sign_tree(Path(app), identity, main=main, items=items, epoch=epoch)
