"""Writing the image variants besides UDIF: ``.sparseimage`` (UDSP),
``.sparsebundle`` (UDSB), and encryption (encrcdsa v2) around a UDIF file,
a sparse image or a bundle's bands.  Files appear under their final name
only when complete (``atomic_output``); a bundle is built beside its final
name and renamed."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..atomic import atomic_output
from ..errors import InputError
from . import encrypted, sparse

# hdiutil's format names for the variants, and the spellings people use.
VARIANT_NAMES = {"UDSP": "UDSP", "SPARSEIMAGE": "UDSP", "SPARSE": "UDSP",
                 "UDSB": "UDSB", "SPARSEBUNDLE": "UDSB"}


@dataclass(frozen=True)
class EncryptionOptions:
    passphrase: bytes
    key_bits: int = 256
    seed: bytes | None = None         # None: random keys (the safe default)
    iterations: int = 250_000

    def to_json(self) -> dict[str, Any]:
        return {"algorithm": f"AES-{self.key_bits}", "version": 2,
                "deterministic": self.seed is not None, "iterations": self.iterations}


def parse_encryption(name: str) -> int:
    """'AES-128' / 'AES-256' -> key bits."""
    bits = {"AES-128": 128, "AES-256": 256}.get(name.upper())
    if bits is None:
        raise InputError(f"--encryption {name!r}: expected AES-128 or AES-256")
    return bits


def container_format(name: str) -> str | None:
    """'UDSP' or 'UDSB' for the variant names, None for UDIF formats and raw."""
    return VARIANT_NAMES.get(name.upper())


def write_container(read: Callable[[int, int], bytes], size: int, out: str | os.PathLike,
                    target: str | None, encryption: EncryptionOptions | None) -> dict:
    """``size`` bytes from ``read`` as ``target`` ("UDSP", "UDSB", or None:
    the bytes as they are, i.e. an image file to encrypt)."""
    out = Path(out)
    result: dict[str, Any] = {"format": target or "encrypted", "image": out.name}
    if target == "UDSB":
        if out.exists():
            raise InputError(f"{out}: already exists (a bundle is a folder; remove it first)")
        tmp = out.with_name(f".{out.name}.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            token = b""
            band_read = read
            if encryption is not None:
                if size % 4096:
                    raise InputError(f"{out}: an encrypted bundle holds whole 4096-byte blocks; "
                                     f"the disk is {size} bytes")
                token, keys = encrypted.new_v2(encryption.passphrase, 0,
                                               key_bits=encryption.key_bits,
                                               seed=encryption.seed,
                                               iterations=encryption.iterations)
                band_read = _encrypted_reader(read, size, keys)
            result.update(sparse.write_sparsebundle(band_read, size, tmp, token=token))
            os.rename(tmp, out)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.filename is None or str(tmp) in str(exc.filename):
                raise InputError(f"{out}: cannot write: {exc.strerror or exc}") from None
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    else:
        with atomic_output(out) as fh:
            if target == "UDSP" and encryption is None:
                result.update(sparse.write_sparseimage(read, size, fh.write))
            elif target == "UDSP":
                # The sparse image first (its own size), then encrypted.
                import tempfile
                with tempfile.TemporaryFile() as plain:
                    result.update(sparse.write_sparseimage(read, size, plain.write))
                    inner = plain.tell()
                    _encrypt_file(lambda o, n: os.pread(plain.fileno(), n, o), inner, fh,
                                  encryption)
            else:
                assert encryption is not None
                _encrypt_file(read, size, fh, encryption)
    if encryption is not None:
        result["encryption"] = encryption.to_json()
    result["size"] = size
    return result


def _encrypt_file(read, size: int, fh, encryption: EncryptionOptions) -> None:
    header, keys = encrypted.new_v2(encryption.passphrase, size, key_bits=encryption.key_bits,
                                    seed=encryption.seed, iterations=encryption.iterations)
    fh.write(header)
    encrypted.encrypt_blocks(read, size, keys, fh.write)


def _encrypted_reader(read, size: int, keys: encrypted.ImageKeys):
    """The bundle's band bytes when encrypted: block n of the disk,
    encrypted with block number n (the last block padded to full size)."""
    bs = keys.block_size

    def band_read(offset: int, length: int) -> bytes:
        out = bytearray()
        for n in range(offset // bs, -(-(offset + length) // bs)):
            chunk = read(n * bs, max(0, min(bs, size - n * bs)))
            out += keys.encrypt_block(n, chunk.ljust(bs, b"\0"))
        start = offset - (offset // bs) * bs
        return bytes(out[start:start + length])
    return band_read
