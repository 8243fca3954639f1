"""On-disk structures declared once: the one convention of every format.

A structure is a dataclass whose fields are listed in disk order; each field
says its ``struct`` code and the name the format's specification gives it::

    @dataclass
    class Chunk(BinStruct):
        type: int = on_disk("I", "type")
        comment: int = on_disk("I", "comment")
        sector: int = on_disk("Q", "sectorNumber")
        ...

From that single declaration come ``parse`` (from bytes at an offset),
``pack``, ``struct_size()``, ``offset_of(attribute)`` and ``disk_fields()`` (each
field's attribute, specification name, offset and size, for tools that
name the field holding a byte).  A field's code may be another
``BinStruct`` (a nested structure, e.g. a fork inside a catalog record).
Attributes without ``on_disk`` are not part of the layout (a table's chunk
list, say); the structure's own code fills them in.

Byte order is the class attribute ``ENDIAN`` (big-endian unless a format
says otherwise: Mach-O headers are little-endian).
"""

from __future__ import annotations

import dataclasses
import operator
import struct
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="BinStruct")

_CODE = "binstruct.code"
_SPEC = "binstruct.spec"
_COUNT = "binstruct.count"


def on_disk(code: "str | type[BinStruct]", spec: str, default: Any = 0, *,
            default_factory: Any = dataclasses.MISSING, repr: bool = True,
            count: int | None = None) -> Any:
    """A dataclass field stored on disk with ``struct`` code ``code`` (or a
    nested ``BinStruct``), named ``spec`` by the format's specification.

    With ``count``, the field is an array of ``count`` elements: a list of
    values, or of tuples when ``code`` holds several items (``"II"`` for
    HFS+'s (startBlock, blockCount) extent descriptors).
    """
    metadata = {_CODE: code, _SPEC: spec, _COUNT: count}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata, repr=repr)
    if isinstance(code, type):
        return dataclasses.field(default_factory=code, metadata=metadata, repr=repr)
    return dataclasses.field(default=default, metadata=metadata, repr=repr)


@dataclass(frozen=True)
class DiskField:
    attribute: str
    spec: str
    offset: int
    size: int


_API = frozenset({"parse", "pack", "struct_size", "offset_of", "disk_fields"})


class _Layout:
    """The compiled form of one structure (made once per class)."""

    def __init__(self, cls: type) -> None:
        fields = [f for f in dataclasses.fields(cls) if _CODE in f.metadata]
        clashes = {f.name for f in dataclasses.fields(cls)} & _API
        if clashes:
            # A field would hide the class's own method of the same name.
            raise TypeError(f"{cls.__name__}: field names {sorted(clashes)} are BinStruct methods")
        codes = []
        self.nested: list[tuple[int, type[BinStruct]]] = []
        # (field index, elements, items per element) of every array field
        self.arrays: list[tuple[int, int, int]] = []
        self.disk_fields: list[DiskField] = []
        offset = 0
        for i, f in enumerate(fields):
            code = f.metadata[_CODE]
            count = f.metadata.get(_COUNT)
            if isinstance(code, type):
                if count is not None:
                    raise TypeError(f"{cls.__name__}.{f.name}: arrays of structures are not "
                                    "supported")
                self.nested.append((i, code))
                size = code.struct_size()
                codes.append(f"{size}s")
            elif count is not None:
                items = len(struct.unpack(cls.ENDIAN + code,
                                          bytes(struct.calcsize(cls.ENDIAN + code))))
                self.arrays.append((i, count, items))
                codes.append(code * count)
                size = struct.calcsize(cls.ENDIAN + code) * count
            else:
                codes.append(code)
                size = struct.calcsize(cls.ENDIAN + code)
            self.disk_fields.append(DiskField(f.name, f.metadata[_SPEC], offset, size))
            offset += size
        self.struct = struct.Struct(cls.ENDIAN + "".join(codes))
        if self.struct.size != offset:
            raise TypeError(f"{cls.__name__}: field sizes do not add up (alignment padding?)")
        self.names = [f.name for f in fields]
        # Every stored value in one C call (pack runs per catalog record).
        if len(self.names) > 1:
            self.values = operator.attrgetter(*self.names)
        elif self.names:
            single = operator.attrgetter(self.names[0])
            self.values = lambda obj: (single(obj),)
        else:
            self.values = lambda _obj: ()
        self.array_items = {i: items for i, _count, items in self.arrays}
        self.array_shapes = {i: (count, items) for i, count, items in self.arrays}
        self.offsets = {d.attribute: d.offset for d in self.disk_fields}
        self.flat = not self.nested and not self.arrays
        # The stored fields come first in the dataclass: construct by position (fast).
        all_names = [f.name for f in dataclasses.fields(cls) if f.init]
        self.names_are_prefix = all_names[:len(self.names)] == self.names


class BinStruct:
    """Base of every on-disk structure (see the module docstring)."""

    ENDIAN: ClassVar[str] = ">"

    @classmethod
    def _layout(cls) -> _Layout:
        layout = cls.__dict__.get("_binstruct_layout")
        if layout is None:
            layout = _Layout(cls)
            setattr(cls, "_binstruct_layout", layout)
        return layout

    @classmethod
    def struct_size(cls) -> int:
        return cls._layout().struct.size

    @classmethod
    def offset_of(cls, attribute: str) -> int:
        return cls._layout().offsets[attribute]

    @classmethod
    def disk_fields(cls) -> list[DiskField]:
        """Every stored field, in disk order."""
        return list(cls._layout().disk_fields)

    @classmethod
    def parse(cls: type[T], buf: bytes | bytearray | memoryview, offset: int = 0) -> T:
        """The structure at ``offset``; the caller has checked that it fits."""
        layout = cls._layout()
        flat = layout.struct.unpack_from(buf, offset)
        if layout.flat:
            return cls(*flat) if layout.names_are_prefix else cls(**dict(zip(layout.names, flat)))
        values = _group(flat, layout)
        for i, nested in layout.nested:
            values[i] = nested.parse(values[i])
        return cls(**dict(zip(layout.names, values)))

    def pack(self) -> bytes:
        layout = self._layout()
        if layout.flat:
            return layout.struct.pack(*layout.values(self))
        values = list(layout.values(self))
        for i, _nested in layout.nested:
            values[i] = values[i].pack()
        if not layout.arrays:
            return layout.struct.pack(*values)
        flat: list[Any] = []
        arrays = layout.array_items
        for i, value in enumerate(values):
            if i not in arrays:
                flat.append(value)
            elif arrays[i] == 1:
                flat.extend(value)
            else:
                for element in value:
                    flat.extend(element)
        return layout.struct.pack(*flat)


def _group(flat: tuple, layout: _Layout) -> list[Any]:
    """Struct items back into one value per field (arrays as lists)."""
    arrays = layout.array_shapes
    values: list[Any] = []
    pos = 0
    for i in range(len(layout.names)):
        if i not in arrays:
            values.append(flat[pos])
            pos += 1
            continue
        count, items = arrays[i]
        chunk = flat[pos:pos + count * items]
        pos += count * items
        values.append(list(chunk) if items == 1 else
                      [tuple(chunk[k:k + items]) for k in range(0, len(chunk), items)])
    return values
