"""UDIF checksums: the checksum fields of the koly trailer and the mish
tables (type, size in bits, 128-byte value), and CRC-32 of runs of zeros
without reading them.  Every UDIF checksum is zlib's CRC-32
(docs/formats.md §2.5)."""

from __future__ import annotations

import struct
import zlib

CHECKSUM_NONE = 0
CHECKSUM_CRC32 = 2


def checksum_field(crc32: int | None) -> tuple[int, int, bytes]:
    """(type, size in bits, 128-byte array) for a CRC32, or 'none'."""
    if crc32 is None:
        return CHECKSUM_NONE, 0, bytes(128)
    return CHECKSUM_CRC32, 32, struct.pack(">I", crc32) + bytes(124)


def checksum_value(kind: int, bits: int, data: bytes) -> int | None:
    """The CRC32 held in a UDIF checksum field, or None if it is not CRC32."""
    if kind != CHECKSUM_CRC32 or bits != 32:
        return None
    return struct.unpack_from(">I", data)[0]


_STEP = 1 << 20
_ZEROS = bytes(_STEP)


# CRC-32 (reflected polynomial, as zlib) of n appended zero bytes in
# O(log n): zero input makes the CRC register evolve linearly, so n bytes
# of it are the n-th power of a 32x32 matrix over GF(2) (the same idea as
# zlib's crc32_combine).  Without it, a hostile mish table declaring a
# zero-fill chunk of 2^40 sectors would keep `verify` busy for days.
_CRC_POLY = 0xEDB88320
_DIRECT_LIMIT = 8 << 20


def _gf2_apply(mat: list[int], vec: int) -> int:
    out = 0
    i = 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def _gf2_square(mat: list[int]) -> list[int]:
    return [_gf2_apply(mat, col) for col in mat]


def _zero_byte_operator() -> list[int]:
    mat = [_CRC_POLY] + [1 << (k - 1) for k in range(1, 32)]   # one zero bit
    for _ in range(3):                                           # 2, 4, 8 bits
        mat = _gf2_square(mat)
    return mat


_ZERO_BYTE_OP = _zero_byte_operator()


def crc32_zeros(crc: int, n: int) -> int:
    """zlib.crc32(bytes(n), crc) without touching n bytes."""
    if n <= _DIRECT_LIMIT:
        while n > 0:
            k = min(n, _STEP)
            crc = zlib.crc32(_ZEROS[:k] if k < _STEP else _ZEROS, crc)
            n -= k
        return crc
    reg = crc ^ 0xFFFFFFFF
    mat = _ZERO_BYTE_OP
    while n:
        if n & 1:
            reg = _gf2_apply(mat, reg)
        n >>= 1
        if n:
            mat = _gf2_square(mat)
    return reg ^ 0xFFFFFFFF
