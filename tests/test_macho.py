"""Mach-O parsing, checked against llvm-otool's reading of real binaries
(the signapple corpus built by Apple's ld64, and binaries linked here by
ld64.lld), plus the builders the code-signing tests share."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import SIGNAPPLE_CORPUS, require_tool
from pipeline.macho import parse_macho, read_macho

SOURCE = """
int value = 42;
const char message[] = "reprodmg code-signing test";
int helper(int x) { return x * 3 + value + message[x & 7]; }
void start(void) { volatile int r = helper(7); (void)r; for (;;) {} }
"""
CLANG = "clang-19"
LLD = "ld64.lld-19"
OTOOL = "llvm-otool-19"
LIPO = "llvm-lipo-19"


class Builder:
    """Links small Mach-O binaries with clang-19 + ld64.lld-19 (no SDK:
    -nostdlib objects with an explicit entry point)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects: dict[str, Path] = {}

    def obj(self, arch: str) -> Path:
        if arch not in self.objects:
            src = self.root / "t.c"
            src.write_text(SOURCE)
            out = self.root / f"t-{arch}.o"
            subprocess.run([require_tool(CLANG), "-target", f"{arch}-apple-macos11", "-O1",
                            "-c", str(src), "-o", str(out)], check=True)
            self.objects[arch] = out
        return self.objects[arch]

    def link(self, arch: str, name: str, *extra: str, dylib: bool = False) -> Path:
        out = self.root / name
        out.parent.mkdir(parents=True, exist_ok=True)
        args = [require_tool(LLD), "-arch", arch, "-platform_version", "macos", "11.0", "11.0",
                "-o", str(out), str(self.obj(arch)), *extra]
        args += ["-dylib", "-install_name", f"@rpath/{out.name}"] if dylib else ["-e", "_start"]
        subprocess.run(args, check=True)
        return out

    def lipo(self, name: str, *inputs: Path) -> Path:
        out = self.root / name
        subprocess.run([require_tool(LIPO), "-create", *map(str, inputs), "-output", str(out)],
                       check=True)
        return out


@pytest.fixture(scope="session")
def builder(tmp_path_factory) -> Builder:
    return Builder(tmp_path_factory.mktemp("lld"))


def otool_load_commands(path: Path, arch: str | None = None) -> list[dict[str, str]]:
    """Load commands as llvm-otool -l prints them (llvm-objdump --macho
    --arch for one slice of a universal file: llvm-otool-19 ignores -arch)."""
    args = [require_tool(OTOOL), "-l", str(path)]
    if arch:
        args = [require_tool("llvm-objdump-19"), "--macho", "--private-headers", f"--arch={arch}",
                str(path)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    commands = []
    for block in re.split(r"\nLoad command \d+\n", out)[1:]:
        fields = {}
        for line in block.splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[0] in ("cmd", "segname", "fileoff", "filesize", "vmsize",
                                                "dataoff", "datasize", "cmdsize"):
                fields.setdefault(parts[0], parts[1].strip())
        commands.append(fields)
    return commands


def _num(text: str) -> int:
    return int(text, 0)


def assert_matches_otool(path: Path) -> None:
    macho = read_macho(path)
    for sl in macho.slices:
        cmds = otool_load_commands(path, sl.arch if macho.is_universal else None)
        assert len(cmds) == len(sl.load_commands)
        for lc, oc in zip(sl.load_commands, cmds):
            assert _num(oc["cmdsize"]) == lc.cmdsize
        segs = {c["segname"]: c for c in cmds if c["cmd"] in ("LC_SEGMENT_64", "LC_SEGMENT")}
        assert sorted(segs) == sorted(s.segname for s in sl.segments)
        for seg in sl.segments:
            oc = segs[seg.segname]
            assert (_num(oc["fileoff"]), _num(oc["filesize"]), _num(oc["vmsize"])) == \
                (seg.fileoff, seg.filesize, seg.vmsize)
        sig = [c for c in cmds if c["cmd"] == "LC_CODE_SIGNATURE"]
        if sig:
            assert sl.code_signature is not None
            assert (_num(sig[0]["dataoff"]), _num(sig[0]["datasize"])) == \
                (sl.code_signature.dataoff, sl.code_signature.datasize)
        else:
            assert sl.code_signature is None


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
    assert sl.segment("__LINKEDIT").fileoff + sl.segment("__LINKEDIT").filesize == len(sl.data)


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
