"""Encrypted Apple disk images: the ``encrcdsa`` (version 2) container
hdiutil writes with ``-encryption``, and the older ``cdsaencr`` (version 1)
one; reading both, writing version 2.

Version 2 (big-endian; the header at the start of the file)::

    0x00  8s   signature "encrcdsa"
    0x08  u32  version (2)
    0x0c  u32  encryption IV size (16)
    0x10  u32  encryption mode (5)
    0x14  u32  encryption algorithm (0x80000001: AES)
    0x18  u32  key bits (128 or 256)
    0x1c  u32  PRNG (IV) algorithm (91: HMAC-SHA1)
    0x20  u32  PRNG key bits (160)
    0x24  16s  UUID
    0x34  u32  block size (4096)
    0x38  u64  data size (the decrypted image's length)
    0x40  u64  data offset (where the first encrypted block starts)
    0x48  u32  number of key entries, then per entry: u32 type (1: a
               passphrase-wrapped key), u64 offset, u64 size

A passphrase key entry::

    +0x00 u32 KDF algorithm (103: PBKDF2-HMAC-SHA1), +0x04 u32 PRNG (0),
    +0x08 u32 iteration count, +0x0c u32 salt size, +0x10 32s salt,
    +0x30 u32 blob IV size (8), +0x34 32s blob IV, +0x54 u32 blob key bits
    (192), +0x58 u32 blob algorithm (17: 3DES-EDE3), +0x5c u32 padding (7:
    PKCS#7), +0x60 u32 mode (6: CBC), +0x64 u32 encrypted blob size, +0x68
    the blob

The passphrase, through PBKDF2-HMAC-SHA1 (salt, iterations, 24 bytes),
is the 3DES key that decrypts the blob (CBC, the blob IV, PKCS#7): the
image's AES key followed by its 20-byte HMAC-SHA1 key.  Block n of the data
is AES-CBC with IV = HMAC-SHA1(hmac key, u32 big-endian n)[:16].

Version 1 keeps a 1276-byte header at the end of the file (``cdsaencr`` in
its last 8 bytes): iteration count, salt, and the AES and HMAC keys wrapped
each with Apple's CMS 3DES key wrap (``cms_unwrap``); the data starts at
offset 0 in 4096-byte blocks.

A wrong passphrase is one error (the unwrapped blob's padding or the
first block's contents do not check out); every count, size and offset is
checked against the file and a bound before use.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Callable

from ..errors import CorruptError, InputError, VerificationError
from .bands import read_in_pieces

ENCRCDSA = b"encrcdsa"
CDSAENCR = b"cdsaencr"
V2_HEADER = struct.Struct(">8sIIIIIII16sIQQI")
KEY_ENTRY = struct.Struct(">IQQ")
PASSPHRASE_KEY = struct.Struct(">IIII32sI32sIIIII")
V1_HEADER = struct.Struct(">48sII48s32sI296sI300sI48s484s")
ALG_AES = 0x80000001
KDF_PBKDF2 = 103
BLOB_3DES = 17
KEY_TYPE_PASSPHRASE = 1
PRNG_HMAC_SHA1 = 91
CMS_WRAP_IV = bytes.fromhex("4adda22c79e82105")
HMAC_KEY_SIZE = 20
MAX_KEY_ENTRIES = 16
MAX_ITERATIONS = 2_000_000          # hdiutil uses 1000-250000; ~2 s of PBKDF2 at most on a hostile header
MAX_BLOCK_SIZE = 1 << 20


def _cipher(algorithm, mode):
    from cryptography.hazmat.primitives.ciphers import Cipher
    return Cipher(algorithm, mode)


def _des3_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import modes
    d = _cipher(TripleDES(key), modes.CBC(iv)).decryptor()
    return d.update(data) + d.finalize()


def _des3_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import modes
    e = _cipher(TripleDES(key), modes.CBC(iv)).encryptor()
    return e.update(data) + e.finalize()


def _unpad(data: bytes) -> bytes | None:
    n = data[-1] if data else 0
    if not 1 <= n <= 8 or data[-n:] != bytes([n]) * n:
        return None
    return data[:-n]


def derive(passphrase: bytes, salt: bytes, iterations: int) -> bytes:
    """The 24-byte 3DES key-wrapping key."""
    return hashlib.pbkdf2_hmac("sha1", passphrase, salt, iterations, 24)


@dataclass
class ImageKeys:
    aes_key: bytes
    hmac_key: bytes
    block_size: int
    data_offset: int
    data_size: int
    version: int
    key_bits: int

    def iv(self, block: int) -> bytes:
        return hmac.new(self.hmac_key, struct.pack(">I", block), "sha1").digest()[:16]

    def decrypt_block(self, block: int, data: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers import algorithms, modes
        d = _cipher(algorithms.AES(self.aes_key), modes.CBC(self.iv(block))).decryptor()
        return d.update(data) + d.finalize()

    def encrypt_block(self, block: int, data: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers import algorithms, modes
        e = _cipher(algorithms.AES(self.aes_key), modes.CBC(self.iv(block))).encryptor()
        return e.update(data) + e.finalize()


def is_encrypted(head: bytes, tail: bytes) -> int:
    """2 or 1 for an encrypted image's first and last 8 bytes, else 0."""
    if head.startswith(ENCRCDSA):
        return 2
    if tail == CDSAENCR:
        return 1
    return 0


