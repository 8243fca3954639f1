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
from typing import Callable, Hashable, Iterable, Iterator

from .. import codecs
from .decmpfs import CHUNK, DecmpfsHeader, UF_COMPRESSED, XATTR_NAME, ZLIB_RSRC_BASE
from .spill import ForkStore
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


def _zlib_head(sizes: list[int]) -> bytes:
    """The zlib fork up to its first chunk: resource header, the resource's
    length, the chunk count and table."""
    count = len(sizes)
    table, offset = [], 4 + 8 * count
    for size in sizes:
        table.append(struct.pack("<II", offset, size))
        offset += size
    resource_length = offset             # count, table and chunks
    header = _zlib_resource_header(resource_length)
    return (header + bytes(0x100 - len(header)) + struct.pack(">I", resource_length)
            + struct.pack("<I", count) + b"".join(table))


def _zlib_resource_header(resource_length: int) -> bytes:
    data_length = 4 + resource_length
    return struct.pack(">IIII", 0x100, 0x100 + data_length, data_length, RESOURCE_MAP_LENGTH)


def _zlib_tail(sizes: list[int]) -> bytes:
    """The resource map after the chunks: a copy of the header, next-map
    handle, file reference and attributes (zero), type list at 28, name list
    at 50 (none), one type 'cmpf' with one resource whose reference list is
    10 bytes into the type list: id 1, no name (0xFFFF), attributes and
    data offset 0."""
    resource_length = 4 + 8 * len(sizes) + sum(sizes)
    resource_map = _zlib_resource_header(resource_length) + \
        struct.pack(">IHHHH", 0, 0, 0, 28, RESOURCE_MAP_LENGTH) + \
        struct.pack(">H4sHH", 0, b"cmpf", 0, 10) + struct.pack(">hHII", 1, 0xFFFF, 0, 0)
    assert len(resource_map) == RESOURCE_MAP_LENGTH
    return resource_map


def _lzfse_head(sizes: list[int]) -> bytes:
    offsets, offset = [], 4 * (len(sizes) + 1)
    for size in sizes:
        offsets.append(offset)
        offset += size
    offsets.append(offset)
    return struct.pack(f"<{len(offsets)}I", *offsets)


# (head before the chunks, its length for n chunks, tail after them)
_LAYOUT = {"zlib": (_zlib_head, lambda n: ZLIB_RSRC_BASE + 4 + 8 * n, _zlib_tail),
           "lzfse": (_lzfse_head, lambda n: 4 * (n + 1), lambda sizes: b"")}


def compress_data(data: bytes, method: str) -> tuple[bytes, bytes | None] | None:
    """(``com.apple.decmpfs`` value, resource fork or None) for ``data``, or
    None when compression would not make the file smaller."""
    store = ForkStore(in_memory=True)
    result = compress_to_store(FileData.from_bytes(data), method, store)
    if result is None or result[1] is None:
        return result
    value, fork = result
    return value, store.read(fork.offset, fork.size)


def _rsrc_value(method: str, size: int) -> bytes:
    return DecmpfsHeader(compression_type=METHODS[method][1], uncompressed_size=size).pack()


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise InputError(f"HFS+ compression {method!r}: expected one of {', '.join(METHODS)}")


def compress_to_store(data: FileData, method: str, store: ForkStore,
                      origin: str | None = None) -> tuple[bytes, FileData | None] | None:
    """(``com.apple.decmpfs`` value, resource fork in ``store`` or None)
    for a file read a chunk at a time, its fork written as it is made:
    memory stays one chunk whatever the file's size.  None when compression
    would not make the file smaller."""
    _check_method(method)
    if not data.size:
        return None
    code = _chunk_coder(method)
    if data.size <= CHUNK:
        # Inline in the attribute when header and payload fit; else the one
        # chunk, already coded, goes to the fork.
        payload = code(b"".join(_chunks(data, origin)))
        value = DecmpfsHeader(compression_type=METHODS[method][0],
                              uncompressed_size=data.size).pack() + payload
        if len(value) <= MAX_INLINE:
            return (value, None) if len(payload) < data.size else None
        coded_chunks: Iterable[bytes] = [payload]
    else:
        coded_chunks = (code(chunk) for chunk in _chunks(data, origin))
    head, head_length, tail = _LAYOUT[method]
    base = store.reserve(head_length(-(-data.size // CHUNK)))
    sizes: list[int] = []
    total = store.end - base
    for coded in coded_chunks:
        total += len(coded)
        if total >= data.size:            # cannot end up smaller: left as it is
            store.release(base)
            return None
        store.write_at(store.reserve(len(coded)), coded)
        sizes.append(len(coded))
    end = tail(sizes)
    if total + len(end) >= data.size:
        store.release(base)
        return None
    store.write_at(base, head(sizes))
    store.write_at(store.reserve(len(end)), end)
    return _rsrc_value(method, data.size), FileData(size=store.end - base, offset=base,
                                                    store=store)


def _chunks(data: FileData, origin: str | None) -> Iterator[bytes]:
    """The file's ``data.size`` bytes in chunks of CHUNK."""
    if data.data is not None:
        for i in range(0, data.size, CHUNK):
            yield data.data[i:i + CHUNK]
        return
    left = data.size
    try:
        with open(data.path, "rb") as fh:
            while left > 0:
                piece = fh.read(min(CHUNK, left))
                if not piece:
                    break
                left -= len(piece)
                yield piece
    except OSError as exc:
        raise InputError(f"{origin or data.path}: cannot read: {exc.strerror}") from None
    if left:
        raise InputError(f"{origin or data.path}: file shrank while the volume was being written")


def compress_entry(entry: File, method: str, groups: dict[Hashable, tuple | None],
                   store: ForkStore | None = None) -> bool:
    """Compress one file in place if it is eligible and gets smaller; returns
    whether it was.  Hard links share their compressed form (same data, same
    result): ``groups`` keeps it by link group.  With a ``store``, the
    resource fork goes there (``compress_to_store``) instead of memory."""
    if not entry.data.size or entry.rsrc is not None or XATTR_NAME in entry.xattrs \
            or entry.bsd_flags & UF_COMPRESSED:
        return False
    group = entry.link_group
    if group is not None and group in groups:
        result = groups[group]
    else:
        if store is not None:
            result = compress_to_store(entry.data, method, store, entry.origin)
        else:
            result = compress_data(b"".join(_chunks(entry.data, entry.origin)), method)
        if group is not None:
            groups[group] = result
    if result is None:
        return False
    value, fork = result
    entry.xattrs = {**entry.xattrs, XATTR_NAME: value}
    entry.rsrc = FileData.from_bytes(fork) if isinstance(fork, bytes) else fork
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
