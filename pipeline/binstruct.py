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
import struct
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="BinStruct")

_CODE = "binstruct.code"
_SPEC = "binstruct.spec"


def on_disk(code: "str | type[BinStruct]", spec: str, default: Any = 0, *,
            default_factory: Any = dataclasses.MISSING, repr: bool = True) -> Any:
    """A dataclass field stored on disk with ``struct`` code ``code`` (or a
    nested ``BinStruct``), named ``spec`` by the format's specification."""
    metadata = {_CODE: code, _SPEC: spec}
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
        self.disk_fields: list[DiskField] = []
        offset = 0
        for i, f in enumerate(fields):
            code = f.metadata[_CODE]
            if isinstance(code, type):
                self.nested.append((i, code))
                size = code.struct_size()
                codes.append(f"{size}s")
            else:
                codes.append(code)
                size = struct.calcsize(cls.ENDIAN + code)
            self.disk_fields.append(DiskField(f.name, f.metadata[_SPEC], offset, size))
            offset += size
        self.struct = struct.Struct(cls.ENDIAN + "".join(codes))
        if self.struct.size != offset:
            raise TypeError(f"{cls.__name__}: field sizes do not add up (alignment padding?)")
        self.names = [f.name for f in fields]
        self.offsets = {d.attribute: d.offset for d in self.disk_fields}


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
        values = list(layout.struct.unpack_from(buf, offset))
        for i, nested in layout.nested:
            values[i] = nested.parse(values[i])
        return cls(**dict(zip(layout.names, values)))

    def pack(self) -> bytes:
        layout = self._layout()
        values = [getattr(self, name) for name in layout.names]
        for i, _nested in layout.nested:
            values[i] = values[i].pack()
        return layout.struct.pack(*values)