# --------------------------------------------------------------------------
# Reading.

def unlock(pread: Callable[[int, int], bytes], size: int, path: str,
           passphrase: bytes | None) -> ImageKeys:
    """The image's keys, from its header and ``passphrase``."""
    head = pread(0, min(size, 8))
    tail = pread(size - 8, 8) if size >= 8 else b""
    version = is_encrypted(head, tail)
    if version == 0:
        raise CorruptError(path, "encrypted header", "neither 'encrcdsa' nor 'cdsaencr'", 0)
    if passphrase is None:
        magic = "encrcdsa" if version == 2 else "cdsaencr"
        raise InputError(f"{path}: an encrypted disk image ({magic}, v{version}); give its "
                         "passphrase (--passphrase-file FILE, or - for stdin)")
    return _unlock_v2(pread, size, path, passphrase) if version == 2 else \
        _unlock_v1(pread, size, path, passphrase)


def _check_iterations(n: int, path: str, field: str, offset: int) -> None:
    if not 1 <= n <= MAX_ITERATIONS:
        raise CorruptError(path, field, f"{n} iterations is not sane (1..{MAX_ITERATIONS})", offset)


def _unlock_v2(pread, size: int, path: str, passphrase: bytes) -> ImageKeys:
    if size < V2_HEADER.size:
        raise CorruptError(path, "encrcdsa header", "shorter than the header", 0)
    (_sig, version, iv_size, _mode, algorithm, key_bits, prng, _prng_bits, _uuid, block_size,
     data_size, data_offset, n_keys) = V2_HEADER.unpack(pread(0, V2_HEADER.size))
    if version != 2:
        raise CorruptError(path, "encrcdsa header.version", f"{version}, expected 2", 8)
    if algorithm != ALG_AES or key_bits not in (128, 256):
        raise CorruptError(path, "encrcdsa header.algorithm", f"{algorithm:#x}/{key_bits} bits "
                           "is not AES-128 or AES-256", 0x14)
    if not 512 <= block_size <= MAX_BLOCK_SIZE or block_size % 16:
        raise CorruptError(path, "encrcdsa header.blockSize", f"{block_size}", 0x34)
    if data_offset > size or data_size > (size - data_offset) + block_size:
        raise CorruptError(path, "encrcdsa header.dataSize", f"{data_size} bytes at "
                           f"{data_offset} do not fit the {size}-byte file", 0x38)
    if not 1 <= n_keys <= MAX_KEY_ENTRIES:
        raise CorruptError(path, "encrcdsa header.keyCount", f"{n_keys}", 0x48)
    entries = [KEY_ENTRY.unpack(pread(V2_HEADER.size + i * KEY_ENTRY.size, KEY_ENTRY.size))
               for i in range(n_keys)]
    found_passphrase_key = False
    for i, (kind, offset, length) in enumerate(entries):
        if kind != KEY_TYPE_PASSPHRASE:
            continue            # certificate-wrapped keys: not readable with a passphrase
        found_passphrase_key = True
        where = f"encrcdsa key entry {i}"
        if offset + PASSPHRASE_KEY.size > size or length < PASSPHRASE_KEY.size or length > 4096:
            raise CorruptError(path, where, f"{length} bytes at {offset} do not fit", offset)
        (kdf, _kprng, iterations, salt_size, salt, iv_size, blob_iv, _bits, blob_alg, _pad,
         _bmode, blob_size) = PASSPHRASE_KEY.unpack(pread(offset, PASSPHRASE_KEY.size))
        if kdf != KDF_PBKDF2 or blob_alg != BLOB_3DES:
            raise CorruptError(path, where, f"KDF {kdf} / blob algorithm {blob_alg} is not "
                               "PBKDF2 / 3DES", offset)
        _check_iterations(iterations, path, f"{where}.iterationCount", offset + 8)
        if salt_size > 32 or iv_size < 8 or iv_size > 32 or blob_size % 8 or \
                not 16 <= blob_size <= length - PASSPHRASE_KEY.size:
            raise CorruptError(path, where, "salt, IV or blob size out of range", offset + 12)
        blob = pread(offset + PASSPHRASE_KEY.size, blob_size)
        key = derive(passphrase, salt[:salt_size], iterations)
        plain = _unpad(_des3_cbc_decrypt(key, blob_iv[:8], blob))
        key_len = key_bits // 8
        if plain is None or len(plain) < key_len + HMAC_KEY_SIZE:
            continue            # wrong passphrase for this entry
        keys = ImageKeys(plain[:key_len], plain[key_len:key_len + HMAC_KEY_SIZE], block_size,
                         data_offset, data_size, 2, key_bits)
        return keys
    if not found_passphrase_key:
        raise InputError(f"{path}: the image is encrypted for a certificate, not a passphrase")
    raise VerificationError(f"{path}: wrong passphrase (the key blob does not unwrap)")


