"""Small Mach-O binaries linked here by clang-19 and ld64.lld-19, and
llvm-otool's reading of a binary's load commands (an independent parser)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from helpers import require_tool
from pipeline.macho import read_macho

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
