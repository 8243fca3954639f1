"""pbzx: the chunked xz stream Apple wraps installer payloads in (an Xcode
.xip's ``Content``, a modern .pkg's ``Payload``); read side, streaming.

Layout (all integers big-endian):

  offset  size  field
  0       4     magic "pbzx"
  4       8     flags: the largest uncompressed chunk size (0x1000000 in
                Apple's files)
  then, until the end of the stream, chunks of
  0       8     uncompressed size
  8       8     stored size
  16      ...   stored bytes: one complete xz stream, or the chunk's bytes
                as they are when the stored size equals the uncompressed size

The chunks' outputs, concatenated, are the payload (a cpio archive).  Each
chunk is decoded in bounded pieces: memory stays a few MB whatever the
chunk or payload size.
"""

from __future__ import annotations

import lzma
import struct
from typing import BinaryIO, Iterator

from ..errors import CorruptError

MAGIC = b"pbzx"
# Apple's chunks are 16 MiB; anything far larger is a hostile header.
MAX_CHUNK = 64 << 20
_PIECE = 1 << 20


def is_pbzx(head: bytes) -> bool:
    return head[:4] == MAGIC


def decode(stream: BinaryIO, name: str = "<pbzx>") -> Iterator[bytes]:
    """The payload's bytes, in pieces of at most about 1 MiB."""
    head = stream.read(12)
    if len(head) < 12 or head[:4] != MAGIC:
        raise CorruptError(name, "pbzx.magic", f"not a pbzx stream (starts {head[:4]!r})", 0)
    offset = 12
    index = 0
    while True:
        header = stream.read(16)
        if not header:
            return
        if len(header) < 16:
            raise CorruptError(name, f"pbzx chunk {index} header",
                               f"truncated ({len(header)} of 16 bytes)", offset)
        size, stored = struct.unpack(">QQ", header)
        if size > MAX_CHUNK or stored > MAX_CHUNK + (1 << 16):
            raise CorruptError(name, f"pbzx chunk {index} header",
                               f"sizes {size}/{stored} exceed {MAX_CHUNK} bytes", offset)
        offset += 16
        yield from _chunk(stream, name, index, offset, size, stored)
        offset += stored
        index += 1


def _chunk(stream: BinaryIO, name: str, index: int, offset: int, size: int,
           stored: int) -> Iterator[bytes]:
    where = f"pbzx chunk {index}"
    left = stored
    produced = 0
    raw = stored == size
    decoder = None if raw else lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    while left:
        piece = stream.read(min(left, _PIECE))
        if not piece:
            raise CorruptError(name, where, f"truncated: {stored - left} of {stored} stored "
                               "bytes", offset)
        left -= len(piece)
        if decoder is None:
            produced += len(piece)
            yield piece
            continue
        if decoder.eof:
            raise CorruptError(name, where, "bytes after the xz stream", offset)
        try:
            out = decoder.decompress(piece, max_length=_PIECE)
            while True:
                produced += len(out)
                if produced > size:
                    raise CorruptError(name, where, f"decodes to more than its {size} bytes",
                                       offset)
                if out:
                    yield out
                if decoder.eof or decoder.needs_input:
                    break
                out = decoder.decompress(b"", max_length=_PIECE)
        except lzma.LZMAError as exc:
            raise CorruptError(name, where, f"xz data: {exc}", offset) from None
    if decoder is not None and not decoder.eof:
        raise CorruptError(name, where, "xz stream ends early", offset)
    if decoder is not None and decoder.unused_data:
        raise CorruptError(name, where, f"{len(decoder.unused_data)} bytes after the xz stream",
                           offset)
    if produced != size:
        raise CorruptError(name, where, f"decodes to {produced} bytes, header says {size}",
                           offset)
