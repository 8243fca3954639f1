"""HFS+ transparent compression (decmpfs), read side.

A compressed file has the UF_COMPRESSED BSD flag, an empty data fork and a
``com.apple.decmpfs`` attribute: a little-endian header (magic "fpmc",
compression type, uncompressed size) followed, for the "in attribute"
types, by the compressed bytes.  For the "in resource fork" types the data
is cut into 64 KiB chunks stored in the resource fork behind a chunk table.
Layouts as documented by libyal's libfshfs ("Mac OS Extended (HFS+) file
system format", section "Compressed data extended attribute") and by
afsctool; both are read here from scratch.

  type  where      codec   chunk table
  1     attribute  none    -
  3     attribute  zlib    -          (first byte 0xFF: stored raw)
  4     rsrc fork  zlib    at 0x100 + 4: u32 count, count x (u32 offset, u32 size), LE,
                                          offsets relative to 0x104
  7     attribute  LZVN    -          (first byte 0x06: stored raw)
  8     rsrc fork  LZVN    at 0: u32 LE offsets, chunk i = [off[i], off[i+1])
  11    attribute  LZFSE   -          (first byte 0x06: stored raw)
  12    rsrc fork  LZFSE   as type 8
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from ..binstruct import BinStruct, on_disk
from ..errors import CorruptError, UnsupportedError
from .. import codecs
from .volume import SizedStream

XATTR_NAME = "com.apple.decmpfs"
UF_COMPRESSED = 0x20
@dataclass
class DecmpfsHeader(BinStruct):
    """decmpfs_disk_header (16 bytes, little-endian), the attribute's start."""

    ENDIAN = "<"
    compression_magic: bytes = on_disk("4s", "compression_magic", b"fpmc")
    compression_type: int = on_disk("I", "compression_type")
    uncompressed_size: int = on_disk("Q", "uncompressed_size")


HEADER_SIZE = DecmpfsHeader.struct_size()
MAGIC = b"fpmc"
CHUNK = 64 * 1024
# Files bigger than this are not something a disk image holds compressed.
MAX_UNCOMPRESSED = 1 << 40
# Inline (attribute) payloads are decompressed in one go: keep them bounded.
MAX_INLINE_UNCOMPRESSED = 64 << 20
ZLIB_RSRC_BASE = 0x104

_INLINE = {1: "none", 3: "zlib", 7: "lzvn", 11: "lzfse"}
_RSRC = {4: "zlib", 8: "lzvn", 12: "lzfse"}
RSRC_TYPES = frozenset(_RSRC)


def method_name(compression_type: int) -> str:
    return _INLINE.get(compression_type) or _RSRC.get(compression_type) or \
        f"type {compression_type}"


def parse_header(value: bytes, name: str, where: str) -> tuple[int, int]:
    """(compression type, uncompressed size) of a decmpfs attribute."""
    if len(value) < HEADER_SIZE:
        raise CorruptError(name, f"{where}.{XATTR_NAME}", f"{len(value)} bytes, shorter than "
                           "the 16-byte decmpfs header")
    header = DecmpfsHeader.parse(value)
    magic, ctype, size = header.compression_magic, header.compression_type, header.uncompressed_size
    if magic != MAGIC:
        raise CorruptError(name, f"{where}.{XATTR_NAME}.magic", f"{magic!r}, expected b'fpmc'")
    if size > MAX_UNCOMPRESSED:
        raise CorruptError(name, f"{where}.{XATTR_NAME}.uncompressed_size",
                           f"{size} bytes is not a plausible file size")
    return ctype, size


def _lzvn(payload: bytes, out_size: int) -> bytes:
    # The LZFSE reference decoder reads raw LZVN inside a "bvxn" block:
    # magic, u32 decoded size, u32 payload size (all little-endian), then an
    # end-of-stream block "bvx$".
    import lzfse
    frame = b"bvxn" + struct.pack("<II", out_size, len(payload)) + payload + b"bvx$"
    return lzfse.decompress(frame)


def _decode(codec: str, chunk: bytes, out_size: int) -> bytes:
    """One chunk, bounded to ``out_size`` bytes of output."""
    if codec == "none":
        return chunk[:out_size]
    if codec == "zlib":
        if chunk and chunk[0] & 0x0F == 0x0F:      # not a zlib header: stored raw
            return chunk[1:1 + out_size]
        # max_length 0 would mean "no limit" to zlib: an empty file's bomb.
        return zlib.decompressobj().decompress(chunk, max(out_size, 1))
    if chunk[:1] == b"\x06":
        return chunk[1:1 + out_size]
    if codec == "lzvn":
        return _lzvn(chunk, out_size)
    # The lzfse binding grows its output until the stream fits; the UDIF
    # decoder first checks that the block headers declare exactly out_size.
    return codecs.decode("lzfse", chunk, out_size)