def cms_unwrap(key: bytes, wrapped: bytes) -> bytes | None:
    """RFC 3217 3DES key unwrap as Apple's CSP does it: CBC with the fixed
    IV, PKCS#7, reverse, CBC with the first 8 bytes as IV, PKCS#7; the key
    follows 4 zero bytes.  None when a check fails (a wrong passphrase)."""
    if len(wrapped) < 16 or len(wrapped) % 8:
        return None
    temp = _unpad(_des3_cbc_decrypt(key, CMS_WRAP_IV, wrapped))
    if temp is None or len(temp) < 16 or len(temp) % 8:
        return None
    temp = temp[::-1]
    cek = _unpad(_des3_cbc_decrypt(key, temp[:8], temp[8:]))
    if cek is None or len(cek) < 5 or cek[:4] != bytes(4):
        return None
    return cek[4:]


def cms_wrap(key: bytes, cek: bytes, iv: bytes) -> bytes:
    """The inverse of ``cms_unwrap`` (``iv``: 8 bytes)."""
    def pad(b: bytes) -> bytes:
        n = 8 - len(b) % 8
        return b + bytes([n]) * n
    inner = _des3_cbc_encrypt(key, iv, pad(bytes(4) + cek))
    return _des3_cbc_encrypt(key, CMS_WRAP_IV, pad((iv + inner)[::-1]))


def _unlock_v1(pread, size: int, path: str, passphrase: bytes) -> ImageKeys:
    if size < V1_HEADER.size:
        raise CorruptError(path, "cdsaencr header", "shorter than the header", 0)
    at = size - V1_HEADER.size
    (_f1, iterations, salt_len, salt, _iv, aes_len, aes_wrapped, hmac_len, hmac_wrapped,
     _ilen, _iwrapped, _f6) = V1_HEADER.unpack(pread(at, V1_HEADER.size))
    _check_iterations(iterations, path, "cdsaencr header.kdfIterationCount", at + 48)
    if salt_len > 48 or aes_len > 296 or hmac_len > 300:
        raise CorruptError(path, "cdsaencr header", "salt or wrapped key length out of range",
                           at + 52)
    key = derive(passphrase, salt[:salt_len], iterations)
    aes_key = cms_unwrap(key, aes_wrapped[:aes_len])
    hmac_key = cms_unwrap(key, hmac_wrapped[:hmac_len])
    if aes_key is None or hmac_key is None or len(aes_key) not in (16, 32):
        raise VerificationError(f"{path}: wrong passphrase (the wrapped keys do not unwrap)")
    return ImageKeys(aes_key, hmac_key[:HMAC_KEY_SIZE], 4096, 0, at, 1, len(aes_key) * 8)


