"""A minimal, deterministic PNG writer (RFC 2083 / ISO 15948): 8-bit RGB or
RGBA, no interlacing, one IDAT.

Pillow's encoder deflates with the zlib its wheel carries (zlib-ng in recent
wheels, whose output may depend on the CPU's features), so the bytes of a
picture would follow the machine.  Here every row is stored unfiltered
(filter type 0: no per-byte work in Python) and the stream is made by the
pinned libdeflate (``pipeline.codecs``), like the
UDZO chunks: the same pixels give the same file everywhere.
"""

from __future__ import annotations

import struct
import zlib

from ..codecs import compressor

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOR_TYPES = {3: 2, 4: 6}          # channels -> PNG colour type (RGB, RGBA)
FILTER_NONE = 0
LEVEL = 9


def _chunk(kind: bytes, data: bytes) -> bytes:
    # The CRC covers the type and the data (RFC 2083 3.2); zlib.crc32 is
    # the standard CRC-32 whichever zlib computes it.
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _rows(pixels: bytes, width: int, height: int, channels: int) -> bytes:
    stride = width * channels
    return b"".join(bytes((FILTER_NONE,)) + pixels[y * stride:(y + 1) * stride]
                    for y in range(height))


def write_png(width: int, height: int, pixels: bytes, *, channels: int = 4,
              dpi: int | None = None) -> bytes:
    """The PNG file of ``pixels`` (rows top to bottom, ``channels`` bytes per
    pixel: 3 RGB, 4 RGBA).  ``dpi`` adds a pHYs chunk (a 2x picture says 144)."""
    if channels not in COLOR_TYPES:
        raise ValueError(f"channels must be 3 or 4, not {channels}")
    if width <= 0 or height <= 0 or len(pixels) != width * height * channels:
        raise ValueError(f"{len(pixels)} bytes are not a {width}x{height}x{channels} picture")
    header = struct.pack(">IIBBBBB", width, height, 8, COLOR_TYPES[channels], 0, 0, 0)
    out = PNG_SIGNATURE + _chunk(b"IHDR", header)
    if dpi is not None:
        per_metre = round(dpi / 0.0254)
        out += _chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1))
    idat = compressor("zlib", LEVEL)(_rows(pixels, width, height, channels))
    return out + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
