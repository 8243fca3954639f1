"""The CMS signature in slot 0x10000 (BlobWrapper 0xFADE0B01).

A Developer ID signature is a detached CMS SignedData over the primary
CodeDirectory blob, with signed attributes contentType, signingTime,
messageDigest, and Apple's two CDHashes attributes:
  1.2.840.113635.100.9.1  a plist {cdhashes: [data, ...]} - every CD's hash
                          truncated to 20 bytes, primary first;
  1.2.840.113635.100.9.2  SET OF SEQUENCE {digest OID, full CD hash}.
Both are restated from signapple's and rcodesign's public descriptions and
checked against the corpus's real Apple signature.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import plistlib
from dataclasses import dataclass, field

from asn1crypto import algos, cms, core, x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import load_der_x509_certificate

OID_CDHASHES_PLIST = "1.2.840.113635.100.9.1"
OID_CDHASHES_DIGESTS = "1.2.840.113635.100.9.2"

# Apple's public root, pinned by its published SHA-256 fingerprint ("Apple
# Root CA", valid to 2035; https://www.apple.com/certificateauthority/).
# Developer ID and Apple Development chains end here; the certificate itself
# travels inside every Apple CMS signature.
APPLE_ROOT_CA_SHA256 = "b0b1730ecbc7ff4505142c49f1295e6eda6bcaed7e2c68c5be91b5a11001f024"

_HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
           "sha512": hashes.SHA512}


class CMSProblem(Exception):
    """Internal: one failed check, turned into a report line by verify."""


@dataclass
class CMSResult:
    signer: str = ""
    signing_time: str | None = None
    certificates: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _digest(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()


def _signed_attrs_der(signer_info: cms.SignerInfo) -> bytes:
    # The signature covers the attributes DER-encoded as a SET OF (tag 0x31),
    # not with the [0] IMPLICIT tag they carry inside SignerInfo (RFC 5652 5.4).
    der = bytearray(signer_info["signed_attrs"].dump())
    der[0] = 0x31
    return bytes(der)


def _verify_with_cert(cert_der: bytes, sig_algo: str, hash_algo: str, signature: bytes,
                      data: bytes) -> None:
    try:
        key = load_der_x509_certificate(cert_der).public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        # asn1crypto parses lazily and accepts what cryptography refuses,
        # e.g. an unknown public-key algorithm OID.
        raise CMSProblem(f"certificate public key cannot be used ({exc})") from None
    h = _HASHES.get(hash_algo)
    if h is None:
        raise CMSProblem(f"digest algorithm {hash_algo} is not supported")
    # The SignerInfo's signatureAlgorithm is not itself signed: it must name
    # the leaf key's algorithm (asn1crypto names, e.g. "sha256_rsa",
    # "rsassa_pkcs1v15", "sha256_ecdsa"), never an unknown OID.
    rsa_algo = sig_algo in ("rsassa_pkcs1v15", "rsassa_pss") or sig_algo.endswith("_rsa")
    ec_algo = sig_algo == "ecdsa" or sig_algo.endswith("_ecdsa")
    if isinstance(key, rsa.RSAPublicKey) and not rsa_algo or \
            isinstance(key, ec.EllipticCurvePublicKey) and not ec_algo:
        raise CMSProblem(f"signature algorithm {sig_algo} does not fit the "
                         f"{type(key).__name__} of the certificate")
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if sig_algo == "rsassa_pss":
                key.verify(signature, data, padding.PSS(padding.MGF1(h()), padding.PSS.AUTO), h())
            else:
                key.verify(signature, data, padding.PKCS1v15(), h())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(h()))
        else:
            raise CMSProblem(f"leaf key type {type(key).__name__} is not supported")
    except InvalidSignature:
        raise CMSProblem("CMS signature does not verify with the leaf certificate") from None


def _find_leaf(signed_data: cms.SignedData, sid: cms.SignerIdentifier) -> x509.Certificate:
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if cert.issuer == sid.chosen["issuer"] and \
                    cert.serial_number == sid.chosen["serial_number"].native:
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise CMSProblem("the signer's certificate is not in the CMS certificate set")


def verify_cms(der: bytes, code_directories: list[tuple[int, bytes, str]],
               anchors: list[bytes] | None = None, apple_root: bool = False) -> CMSResult:
    """Check a CMS signature against the CodeDirectories it seals.

    ``code_directories``: (slot, CD blob, hashlib name of its hash type),
    primary (slot 0) first.  ``anchors``: DER root certificates; when
    given, the certificate chain must end at one of them; ``apple_root``
    adds Apple's root (taken from the CMS, accepted by its pinned SHA-256).
    """
    result = CMSResult()
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise CMSProblem(f"content type {info['content_type'].native} is not signed_data")
        sd = info["content"]
        if sd["encap_content_info"]["content"].native is not None:
            raise CMSProblem("CMS is not detached (it embeds content)")
        signer_infos = sd["signer_infos"]
        if len(signer_infos) != 1:
            raise CMSProblem(f"{len(signer_infos)} signer infos (expected 1)")
        si = signer_infos[0]
        leaf = _find_leaf(sd, si["sid"])
        result.signer = leaf.subject.human_friendly
        result.certificates = [c.chosen.subject.human_friendly for c in sd["certificates"] or []
                               if c.name == "certificate"]
        hash_algo = si["digest_algorithm"]["algorithm"].native
        if hash_algo not in _HASHES:
            raise CMSProblem(f"digest algorithm {hash_algo} is not supported")
        attrs = si["signed_attrs"]
        if not attrs:
            raise CMSProblem("no signed attributes")
        values: dict[str, core.Asn1Value] = {}
        for attr in attrs:
            values[attr["type"].dotted] = attr["values"]
        md = values.get("1.2.840.113549.1.9.4")
        if md is None:
            raise CMSProblem("no messageDigest attribute")
        primary = code_directories[0][1]
        if md[0].native != _digest(hash_algo, primary):
            raise CMSProblem("messageDigest does not match the CodeDirectory (slot 0)")
        st = values.get("1.2.840.113549.1.9.5")
        if st is not None:
            result.signing_time = st[0].native.astimezone(_dt.timezone.utc).isoformat()
        plist_attr = values.get(OID_CDHASHES_PLIST)
        if plist_attr is not None:
            try:
                listed = plistlib.loads(plist_attr[0].native).get("cdhashes", [])
            except Exception:
                raise CMSProblem("attribute 1.2.840.113635.100.9.1 is not a cdhashes plist") from None
            want = [_digest(name, blob)[:20] for _slot, blob, name in code_directories]
            if listed != want:
                raise CMSProblem("attribute 1.2.840.113635.100.9.1 (cdhashes plist) does not "
                                 "list the CodeDirectories' hashes")
        digests_attr = values.get(OID_CDHASHES_DIGESTS)
        if digests_attr is not None:
            have = {_digest(name, blob) for _slot, blob, name in code_directories}
            for item in digests_attr:
                seq = core.Sequence.load(item.dump()) if not isinstance(item, core.Sequence) else item
                digest = seq[1].native if len(seq) > 1 else None
                if digest not in have:
                    raise CMSProblem("attribute 1.2.840.113635.100.9.2 names a hash of no "
                                     "CodeDirectory")
        sig_algo = si["signature_algorithm"]["algorithm"].native
        sig_algo_base = "rsassa_pss" if sig_algo == "rsassa_pss" else sig_algo
        _verify_with_cert(leaf.dump(), sig_algo_base, hash_algo, si["signature"].native,
                          _signed_attrs_der(si))
        if anchors is not None or apple_root:
            roots = list(anchors or [])
            if apple_root:
                roots += [c.chosen.dump() for c in sd["certificates"] or []
                          if c.name == "certificate"
                          and hashlib.sha256(c.chosen.dump()).hexdigest() == APPLE_ROOT_CA_SHA256]
                if len(roots) == len(anchors or []):
                    raise CMSProblem("the CMS certificates do not include Apple Root CA")
            _check_chain(sd, leaf, roots)
    except CMSProblem as exc:
        result.failures.append(str(exc))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        result.failures.append(f"CMS structure is malformed ({exc.__class__.__name__}: {exc})")
    return result


def _check_chain(sd: cms.SignedData, leaf: x509.Certificate, anchors: list[bytes]) -> None:
    certs = [c.chosen for c in sd["certificates"] or [] if c.name == "certificate"]
    anchor_certs = [x509.Certificate.load(a) for a in anchors]
    current = leaf
    for _depth in range(10):
        if any(current.dump() == a.dump() for a in anchor_certs):
            return
        issuers = [c for c in certs + anchor_certs if c.subject == current.issuer
                   and c.dump() != current.dump()]
        if not issuers:
            raise CMSProblem(f"certificate chain stops at {current.subject.human_friendly!r}: "
                             "issuer not found")
        issuer = next((c for c in issuers if any(c.dump() == a.dump() for a in anchor_certs)),
                      issuers[0])
        algo = current["signature_algorithm"]
        try:
            _verify_with_cert(issuer.dump(), algo.signature_algo, algo.hash_algo,
                              current["signature_value"].native, current["tbs_certificate"].dump())
        except CMSProblem:
            raise CMSProblem(f"certificate {current.subject.human_friendly!r} is not signed by "
                             f"{issuer.subject.human_friendly!r}") from None
        current = issuer
    raise CMSProblem("certificate chain is longer than 10")


# ----------------------------------------------------------------------------- building
def cdhashes_plist(cdhashes: list[bytes]) -> bytes:
    """The 1.2.840.113635.100.9.1 payload, formatted as Apple's CFPropertyList
    writes it (plistlib's XML output is byte-identical for this shape)."""
    return plistlib.dumps({"cdhashes": cdhashes}, fmt=plistlib.FMT_XML)


def build_signed_data(code_directories: list[tuple[bytes, str]], leaf_der: bytes,
                      chain_der: list[bytes],
                      private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
                      signing_time: _dt.datetime) -> bytes:
    """Detached CMS SignedData over the primary CD, RSA PKCS#1 v1.5 or ECDSA, SHA-256.

    ``code_directories``: (CD blob, hashlib name), primary first.  The
    output is deterministic: no random numbers enter it when the key is RSA
    (PKCS#1 v1.5); ECDSA signatures use RFC 6979-free randomness in
    ``cryptography``, so reproducible signing needs an RSA key.
    """
    leaf = x509.Certificate.load(leaf_der)
    primary, _ = code_directories[0]
    digests = [_digest(name, blob) for blob, name in code_directories]
    set_of_digests = [_CDHashDigest({"algorithm": algos.DigestAlgorithmId.unmap(name),
                                     "digest": full})
                      for (_blob, name), full in zip(code_directories, digests)]
    attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": signing_time})
                                                            if signing_time.year < 2050 else
                                                            cms.Time({"generalized_time": signing_time})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(primary).digest()]}),
        _raw_attribute(OID_CDHASHES_DIGESTS, set_of_digests),
        _raw_attribute(OID_CDHASHES_PLIST,
                       [core.OctetString(cdhashes_plist([_digest(n, b)[:20]
                                                         for b, n in code_directories]))]),
    ])
    to_sign = bytearray(attrs.dump())
    to_sign[0] = 0x31
    if isinstance(private_key, rsa.RSAPrivateKey):
        signature = private_key.sign(bytes(to_sign), padding.PKCS1v15(), hashes.SHA256())
        sig_algo = "rsassa_pkcs1v15"
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        signature = private_key.sign(bytes(to_sign), ec.ECDSA(hashes.SHA256()))
        sig_algo = "sha256_ecdsa"
    else:
        raise TypeError("only RSA and EC keys are supported")
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
            "issuer": leaf.issuer, "serial_number": leaf.serial_number})}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": sig_algo}),
        "signature": signature,
    })
    certs = [x509.Certificate.load(d) for d in chain_der] + [leaf]
    sd = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "data"},
        "certificates": certs,
        "signer_infos": [signer],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()


class _CDHashDigest(core.Sequence):
    """One value of attribute 1.2.840.113635.100.9.2."""
    _fields = [("algorithm", core.ObjectIdentifier), ("digest", core.OctetString)]


class _AnyAttribute(core.Sequence):
    _fields = [("type", core.ObjectIdentifier), ("values", core.SetOf, {"spec": core.Any})]


def _raw_attribute(oid: str, values: list[core.Asn1Value]) -> cms.CMSAttribute:
    der = _AnyAttribute({"type": oid,
                         "values": [core.Any.load(v.dump()) for v in values]}).dump()
    return cms.CMSAttribute.load(der)