class DecryptedFile:
    """The decrypted image, read by offset (block by block, a small cache)."""

    def __init__(self, pread: Callable[[int, int], bytes], keys: ImageKeys, path: str) -> None:
        self._pread = pread
        self.keys = keys
        self.size = keys.data_size
        self.path = path
        self._last: tuple[int, bytes] | None = None

    def _block(self, n: int) -> bytes:
        if self._last is not None and self._last[0] == n:
            return self._last[1]
        bs = self.keys.block_size
        raw = self._pread(self.keys.data_offset + n * bs, bs)
        if len(raw) != bs:
            raise CorruptError(self.path, f"encrypted block {n}", "truncated",
                               self.keys.data_offset + n * bs)
        plain = self.keys.decrypt_block(n, raw)
        self._last = (n, plain)
        return plain

    def pread(self, offset: int, length: int) -> bytes:
        return read_in_pieces(offset, length, self.size, self.keys.block_size,
                              lambda n, within, take: self._block(n)[within:within + take],
                              self.path, "decrypted image")


# --------------------------------------------------------------------------
# Writing (version 2).

def new_v2(passphrase: bytes, size: int, *, key_bits: int = 256, seed: bytes | None = None,
           iterations: int = 250_000, block_size: int = 4096) -> tuple[bytes, ImageKeys]:
    """A new encrcdsa v2 header (padded to the data offset) and its keys,
    for ``size`` bytes of data.

    Keys, salt and IVs are random unless ``seed`` is given: then they are
    derived from it (HMAC-SHA256 over labels), so the same seed, passphrase
    and content give the same bytes.  A fixed seed makes the keys as
    guessable as the seed: use one only for reproducible builds, and keep
    it as secret as the passphrase.
    """
    import os

    if key_bits not in (128, 256):
        raise InputError(f"encryption key size {key_bits}: expected 128 or 256 (AES-128, AES-256)")
    if not passphrase:
        raise InputError("the passphrase is empty")
    _check_iterations(iterations, "<new image>", "iterations", 0)

    def material(label: str, n: int) -> bytes:
        if seed is None:
            return os.urandom(n)
        return hmac.new(seed, f"reprodmg encrcdsa {label}".encode(), "sha256").digest()[:n]

    aes_key = material("aes key", key_bits // 8)
    hmac_key = material("hmac key", HMAC_KEY_SIZE)
    salt = material("salt", 20)
    blob_iv = material("blob iv", 8)
    uuid = material("uuid", 16)
    key = derive(passphrase, salt, iterations)
    plain = aes_key + hmac_key
    pad = 8 - len(plain) % 8
    blob = _des3_cbc_encrypt(key, blob_iv, plain + bytes([pad]) * pad)
    entry_offset = V2_HEADER.size + KEY_ENTRY.size
    entry = PASSPHRASE_KEY.pack(KDF_PBKDF2, 0, iterations, 20, salt.ljust(32, b"\0"), 8,
                                blob_iv.ljust(32, b"\0"), 192, BLOB_3DES, 7, 6, len(blob)) + blob
    data_offset = -(-(entry_offset + len(entry)) // block_size) * block_size
    header = V2_HEADER.pack(ENCRCDSA, 2, 16, 5, ALG_AES, key_bits, PRNG_HMAC_SHA1, 160, uuid,
                            block_size, size, data_offset, 1)
    header += KEY_ENTRY.pack(KEY_TYPE_PASSPHRASE, entry_offset, len(entry)) + entry
    header += bytes(data_offset - len(header))
    return header, ImageKeys(aes_key, hmac_key, block_size, data_offset, size, 2, key_bits)


def encrypt_blocks(read: Callable[[int, int], bytes], size: int, keys: ImageKeys,
                   write: Callable[[bytes], None], *, first_block: int = 0) -> None:
    """``size`` bytes from ``read`` as encrypted blocks (the last one zero-padded)."""
    bs = keys.block_size
    for n in range(-(-size // bs)):
        chunk = read(n * bs, min(bs, size - n * bs))
        write(keys.encrypt_block(first_block + n, chunk.ljust(bs, b"\0")))
