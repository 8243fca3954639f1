"""Every compression codec the Apple formats use, by name (``zlib``,
``bzip2``, ``lzfse``, ``lzma``, ``adc``, ``raw``): how it compresses, how it
expands, and which implementation (and version) produced the bytes.  UDIF
chunks and HFS+ compressed files both use them; ``udif.formats`` maps chunk
types to these names.

Reproducibility: a UDZO image made with the host's zlib would differ between
distributions (zlib vs zlib-ng emit different deflate streams), so zlib
chunks are compressed with libdeflate from the pinned ``deflate`` package and
LZFSE chunks with the pinned ``lzfse`` package.  bzip2 and xz come from the
system libraries (libbz2, liblzma); their versions are recorded in the
manifest so that builders can tell a codec difference from a content
difference.  Decoding uses whatever implementation is at hand: decoders of
these formats all agree.

Expansion is bounded: each decoder is told the chunk's declared size and
fails if the stream would produce more (zip bombs), fewer or trailing bytes.
"""

from __future__ import annotations

import bz2
import ctypes
import ctypes.util
import lzma
import struct
import zlib
from typing import Callable

import deflate
import lzfse

from .versions import distribution_version


class CodecError(Exception):
    """Bytes that do not decode to their declared size (internal; readers
    turn it into a CorruptError naming the file and the chunk or fork)."""


def compressor(codec: str, level: int | None) -> Callable[[bytes], bytes]:
    """A pure function bytes -> compressed bytes for one codec."""
    if codec == "raw":
        return bytes
    if codec == "zlib":
        return lambda data: deflate.zlib_compress(data, level)
    if codec == "bzip2":
        return lambda data: bz2.compress(data, level)
    if codec == "lzfse":
        return lzfse.compress
    if codec == "lzma":
        return lambda data: lzma.compress(data, format=lzma.FORMAT_XZ,
                                          check=lzma.CHECK_CRC64, preset=level)
    raise ValueError(f"no compressor for codec {codec!r}")


# --------------------------------------------------------------------------
# Versions for the manifest.

def _c_version(libname: str, symbol: str) -> str:
    path = ctypes.util.find_library(libname)
    if path is None:
        return "unknown"
    try:
        fn = getattr(ctypes.CDLL(path), symbol)
    except (OSError, AttributeError):
        return "unknown"
    fn.restype = ctypes.c_char_p
    return fn().decode("ascii", "replace")


def implementation(codec: str) -> dict[str, str]:
    """Which implementation and version makes this codec's bytes."""
    if codec == "raw":
        return {"implementation": "stored (no codec)", "version": "n/a"}
    if codec == "zlib":
        return {"implementation": "libdeflate (python package deflate)",
                "version": distribution_version("deflate")}
    if codec == "lzfse":
        return {"implementation": "lzfse reference (python package lzfse)",
                "version": distribution_version("lzfse")}
    if codec == "bzip2":
        return {"implementation": "libbz2 (system)",
                "version": _c_version("bz2", "BZ2_bzlibVersion")}
    if codec == "lzma":
        return {"implementation": "liblzma (system)",
                "version": _c_version("lzma", "lzma_version_string")}
    raise ValueError(codec)


# --------------------------------------------------------------------------
# Decoders.  Each returns exactly `size` bytes or raises CodecError.

def _zlib_decode(data: bytes, size: int) -> bytes:
    d = zlib.decompressobj()
    try:
        # max_length 0 means "no limit" to zlib: bound a 0-sector chunk too.
        out = d.decompress(data, max(size, 1))
    except zlib.error as exc:
        raise CodecError(f"zlib: {exc}") from None
    if len(out) != size or d.unconsumed_tail or not d.eof:
        raise CodecError(f"zlib stream does not expand to exactly {size} bytes")
    return out


def _bzip2_decode(data: bytes, size: int) -> bytes:
    d = bz2.BZ2Decompressor()
    try:
        out = d.decompress(data, size)
    except (OSError, ValueError, EOFError) as exc:
        raise CodecError(f"bzip2: {exc}") from None
    if len(out) != size or not d.eof:
        raise CodecError(f"bzip2 stream does not expand to exactly {size} bytes")
    return out


def _lzma_decode(data: bytes, size: int) -> bytes:
    # FORMAT_AUTO: Apple writes xz streams; old tools wrote .lzma (alone).
    d = lzma.LZMADecompressor(format=lzma.FORMAT_AUTO, memlimit=256 << 20)
    try:
        out = d.decompress(data, size)
    except (lzma.LZMAError, EOFError) as exc:
        raise CodecError(f"lzma: {exc}") from None
    if len(out) != size or not d.eof:
        raise CodecError(f"lzma stream does not expand to exactly {size} bytes")
    return out


# LZFSE block headers (little-endian), from the libyal "LZFSE compressed
# data format" notes.  The Python binding grows its output buffer until the
# stream fits, so a hostile stream could make it allocate without bound: we
# walk the block headers first and require their declared sizes to add up
# to the chunk's size.
LZFSE_END = b"bvx$"
LZFSE_RAW = b"bvx-"          # u32 n_raw_bytes, then the bytes
LZFSE_V1 = b"bvx1"           # 770-byte header, payload sizes at 20 and 24
LZFSE_V2 = b"bvx2"           # header_size in packed field 2, bits 0..31
LZFSE_LZVN = b"bvxn"         # u32 n_raw_bytes, u32 n_payload_bytes
LZFSE_V1_HEADER = 770


