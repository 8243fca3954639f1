"""A self-signed code-signing identity made in the test (no Apple certificate)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


def make_identity(root: Path, password: bytes, *, common_name: str, team: str, serial: int,
                  key_usage: bool = False) -> tuple[Path, Path]:
    """Write ``signer.p12`` (key + certificate) and ``signer.pem`` (certificate) under root."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(dt.datetime(2020, 1, 1)).not_valid_after(dt.datetime(2040, 1, 1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    if key_usage:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, False, False, False),
            critical=True)
    cert = builder.sign(key, hashes.SHA256())
    p12 = root / "signer.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"signer", key, cert, None, serialization.BestAvailableEncryption(password)))
    pem = root / "signer.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return p12, pem
