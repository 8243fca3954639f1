"""xar archives (an Xcode .xip, an installer .pkg); read side.

Layout (big-endian), after the eXtensible ARchiver format notes of the
xar project (mackyle/xar wiki "xarformat") and Apple's xar sources:

  offset  size  field
  0       4     magic "xar!"
  4       2     size: header size (28, or more with an algorithm name)
  6       2     version (1)
  8       8     toc_length_compressed
  16      8     toc_length_uncompressed
  24      4     cksum_alg: 0 none, 1 SHA-1, 2 MD5; 3 is SHA-256 in Apple's
                28-byte header and "named after the header" (NUL-terminated,
                up to the header's size) in the original format; 4 SHA-512
  size    ...   the table of contents: zlib-compressed XML
  then    ...   the heap: every offset in the TOC counts from here

The TOC (``<xar><toc>``) names the checksum of the compressed TOC itself
(``<checksum style=...><offset/><size/></checksum>``: where in the heap the
digest is stored) and a tree of ``<file>`` elements: ``<name>``, ``<type>``
(file, directory, symlink, hardlink) and, for content, ``<data>`` with
``<offset>`` and ``<length>`` (in the heap), ``<size>`` (extracted),
``<encoding style=...>`` (application/octet-stream, application/x-gzip or
application/zlib (both zlib streams), application/x-bzip2,
application/x-xz / x-lzma) and the ``<archived-checksum>`` and
``<extracted-checksum>`` (Apple: ``<unarchived-checksum>``) of the stored
and of the decoded bytes.  Both checksums are verified as the member is read.
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import os
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator
from xml.etree import ElementTree

from ..binstruct import BinStruct, on_disk
from ..errors import CorruptError, UnsupportedError, VerificationError

MAGIC = b"xar!"
MAX_TOC = 64 << 20          # uncompressed TOC bytes (Xcode's is a few KB)
_PIECE = 1 << 20

_HEADER_ALGORITHMS = {0: "none", 1: "sha1", 2: "md5", 4: "sha512"}
_DIGESTS = {"sha1": 20, "md5": 16, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}


@dataclass
class XarHeader(BinStruct):
    magic: bytes = on_disk("4s", "magic", MAGIC)
    size: int = on_disk("H", "size", 28)
    version: int = on_disk("H", "version", 1)
    toc_length_compressed: int = on_disk("Q", "toc_length_compressed")
    toc_length_uncompressed: int = on_disk("Q", "toc_length_uncompressed")
    cksum_alg: int = on_disk("I", "cksum_alg")


@dataclass(frozen=True)
class Checksum:
    algorithm: str       # hashlib name
    hexdigest: str


@dataclass(frozen=True)
class XarMember:
    path: str            # "Foo.pkg/Payload"
    type: str            # file, directory, symlink, hardlink
    offset: int = 0      # in the heap
    length: int = 0      # stored bytes
    size: int = 0        # decoded bytes
    encoding: str = "application/octet-stream"
    archived: Checksum | None = None
    extracted: Checksum | None = None
    has_data: bool = False


def is_xar(head: bytes) -> bool:
    return head[:4] == MAGIC


class XarArchive:
    """An open xar archive: the checked header and TOC, and its members."""

    def __init__(self, fileobj: BinaryIO, name: str = "<xar>") -> None:
        self.file = fileobj
        self.name = name
        fileobj.seek(0)
        raw = fileobj.read(XarHeader.struct_size())
        if len(raw) < XarHeader.struct_size() or raw[:4] != MAGIC:
            raise CorruptError(name, "xar header magic", f"not a xar archive (starts "
                               f"{raw[:4]!r})", 0)
        self.header = header = XarHeader.parse(raw)
        if header.version != 1:
            raise UnsupportedError(f"{name}: xar header version {header.version} (only 1)")
        if header.size < 28 or header.size > 28 + 64:
            raise CorruptError(name, "xar header size", f"{header.size} bytes",
                               XarHeader.offset_of("size"))
        extra = fileobj.read(header.size - 28)
        if header.toc_length_uncompressed > MAX_TOC or \
                header.toc_length_compressed > MAX_TOC:
            raise CorruptError(name, "xar header toc_length", "table of contents of "
                               f"{header.toc_length_uncompressed} bytes exceeds {MAX_TOC}",
                               XarHeader.offset_of("toc_length_compressed"))
        self.header_algorithm = self._header_algorithm(header, extra)
        compressed = fileobj.read(header.toc_length_compressed)
        if len(compressed) < header.toc_length_compressed:
            raise CorruptError(name, "xar toc", "truncated", header.size)
        try:
            decoder = zlib.decompressobj()
            toc = decoder.decompress(compressed, MAX_TOC + 1)
        except zlib.error as exc:
            raise CorruptError(name, "xar toc", f"zlib data: {exc}", header.size) from None
        if len(toc) != header.toc_length_uncompressed or not decoder.eof:
            raise CorruptError(name, "xar toc", f"decodes to {len(toc)} bytes, header says "
                               f"{header.toc_length_uncompressed}", header.size)
        self.heap = header.size + header.toc_length_compressed
        try:
            root = ElementTree.fromstring(toc)
        except ElementTree.ParseError as exc:
            raise CorruptError(name, "xar toc", f"not XML: {exc}", header.size) from None
        toc_el = root.find("toc")
        if root.tag != "xar" or toc_el is None:
            raise CorruptError(name, "xar toc", "no <xar><toc> element", header.size)
        self._check_toc(toc_el, compressed)
        self.members: list[XarMember] = []
        self._walk(toc_el, "")

    def _header_algorithm(self, header: XarHeader, extra: bytes) -> str:
        if header.cksum_alg == 3:
            if header.size == 28:
                return "sha256"          # Apple's numbering
            return extra.split(b"\0", 1)[0].decode("ascii", "replace").lower()
        algorithm = _HEADER_ALGORITHMS.get(header.cksum_alg)
        if algorithm is None:
            raise CorruptError(self.name, "xar header cksum_alg",
                               f"unknown algorithm {header.cksum_alg}",
                               XarHeader.offset_of("cksum_alg"))
        return algorithm

    def _check_toc(self, toc: ElementTree.Element, compressed: bytes) -> None:
        """The digest of the compressed TOC, stored in the heap, must match."""
        el = toc.find("checksum")
        if self.header_algorithm == "none":
            return
        if el is None:
            raise CorruptError(self.name, "xar toc checksum",
                               f"header names {self.header_algorithm} but the TOC no checksum")
        style = (el.get("style") or "").lower()
        if style != self.header_algorithm:
            raise CorruptError(self.name, "xar toc checksum style",
                               f"{style!r}, header says {self.header_algorithm!r}")
        offset, size = _int(el, "offset", self.name), _int(el, "size", self.name)
        if size != _DIGESTS.get(style, -1):
            raise CorruptError(self.name, "xar toc checksum size", f"{size} bytes for {style}")
        self.file.seek(self.heap + offset)
        stored = self.file.read(size)
        actual = hashlib.new(style, compressed).digest()
        if stored != actual:
            raise VerificationError(f"{self.name}: xar toc checksum: the table of contents "
                                    f"hashes to {actual.hex()}, the heap stores "
                                    f"{stored.hex() or 'nothing'} (at offset "
                                    f"{self.heap + offset:#x})")

    def _walk(self, parent: ElementTree.Element, prefix: str) -> None:
        for el in parent.findall("file"):
            name = el.findtext("name") or ""
            if not name or name in (".", "..") or "/" in name or "\0" in name:
                raise CorruptError(self.name, "xar toc file name",
                                   f"{prefix + name!r}: not a plain name")
            path = prefix + name
            self.members.append(self._member(el, path))
            self._walk(el, path + "/")

    def _member(self, el: ElementTree.Element, path: str) -> XarMember:
        kind = el.findtext("type") or "file"
        data = el.find("data")
        if data is None:
            return XarMember(path, kind)
        encoding = data.find("encoding")
        return XarMember(
            path, kind, _int(data, "offset", self.name), _int(data, "length", self.name),
            _int(data, "size", self.name),
            (encoding.get("style") if encoding is not None else None)
            or "application/octet-stream",
            _checksum(data.find("archived-checksum")),
            # Apple's xar writes the decoded bytes' digest as <unarchived-checksum>.
            _checksum(data.find("extracted-checksum")) or _checksum(data.find("unarchived-checksum")),
            True)

    def member(self, path: str) -> XarMember:
        for m in self.members:
            if m.path == path:
                return m
        raise CorruptError(self.name, "xar toc", f"no member {path!r}")

    def read(self, member: XarMember,
             progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
        """The member's decoded bytes in pieces; both checksums and the size
        are checked when the last piece has been read.  ``progress`` is
        told how many stored bytes each piece consumed."""
        if not member.has_data:
            return
        where = f"xar member {member.path!r}"
        decoder = _decoder(member.encoding, self.name, where)
        archived = _hasher(member.archived)
        extracted = _hasher(member.extracted)
        start = self.heap + member.offset
        left, produced = member.length, 0
        position = start
        while left:
            self.file.seek(position)
            piece = self.file.read(min(left, _PIECE))
            if not piece:
                raise CorruptError(self.name, where, f"truncated: {member.length - left} of "
                                   f"{member.length} stored bytes", start)
            position += len(piece)
            left -= len(piece)
            if archived:
                archived.update(piece)
            if progress:
                progress(len(piece))
            for out in decoder(piece):
                produced += len(out)
                if produced > member.size:
                    raise CorruptError(self.name, where, f"decodes to more than its size "
                                       f"({member.size} bytes)", start)
                if extracted:
                    extracted.update(out)
                yield out
        for out in decoder(None):
            produced += len(out)
            if extracted:
                extracted.update(out)
            yield out
        if produced != member.size:
            raise CorruptError(self.name, where, f"decodes to {produced} bytes, the TOC says "
                               f"{member.size}", start)
        for what, hasher, expected in (("archived", archived, member.archived),
                                       ("extracted", extracted, member.extracted)):
            if hasher and hasher.hexdigest() != expected.hexdigest.lower():
                raise VerificationError(f"{self.name}: {where}: {what}-checksum "
                                        f"{expected.algorithm} is {hasher.hexdigest()}, the "
                                        f"TOC says {expected.hexdigest}")


def _int(el: ElementTree.Element, tag: str, name: str) -> int:
    text = el.findtext(tag)
    try:
        value = int(text or "")
    except ValueError:
        raise CorruptError(name, f"xar toc <{tag}>", f"not a number: {text!r}") from None
    if value < 0:
        raise CorruptError(name, f"xar toc <{tag}>", f"negative: {value}")
    return value


def _checksum(el: ElementTree.Element | None) -> Checksum | None:
    if el is None or not (el.text or "").strip():
        return None
    return Checksum((el.get("style") or "sha1").lower(), el.text.strip())


def _hasher(checksum: Checksum | None):
    if checksum is None:
        return None
    if checksum.algorithm not in _DIGESTS:
        raise UnsupportedError(f"xar checksum style {checksum.algorithm!r}")
    return hashlib.new(checksum.algorithm)


def _decoder(encoding: str, name: str, where: str) -> Callable[[bytes | None], list[bytes]]:
    """``decode(piece)`` -> output pieces; ``decode(None)`` flushes."""
    if encoding == "application/octet-stream":
        return lambda piece: [piece] if piece else []
    if encoding in ("application/x-gzip", "application/zlib"):
        obj = zlib.decompressobj()         # xar's "gzip" is a zlib stream
        errors: tuple[type[Exception], ...] = (zlib.error,)
    elif encoding == "application/x-bzip2":
        obj = bz2.BZ2Decompressor()
        errors = (OSError, ValueError)
    elif encoding in ("application/x-xz", "application/x-lzma"):
        obj = lzma.LZMADecompressor()
        errors = (lzma.LZMAError,)
    else:
        raise UnsupportedError(f"{name}: {where}: encoding {encoding!r}")

    def decode(piece: bytes | None) -> list[bytes]:
        try:
            if piece is None:
                if not obj.eof:
                    raise CorruptError(name, where, f"{encoding} data ends early")
                if getattr(obj, "unused_data", b""):
                    raise CorruptError(name, where, f"data after the end of the {encoding} "
                                       "stream")
                return []
            out = [obj.decompress(piece, _PIECE)]
            while not obj.eof:
                tail = getattr(obj, "unconsumed_tail", None)      # zlib's way
                if tail is not None:
                    if not tail:
                        break
                    out.append(obj.decompress(tail, _PIECE))
                elif obj.needs_input:                             # bz2's and lzma's way
                    break
                else:
                    out.append(obj.decompress(b"", _PIECE))
            return [o for o in out if o]
        except EOFError:
            raise CorruptError(name, where, f"data after the end of the {encoding} "
                               "stream") from None
        except errors as exc:
            raise CorruptError(name, where, f"{encoding} data: {exc}") from None
    return decode


def open_xar(path: str | os.PathLike) -> XarArchive:
    """Open a xar file from disk (the caller closes ``archive.file``)."""
    f = open(path, "rb")
    try:
        return XarArchive(f, os.fspath(path))
    except BaseException:
        f.close()
        raise