def lzfse_declared_size(data: bytes) -> int:
    pos = 0
    total = 0
    while True:
        magic = data[pos:pos + 4]
        if magic == LZFSE_END:
            if pos + 4 != len(data):
                raise CodecError("lzfse: bytes after the end-of-stream block")
            return total
        if len(data) - pos < 12:
            raise CodecError(f"lzfse: truncated block header at {pos}")
        n_raw, = struct.unpack_from("<I", data, pos + 4)
        if magic == LZFSE_RAW:
            block = 8 + n_raw
        elif magic == LZFSE_LZVN:
            block = 12 + struct.unpack_from("<I", data, pos + 8)[0]
        elif magic == LZFSE_V1:
            if len(data) - pos < LZFSE_V1_HEADER:
                raise CodecError(f"lzfse: truncated v1 header at {pos}")
            lit, lmd = struct.unpack_from("<II", data, pos + 20)
            block = LZFSE_V1_HEADER + lit + lmd
        elif magic == LZFSE_V2:
            if len(data) - pos < 32:
                raise CodecError(f"lzfse: truncated v2 header at {pos}")
            f0, f1, f2 = struct.unpack_from("<QQQ", data, pos + 8)
            lit = (f0 >> 20) & 0xFFFFF
            lmd = (f1 >> 40) & 0xFFFFF
            header = f2 & 0xFFFFFFFF
            if header < 32:
                raise CodecError(f"lzfse: v2 header size {header} at {pos}")
            block = header + lit + lmd
        else:
            raise CodecError(f"lzfse: unknown block magic {magic!r} at {pos}")
        total += n_raw
        pos += block
        if pos > len(data):
            raise CodecError("lzfse: block runs past the end of the chunk")


def _lzfse_decode(data: bytes, size: int) -> bytes:
    declared = lzfse_declared_size(data)
    if declared != size:
        raise CodecError(f"lzfse blocks declare {declared} bytes, chunk has {size}")
    try:
        out = lzfse.decompress(data)
    except (lzfse.error, MemoryError) as exc:
        raise CodecError(f"lzfse: {exc}") from None
    if len(out) != size:
        raise CodecError(f"lzfse stream expands to {len(out)} bytes, not {size}")
    return out


def adc_decode(data: bytes, size: int) -> bytes:
    """Apple Data Compression (UDCO), an LZ77 variant.

    Written from the public description of the three op codes (e.g. the
    libyal "ADC" notes, 7-Zip's DmgHandler): a byte with the high bit set
    starts a literal run of (b & 0x7F) + 1 bytes; with 0x40 set, a 3-byte
    copy of (b & 0x3F) + 4 bytes from distance (next u16 BE) + 1; otherwise a
    2-byte copy of ((b >> 2) & 0xF) + 3 bytes from distance
    ((b & 3) << 8 | next byte) + 1.
    """
    out = bytearray()
    pos = 0
    n = len(data)
    while pos < n:
        if len(out) >= size:
            raise CodecError("adc: stream continues past the chunk size")
        b = data[pos]
        if b & 0x80:
            run = (b & 0x7F) + 1
            if pos + 1 + run > n:
                raise CodecError(f"adc: literal run past the end at {pos}")
            out += data[pos + 1:pos + 1 + run]
            pos += 1 + run
            continue
        if b & 0x40:
            if pos + 3 > n:
                raise CodecError(f"adc: truncated copy at {pos}")
            length = (b & 0x3F) + 4
            dist = ((data[pos + 1] << 8) | data[pos + 2]) + 1
            pos += 3
        else:
            if pos + 2 > n:
                raise CodecError(f"adc: truncated copy at {pos}")
            length = ((b >> 2) & 0x0F) + 3
            dist = (((b & 0x03) << 8) | data[pos + 1]) + 1
            pos += 2
        if dist > len(out):
            raise CodecError(f"adc: copy distance {dist} before the start at {pos}")
        start = len(out) - dist
        if dist >= length:
            out += out[start:start + length]
        else:
            # Overlapping copy: the pattern of `dist` bytes repeats.
            pattern = bytes(out[start:])
            reps = -(-length // dist)
            out += (pattern * reps)[:length]
    if len(out) != size:
        raise CodecError(f"adc stream expands to {len(out)} bytes, not {size}")
    return bytes(out)


def _raw_decode(data: bytes, size: int) -> bytes:
    if len(data) != size:
        raise CodecError(f"raw chunk holds {len(data)} bytes, not {size}")
    return data


DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "raw": _raw_decode,
    "zlib": _zlib_decode,
    "bzip2": _bzip2_decode,
    "lzfse": _lzfse_decode,
    "lzma": _lzma_decode,
    "adc": adc_decode,
}


def decode(codec: str, data: bytes, size: int) -> bytes:
    """Expand ``data`` to exactly ``size`` bytes, or raise CodecError."""
    try:
        decoder = DECODERS[codec]
    except KeyError:
        raise CodecError(f"unknown codec {codec!r}") from None
    return decoder(data, size)
