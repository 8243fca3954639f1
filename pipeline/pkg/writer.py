"""Small writers for the same formats, for benchmarks and tests: a cpio odc
entry, a pbzx stream and a xar archive whose members are stored as they
are.  (Apple's tools write the real downloads; the readers are checked
against GNU cpio's and libarchive's output too.)"""

from __future__ import annotations

import hashlib
import lzma
import os
import struct
import zlib
from pathlib import Path
from typing import Iterable, Iterator, Sequence
from xml.sax.saxutils import escape

from .pbzx import MAGIC as PBZX_MAGIC
from .xar import MAGIC as XAR_MAGIC, XarHeader

_XAR_ALGORITHMS = {"sha1": 1, "md5": 2, "sha256": 3, "sha512": 4}


def odc_header(name: str, *, mode: int, size: int, ino: int = 0, nlink: int = 1,
               mtime: int = 0) -> bytes:
    """An odc header and name (the data, ``size`` bytes, follows it)."""
    fields = (0, ino, mode, 0, 0, nlink, 0)
    raw = name.encode("utf-8") + b"\0"
    return (b"070707" + b"".join(b"%06o" % v for v in fields) + b"%011o" % mtime
            + b"%06o" % len(raw) + b"%011o" % size + raw)


def odc_trailer() -> bytes:
    return odc_header("TRAILER!!!", mode=0, size=0)


def pbzx_chunks(chunks: Iterable[bytes], chunk_size: int = 1 << 24) -> Iterator[bytes]:
    """A pbzx stream of the given payload chunks (each at most ``chunk_size``);
    a chunk xz does not shrink is stored as it is."""
    yield PBZX_MAGIC + struct.pack(">Q", chunk_size)
    for chunk in chunks:
        packed = lzma.compress(chunk, format=lzma.FORMAT_XZ)
        stored = chunk if len(packed) >= len(chunk) else packed
        yield struct.pack(">QQ", len(chunk), len(stored)) + stored


def write_xar(members: Sequence[tuple[str, bytes | os.PathLike]], out: str | os.PathLike, *,
              checksum: str = "sha1") -> Path:
    """Members as files (``a/b`` is ``b`` in folder ``a``), data from bytes
    or a file, stored as they are; the TOC's checksum at the heap's start."""
    digest_size = hashlib.new(checksum).digest_size
    offset = digest_size
    tree: dict = {}
    for path, data in members:
        h = hashlib.new(checksum)
        size = 0
        for piece in _pieces(data):
            h.update(piece)
            size += len(piece)
        node = tree
        parts = path.split("/")
        for folder in parts[:-1]:
            node = node.setdefault(folder, {})
        node[parts[-1]] = (offset, size, h.hexdigest())
        offset += size
    ids = iter(range(1, 1 << 30))

    def files(node: dict) -> str:
        out = []
        for name, value in node.items():
            head = f'<file id="{next(ids)}"><name>{escape(name)}</name>'
            if isinstance(value, dict):
                out.append(f"{head}<type>directory</type>{files(value)}</file>")
                continue
            off, size, digest = value
            out.append(f"{head}<type>file</type><data><offset>{off}</offset>"
                       f"<length>{size}</length><size>{size}</size>"
                       '<encoding style="application/octet-stream"/>'
                       f'<archived-checksum style="{checksum}">{digest}</archived-checksum>'
                       f'<extracted-checksum style="{checksum}">{digest}</extracted-checksum>'
                       "</data></file>")
        return "".join(out)

    toc = ('<?xml version="1.0" encoding="UTF-8"?><xar><toc>'
           f'<checksum style="{checksum}"><offset>0</offset><size>{digest_size}</size>'
           f"</checksum>{files(tree)}</toc></xar>").encode("utf-8")
    compressed = zlib.compress(toc, 9)
    header = XarHeader(toc_length_compressed=len(compressed), toc_length_uncompressed=len(toc),
                       cksum_alg=_XAR_ALGORITHMS[checksum]).pack()
    assert header[:4] == XAR_MAGIC
    with open(out, "wb") as f:
        f.write(header + compressed + hashlib.new(checksum, compressed).digest())
        for _path, data in members:
            for piece in _pieces(data):
                f.write(piece)
    return Path(out)


def _pieces(data: bytes | os.PathLike) -> Iterator[bytes]:
    if isinstance(data, (bytes, bytearray)):
        yield bytes(data)
        return
    with open(data, "rb") as f:
        yield from iter(lambda: f.read(1 << 20), b"")
