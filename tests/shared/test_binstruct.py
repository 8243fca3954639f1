"""The one convention for on-disk structures (pipeline/binstruct.py)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest

from pipeline.binstruct import BinStruct, on_disk
from pipeline.macho.structs import Section64, SegmentCommand64
from pipeline.udif.koly import Koly
from pipeline.udif.mish import BlkxTable, Chunk


@dataclass
class Inner(BinStruct):
    a: int = on_disk("H", "innerA")
    b: bytes = on_disk("2s", "innerB", b"\0\0")


@dataclass
class Outer(BinStruct):
    tag: bytes = on_disk("4s", "tag", b"TEST")
    inner: Inner = on_disk(Inner, "inner")
    count: int = on_disk("Q", "count")
    note: str = "not on disk"


def test_parse_pack_offsets_and_nesting_follow_the_declaration():
    raw = b"xxTEST" + struct.pack(">H2sQ", 7, b"ok", 2 ** 40)
    value = Outer.parse(raw, 2)
    assert value == Outer(b"TEST", Inner(7, b"ok"), 2 ** 40)
    assert value.pack() == raw[2:]
    assert Outer.struct_size() == 16 and Outer.offset_of("count") == 8
    assert [(f.spec, f.offset, f.size) for f in Outer.disk_fields()] == [
        ("tag", 0, 4), ("inner", 4, 4), ("count", 8, 8)]


def test_the_format_structures_have_their_specified_sizes_and_offsets():
    # Sizes from the public headers: koly 512, mish header 204 and chunk 40
    # (docs/formats.md §2), segment_command_64 72 and section_64 80 (loader.h).
    assert (Koly.struct_size(), BlkxTable.struct_size(), Chunk.struct_size()) == (512, 204, 40)
    assert (SegmentCommand64.struct_size(), Section64.struct_size()) == (72, 80)
    assert Koly.offset_of("xml_offset") == 216 and Koly.offset_of("sector_count") == 492
    assert Koly.offset_of("code_signature_offset") == 296
    assert SegmentCommand64.offset_of("filesize") == 48


def test_a_field_that_would_hide_a_method_is_refused():
    @dataclass
    class Bad(BinStruct):
        pack: int = on_disk("I", "pack")
    with pytest.raises(TypeError, match="pack"):
        Bad.parse(bytes(4))


def test_structures_of_one_field_and_of_none_pack_and_parse():
    @dataclass
    class One(BinStruct):
        a: int = on_disk("I", "a")

    @dataclass
    class Empty(BinStruct):
        pass

    assert One(7).pack() == b"\0\0\0\x07" and One.parse(b"\0\0\0\x07") == One(7)
    assert Empty().pack() == b"" and Empty.struct_size() == 0
