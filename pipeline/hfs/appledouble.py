"""AppleDouble files (``._name``): how HFS+ metadata travels on file systems
that have no place for it, as macOS writes them.

Layout (Apple's AppleSingle/AppleDouble specification, version 2, with the
extended-attribute area macOS adds inside the Finder-info entry, as XNU's
``bsd/vfs/vfs_xattr.c`` reads it)::

    header   magic 0x00051607, version 0x00020000, 16 filler bytes, entry count
    entries  (id, offset, length): 9 Finder info, 2 resource fork
    Finder info: 32 bytes, 2 bytes of padding, then "ATTR" header, one
             entry per attribute (4-byte aligned), the attribute values
    resource fork: its bytes, last
"""

from __future__ import annotations

from dataclasses import dataclass

from ..binstruct import BinStruct, on_disk

APPLEDOUBLE_MAGIC = 0x00051607
APPLEDOUBLE_VERSION = 0x00020000
ENTRY_RESOURCE_FORK = 2
ENTRY_FINDER_INFO = 9
ATTR_MAGIC = b"ATTR"
FINDER_INFO_SIZE = 32


@dataclass
class AppleDoubleHeader(BinStruct):
    magic: int = on_disk("I", "magic", APPLEDOUBLE_MAGIC)
    version: int = on_disk("I", "version", APPLEDOUBLE_VERSION)
    filler: bytes = on_disk("16s", "filler", b"Mac OS X        ")
    num_entries: int = on_disk("H", "numEntries", 2)


@dataclass
class AppleDoubleEntry(BinStruct):
    entry_id: int = on_disk("I", "entryID")
    offset: int = on_disk("I", "offset")
    length: int = on_disk("I", "length")


@dataclass
class AttrHeader(BinStruct):
    magic: bytes = on_disk("4s", "magic", ATTR_MAGIC)
    debug_tag: int = on_disk("I", "debug_tag")
    total_size: int = on_disk("I", "total_size")
    data_start: int = on_disk("I", "data_start")
    data_length: int = on_disk("I", "data_length")
    reserved: bytes = on_disk("12s", "reserved", bytes(12))
    flags: int = on_disk("H", "flags")
    num_attrs: int = on_disk("H", "num_attrs")


@dataclass
class AttrEntryHead(BinStruct):
    """attr_entry up to its NUL-terminated name."""

    offset: int = on_disk("I", "offset")
    length: int = on_disk("I", "length")
    flags: int = on_disk("H", "flags")
    namelen: int = on_disk("B", "namelen")


# namelen is one byte and counts the name's NUL terminator.
MAX_NAME_BYTES = 0xFF - 1


def _align4(n: int) -> int:
    return (n + 3) & ~3


def build_appledouble(finder_info: bytes, xattrs: dict[str, bytes], resource_fork: bytes) -> bytes:
    """The ``._name`` file for one file's Finder info, attributes and resource fork."""
    head_size = AppleDoubleHeader.struct_size() + 2 * AppleDoubleEntry.struct_size()
    finder_at = head_size
    attr_at = finder_at + FINDER_INFO_SIZE + 2          # 2 bytes of padding, as macOS
    names = sorted(xattrs)
    entries_size = sum(_align4(AttrEntryHead.struct_size() + len(n.encode()) + 1) for n in names)
    data_start = attr_at + AttrHeader.struct_size() + entries_size
    values = [xattrs[n] for n in names]
    total = data_start + sum(len(v) for v in values)
    entries = bytearray()
    pos = data_start
    for name, value in zip(names, values):
        raw = name.encode() + b"\0"
        item = AttrEntryHead(pos, len(value), 0, len(raw)).pack() + raw
        entries += item + bytes(_align4(len(item)) - len(item))
        pos += len(value)
    attr = AttrHeader(total_size=total, data_start=data_start, data_length=total - data_start,
                      num_attrs=len(names)).pack()
    out = bytearray(AppleDoubleHeader().pack())
    out += AppleDoubleEntry(ENTRY_FINDER_INFO, finder_at, total - finder_at).pack()
    out += AppleDoubleEntry(ENTRY_RESOURCE_FORK, total, len(resource_fork)).pack()
    out += finder_info.ljust(FINDER_INFO_SIZE, b"\0")[:FINDER_INFO_SIZE] + bytes(2)
    out += attr + entries + b"".join(values) + resource_fork
    return bytes(out)


def parse_appledouble(data: bytes) -> tuple[bytes, dict[str, bytes], bytes]:
    """(Finder info, attributes, resource fork) of an AppleDouble file (for tests and
    tools; raises ValueError on anything malformed)."""
    head = AppleDoubleHeader.parse(data)
    if head.magic != APPLEDOUBLE_MAGIC or head.version != APPLEDOUBLE_VERSION:
        raise ValueError("not an AppleDouble version 2 file")
    size = AppleDoubleEntry.struct_size()
    base = AppleDoubleHeader.struct_size()
    found = {}
    for i in range(head.num_entries):
        e = AppleDoubleEntry.parse(data, base + i * size)
        if e.offset + e.length > len(data):
            raise ValueError(f"entry {e.entry_id} runs past the file")
        found[e.entry_id] = e
    finder, xattrs, rsrc = b"", {}, b""
    if ENTRY_FINDER_INFO in found:
        e = found[ENTRY_FINDER_INFO]
        finder = data[e.offset:e.offset + FINDER_INFO_SIZE]
        attr_at = e.offset + FINDER_INFO_SIZE + 2
        if data[attr_at:attr_at + 4] == ATTR_MAGIC:
            attr = AttrHeader.parse(data, attr_at)
            pos = attr_at + AttrHeader.struct_size()
            for _ in range(attr.num_attrs):
                item = AttrEntryHead.parse(data, pos)
                name_at = pos + AttrEntryHead.struct_size()
                name = data[name_at:name_at + item.namelen].rstrip(b"\0").decode()
                xattrs[name] = data[item.offset:item.offset + item.length]
                pos += _align4(AttrEntryHead.struct_size() + item.namelen)
    if ENTRY_RESOURCE_FORK in found:
        e = found[ENTRY_RESOURCE_FORK]
        rsrc = data[e.offset:e.offset + e.length]
    return finder, xattrs, rsrc