class DecmpfsStream(SizedStream):
    """The uncompressed bytes of a compressed file, decoded chunk by chunk."""

    def __init__(self, header_value: bytes, rsrc: io.RawIOBase | None, rsrc_size: int,
                 name: str, where: str) -> None:
        self._name, self._where = name, where
        self.compression_type, size = parse_header(header_value, name, where)
        super().__init__(size)
        if self.compression_type not in _INLINE and self.compression_type not in _RSRC:
            raise UnsupportedError(f"{name}: {where}: decmpfs compression type "
                                   f"{self.compression_type} is not supported")
        self._cache: tuple[int, bytes] | None = None
        ctype = self.compression_type
        if ctype in _INLINE:
            self._codec = _INLINE[ctype]
            if self._size > MAX_INLINE_UNCOMPRESSED:
                raise CorruptError(name, f"{where}.{XATTR_NAME}.uncompressed_size",
                                   f"{self._size} bytes is too large for attribute data")
            self._inline = self._check(self._decode(header_value[HEADER_SIZE:], self._size,
                                                    "attribute data"),
                                       self._size, "attribute data")
            self._count = 0
        else:
            self._codec = _RSRC[ctype]
            if rsrc is None:
                raise CorruptError(name, f"{where}.resourceFork", "compressed data expected "
                                   "in the resource fork, which is missing")
            self._rsrc = rsrc
            self._rsrc_size = rsrc_size
            self._count = -(-self._size // CHUNK)
            self._check_chunk_table()

    def _bad(self, problem: str) -> CorruptError:
        return CorruptError(self._name, f"{self._where}.resourceFork (decmpfs "
                            f"{method_name(self.compression_type)})", problem)

    def _rsrc_read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self._rsrc_size:
            raise self._bad(f"{length} bytes at {offset} lie outside the "
                            f"{self._rsrc_size}-byte resource fork")
        self._rsrc.seek(offset)
        return self._rsrc.read(length)

    def _check_chunk_table(self) -> None:
        """Check the chunk table's count and extent; its entries are read one
        chunk at a time (``_chunk_location``) because a hostile file can claim
        up to MAX_UNCOMPRESSED bytes, i.e. millions of entries."""
        count = self._count
        if self._codec == "zlib":
            (n,) = struct.unpack("<I", self._rsrc_read(ZLIB_RSRC_BASE, 4))
            if n != count:
                raise self._bad(f"chunk table holds {n} chunks, {count} expected for "
                                f"{self._size} bytes")
            table_end = ZLIB_RSRC_BASE + 4 + 8 * n
        else:
            (first,) = struct.unpack("<I", self._rsrc_read(0, 4))
            if first != 4 * (count + 1):
                raise self._bad(f"offset table of {first} bytes, {4 * (count + 1)} expected")
            table_end = first
        if table_end > self._rsrc_size:
            raise self._bad(f"chunk table ends at {table_end}, past the end of the "
                            f"{self._rsrc_size}-byte resource fork")

    def _chunk_location(self, index: int) -> tuple[int, int]:
        """(offset, length) in the resource fork of 64 KiB chunk ``index``."""
        if self._codec == "zlib":
            off, length = struct.unpack("<II", self._rsrc_read(ZLIB_RSRC_BASE + 4 + 8 * index, 8))
            off += ZLIB_RSRC_BASE
        else:
            off, end = struct.unpack("<II", self._rsrc_read(4 * index, 8))
            length = end - off
        if length <= 0 or length > 2 * CHUNK + 64 or off + length > self._rsrc_size:
            raise self._bad(f"chunk {index} of {length} bytes at {off} does not fit")
        return off, length

    def _decode(self, payload: bytes, want: int, what: str) -> bytes:
        try:
            return _decode(self._codec, payload, want)
        except Exception as exc:      # zlib.error, lzfse.error: each codec has its own
            raise CorruptError(self._name, f"{self._where}.{XATTR_NAME}",
                               f"{what} does not decode as {self._codec}: {exc}") from None

    def _check(self, data: bytes, want: int, what: str) -> bytes:
        if len(data) != want:
            raise CorruptError(self._name, f"{self._where}.{XATTR_NAME}",
                               f"{what} decodes to {len(data)} bytes, {want} expected")
        return data

    def _chunk(self, index: int) -> bytes:
        if self._cache and self._cache[0] == index:
            return self._cache[1]
        off, length = self._chunk_location(index)
        want = min(CHUNK, self._size - index * CHUNK)
        data = self._check(self._decode(self._rsrc_read(off, length), want, f"chunk {index}"),
                           want, f"chunk {index}")
        self._cache = (index, data)
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        want = min(len(buf), self._size - self._pos)
        if want <= 0:
            return 0
        if not self._count:
            buf[:want] = self._inline[self._pos:self._pos + want]
            self._pos += want
            return want
        done = 0
        while done < want:
            index, inner = divmod(self._pos, CHUNK)
            data = self._chunk(index)
            n = min(want - done, len(data) - inner)
            buf[done:done + n] = data[inner:inner + n]
            done += n
            self._pos += n
        return done
