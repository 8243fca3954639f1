"""HFS+ transparent compression, write side (what ``ditto --hfsCompression``
and afsctool do): a tree transform applied before ``build_volume``.

A compressed file keeps an empty data fork, gets the UF_COMPRESSED BSD
flag and a ``com.apple.decmpfs`` attribute (16-byte little-endian header
"fpmc", type, uncompressed size; ``decmpfs.DecmpfsHeader``) and:

- when header + compressed bytes fit an inline attribute (3802 bytes, the
  writer's MAX_INLINE_ATTR): the compressed bytes follow the header (type 3
  zlib, type 11 LZFSE); a payload that does not shrink is stored as it is
  behind a marker byte (0xFF for zlib, 0x06 for LZFSE);
- otherwise the data, cut into 64 KiB chunks, goes to the resource fork
  (type 4 zlib, type 12 LZFSE), each chunk compressed or stored behind the
  same marker:

  zlib (type 4), a classic resource file holding one 'cmpf' resource:
    0x000  resource header, big-endian: data offset 0x100, map offset,
           data length, map length 50; zeros up to 0x100
    0x100  u32 BE length of the resource
    0x104  u32 LE chunk count, then count x (u32 LE offset, u32 LE size),
           offsets from 0x104; then the chunks
    map    50 bytes: header copy, type list with one type 'cmpf' holding
           one resource, id 1, no name
  LZFSE (type 12):
    0      (count + 1) x u32 LE offsets from the fork's start, the last
           one the end of the last chunk; then the chunks

Files that compression would not make smaller, empty files and files that
already carry a resource fork or decmpfs attribute are left as they are, as
ditto does.  Layouts after libyal's libfshfs documentation and afsctool;
read back by ``decmpfs`` here and by 7-Zip and libfshfs in the tests.
"""

from __future__ import annotations

import struct
from typing import Callable, Hashable

from .. import codecs
from .decmpfs import CHUNK, DecmpfsHeader, UF_COMPRESSED, XATTR_NAME, ZLIB_RSRC_BASE
from .tree import EMPTY, File, FileData, Tree
from ..errors import InputError

METHODS = {"zlib": (3, 4), "lzfse": (11, 12)}
MAX_INLINE = 3802           # the writer's largest inline attribute (writer.MAX_INLINE_ATTR)
ZLIB_LEVEL = 5              # ditto's and afsctool's default
_RAW_MARKER = {"zlib": b"\xff", "lzfse": b"\x06"}
RESOURCE_MAP_LENGTH = 50


def _chunk_coder(method: str) -> Callable[[bytes], bytes]:
    compress = codecs.compressor(method, ZLIB_LEVEL if method == "zlib" else None)
    marker = _RAW_MARKER[method]

    def code(chunk: bytes) -> bytes:
        packed = compress(chunk)
        return packed if len(packed) < len(chunk) else marker + chunk
    return code


def _zlib_fork(chunks: list[bytes]) -> bytes:
    count = len(chunks)
    table, offset = [], 4 + 8 * count
    for chunk in chunks:
        table.append(struct.pack("<II", offset, len(chunk)))
        offset += len(chunk)
    resource = struct.pack("<I", count) + b"".join(table) + b"".join(chunks)
    data_length = 4 + len(resource)
    header = struct.pack(">IIII", 0x100, 0x100 + data_length, data_length,
                         RESOURCE_MAP_LENGTH)
    # The map: a copy of the header, next-map handle, file reference and
    # attributes (zero), type list at 28, name list at 50 (none), one type
    # 'cmpf' with one resource whose reference list is 10 bytes into the
    # type list: id 1, no name (0xFFFF), attributes and data offset 0.
    resource_map = header + struct.pack(">IHHHH", 0, 0, 0, 28, RESOURCE_MAP_LENGTH) + \
        struct.pack(">H4sHH", 0, b"cmpf", 0, 10) + struct.pack(">hHII", 1, 0xFFFF, 0, 0)
    assert len(resource_map) == RESOURCE_MAP_LENGTH
    fork = header + bytes(0x100 - len(header)) + struct.pack(">I", len(resource)) + resource
    assert len(fork) == ZLIB_RSRC_BASE + len(resource)
    return fork + resource_map


def _lzfse_fork(chunks: list[bytes]) -> bytes:
    offsets, offset = [], 4 * (len(chunks) + 1)
    for chunk in chunks:
        offsets.append(offset)
        offset += len(chunk)
    offsets.append(offset)
    return struct.pack(f"<{len(offsets)}I", *offsets) + b"".join(chunks)


def compress_data(data: bytes, method: str) -> tuple[bytes, bytes | None] | None:
    """(``com.apple.decmpfs`` value, resource fork or None) for ``data``, or
    None when compression would not make the file smaller."""
    if method not in METHODS:
        raise InputError(f"HFS+ compression {method!r}: expected one of {', '.join(METHODS)}")
    if not data:
        return None
    inline_type, rsrc_type = METHODS[method]
    code = _chunk_coder(method)
    if len(data) <= CHUNK:
        payload = code(data)
        value = DecmpfsHeader(compression_type=inline_type,
                              uncompressed_size=len(data)).pack() + payload
        if len(value) <= MAX_INLINE:
            return (value, None) if len(payload) < len(data) else None
    chunks = [code(data[i:i + CHUNK]) for i in range(0, len(data), CHUNK)]
    fork = _zlib_fork(chunks) if method == "zlib" else _lzfse_fork(chunks)
    if len(fork) >= len(data):
        return None
    value = DecmpfsHeader(compression_type=rsrc_type, uncompressed_size=len(data)).pack()
    return value, fork


def _read(data: FileData, origin: str | None) -> bytes:
    if data.data is not None:
        return data.data
    try:
        with open(data.path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InputError(f"{origin or data.path}: cannot read: {exc.strerror}") from None


def compress_entry(entry: File, method: str, groups: dict[Hashable, tuple | None]) -> bool:
    """Compress one file in place if it is eligible and gets smaller; returns
    whether it was.  Hard links share their compressed form (same data, same
    result): ``groups`` keeps it by link group."""
    if not entry.data.size or entry.rsrc is not None or XATTR_NAME in entry.xattrs \
            or entry.bsd_flags & UF_COMPRESSED:
        return False
    group = entry.link_group
    if group is not None and group in groups:
        result = groups[group]
    else:
        result = compress_data(_read(entry.data, entry.origin), method)
        if group is not None:
            groups[group] = result
    if result is None:
        return False
    value, fork = result
    entry.xattrs = {**entry.xattrs, XATTR_NAME: value}
    entry.rsrc = FileData.from_bytes(fork) if fork is not None else None
    entry.data = EMPTY
    entry.bsd_flags |= UF_COMPRESSED
    return True


def compress_tree(tree: Tree, method: str) -> int:
    """Compress every eligible file of ``tree`` in place; returns how many.
    (The writer's ``hfs_compression`` does the same file by file as it
    walks, without holding the tree.)"""
    groups: dict[Hashable, tuple | None] = {}
    return sum(1 for _path, entry in tree.walk()
               if isinstance(entry, File) and compress_entry(entry, method, groups))
