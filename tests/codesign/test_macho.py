"""Mach-O parsing, checked against llvm-otool's reading of real binaries
(the signapple corpus built by Apple's ld64, and binaries linked here by
ld64.lld; the builder lives in tests/support/macho_builder.py)."""

from __future__ import annotations

import pytest

from helpers import SIGNAPPLE_CORPUS
from macho_builder import assert_matches_otool
from pipeline.macho import parse_macho, read_macho


@pytest.mark.parametrize("which", ["signed", "unsigned"])
def test_corpus_binary_matches_otool(which):
    assert_matches_otool(SIGNAPPLE_CORPUS / which / "Contents/MacOS/signapple-test")


def test_lld_thin_and_universal_match_otool(builder):
    arm = builder.link("arm64", "otool-arm64")
    x86 = builder.link("x86_64", "otool-x86_64")
    dylib = builder.link("arm64", "libotool.dylib", dylib=True)
    uni = builder.lipo("otool-uni", x86, arm)
    for path in (arm, x86, dylib, uni):
        assert_matches_otool(path)
    macho = read_macho(uni)
    assert [s.arch for s in macho.slices] == ["x86_64", "arm64"]
    assert [a.align for a in macho.fat.archs] == [12, 14]
    assert macho.fat.pack() == uni.read_bytes()[:macho.fat.header_size]


def test_build_version_and_segments_of_lld_binary(builder):
    sl = read_macho(builder.link("arm64", "bv-arm64")).slices[0]
    assert sl.build_version.platform == 1                  # PLATFORM_MACOS
    assert sl.build_version.minos == 0x000B0000            # 11.0, from -platform_version
    assert sl.segment("__LINKEDIT").fileoff + sl.segment("__LINKEDIT").filesize == sl.size


def test_not_macho_is_refused_with_file_and_offset():
    from pipeline.errors import CorruptError
    with pytest.raises(CorruptError) as info:
        parse_macho(b"\x7fELF" + bytes(60), "x.bin")
    assert str(info.value) == "x.bin: mach_header.magic: offset 0x0: 0x464c457f is not a Mach-O magic"


def test_universal_file_with_two_slices_of_one_architecture_is_refused():
    import struct

    from pipeline.errors import CorruptError
    thin = (SIGNAPPLE_CORPUS / "unsigned/Contents/MacOS/signapple-test").read_bytes()
    first = 0x1000
    second = first + (len(thin) + 0xFFF) // 0x1000 * 0x1000
    head = struct.pack(">II", 0xCAFEBABE, 2)
    for offset in (first, second):
        head += struct.pack(">iiIII", 0x01000007, 3, offset, len(thin), 12)   # x86_64
    data = head + bytes(first - len(head)) + thin + bytes(second - first - len(thin)) + thin
    with pytest.raises(CorruptError) as info:
        parse_macho(data, "dup.bin")
    assert str(info.value) == ("dup.bin: fat_arch[1] (x86_64): offset 0x1c: a second slice "
                               "of the same architecture")
