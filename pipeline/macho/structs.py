"""Mach-O on-disk layouts, declared once (mach-o/loader.h, mach-o/fat.h).

Mach-O headers and load commands are little-endian on every architecture
this project targets (x86_64, arm64, i386, armv7); the fat (universal)
header in front of them is always big-endian.
"""

from __future__ import annotations

import struct

# --- fat (universal) header, big-endian -------------------------------------
FAT_MAGIC = 0xCAFEBABE
FAT_MAGIC_64 = 0xCAFEBABF
structFatHeader = ">II"            # magic, nfat_arch
sizeFatHeader = struct.calcsize(structFatHeader)
structFatArch = ">iiIII"           # cputype, cpusubtype, offset, size, align
sizeFatArch = struct.calcsize(structFatArch)
structFatArch64 = ">iiQQII"        # cputype, cpusubtype, offset, size, align, reserved
sizeFatArch64 = struct.calcsize(structFatArch64)
# FAT_MAGIC is also Java's class-file magic; a real universal binary has few
# slices (llvm-lipo and cctools both refuse more than a handful of arches).
MAX_FAT_ARCHS = 64

# --- mach_header / mach_header_64, little-endian -----------------------------
MH_MAGIC = 0xFEEDFACE
MH_MAGIC_64 = 0xFEEDFACF
structMachHeader = "<IiiIIII"      # magic, cputype, cpusubtype, filetype, ncmds, sizeofcmds, flags
sizeMachHeader = struct.calcsize(structMachHeader)
structMachHeader64 = "<IiiIIIII"   # ... + reserved
sizeMachHeader64 = struct.calcsize(structMachHeader64)
_MH_NCMDS = 4
_MH_SIZEOFCMDS = 5

MH_EXECUTE = 0x2
MH_DYLIB = 0x6
MH_BUNDLE = 0x8

# --- load commands -----------------------------------------------------------
structLoadCommand = "<II"          # cmd, cmdsize
sizeLoadCommand = struct.calcsize(structLoadCommand)

LC_SEGMENT = 0x1
LC_SYMTAB = 0x2
LC_DYSYMTAB = 0xB
LC_SEGMENT_64 = 0x19
LC_UUID = 0x1B
LC_CODE_SIGNATURE = 0x1D
LC_SEGMENT_SPLIT_INFO = 0x1E
LC_FUNCTION_STARTS = 0x26
LC_DATA_IN_CODE = 0x29
LC_DYLIB_CODE_SIGN_DRS = 0x2B
LC_LINKER_OPTIMIZATION_HINT = 0x2E
LC_BUILD_VERSION = 0x32
LC_DYLD_EXPORTS_TRIE = 0x80000033
LC_DYLD_CHAINED_FIXUPS = 0x80000034
LC_DYLD_INFO = 0x22
LC_DYLD_INFO_ONLY = 0x80000022

# Every linkedit_data_command has this shape (cmd, cmdsize, dataoff, datasize).
LINKEDIT_DATA_COMMANDS = frozenset({
    LC_CODE_SIGNATURE, LC_SEGMENT_SPLIT_INFO, LC_FUNCTION_STARTS, LC_DATA_IN_CODE,
    LC_DYLIB_CODE_SIGN_DRS, LC_LINKER_OPTIMIZATION_HINT, LC_DYLD_EXPORTS_TRIE,
    LC_DYLD_CHAINED_FIXUPS,
})

structSegmentCommand = "<II16sIIIIiiII"    # cmd, cmdsize, segname, vmaddr, vmsize, fileoff, filesize, maxprot, initprot, nsects, flags
sizeSegmentCommand = struct.calcsize(structSegmentCommand)
structSegmentCommand64 = "<II16sQQQQiiII"
sizeSegmentCommand64 = struct.calcsize(structSegmentCommand64)
structSection = "<16s16sIIIIIIIII"         # sectname, segname, addr, size, offset, align, reloff, nreloc, flags, reserved1, reserved2
sizeSection = struct.calcsize(structSection)
structSection64 = "<16s16sQQIIIIIIII"      # ... + reserved3
sizeSection64 = struct.calcsize(structSection64)

S_ZEROFILL = 0x1
S_THREAD_LOCAL_ZEROFILL = 0x12

structLinkeditData = "<IIII"               # cmd, cmdsize, dataoff, datasize
sizeLinkeditData = struct.calcsize(structLinkeditData)
structSymtab = "<IIIIII"                   # cmd, cmdsize, symoff, nsyms, stroff, strsize
structDysymtab = "<II" + "I" * 18
structDyldInfo = "<II" + "I" * 10          # rebase, bind, weak_bind, lazy_bind, export (off, size) pairs
structBuildVersion = "<IIIIII"             # cmd, cmdsize, platform, minos, sdk, ntools
structUUID = "<II16s"

# --- cpu types (mach/machine.h) ----------------------------------------------
CPU_ARCH_ABI64 = 0x01000000
CPU_ARCH_ABI64_32 = 0x02000000
CPU_TYPE_X86 = 7
CPU_TYPE_X86_64 = CPU_TYPE_X86 | CPU_ARCH_ABI64
CPU_TYPE_ARM = 12
CPU_TYPE_ARM64 = CPU_TYPE_ARM | CPU_ARCH_ABI64
CPU_TYPE_ARM64_32 = CPU_TYPE_ARM | CPU_ARCH_ABI64_32
CPU_TYPE_POWERPC = 18
CPU_TYPE_POWERPC64 = CPU_TYPE_POWERPC | CPU_ARCH_ABI64
CPU_SUBTYPE_MASK = 0xFF000000

# The names lipo and codesign use; ``.<arch>sign`` detached files carry them.
_ARCH_NAMES = {
    (CPU_TYPE_X86_64, 3): "x86_64",
    (CPU_TYPE_X86_64, 8): "x86_64h",
    (CPU_TYPE_X86, 3): "i386",
    (CPU_TYPE_ARM64, 0): "arm64",
    (CPU_TYPE_ARM64, 1): "arm64v8",
    (CPU_TYPE_ARM64, 2): "arm64e",
    (CPU_TYPE_ARM64_32, 1): "arm64_32",
    (CPU_TYPE_ARM, 9): "armv7",
    (CPU_TYPE_ARM, 11): "armv7s",
    (CPU_TYPE_ARM, 12): "armv7k",
    (CPU_TYPE_POWERPC, 0): "ppc",
    (CPU_TYPE_POWERPC64, 0): "ppc64",
}


def arch_name(cputype: int, cpusubtype: int) -> str:
    name = _ARCH_NAMES.get((cputype, cpusubtype & ~CPU_SUBTYPE_MASK & 0xFFFFFFFF))
    if name is None:
        return f"cpu{cputype & 0xFFFFFFFF:x}-{cpusubtype & 0xFFFFFFFF:x}"
    return name


def segment_alignment(cputype: int) -> int:
    """__LINKEDIT vmsize rounding used by codesign_allocate (cctools
    get_segalign_from_flag): 16 KiB pages on ARM, 4 KiB elsewhere.  One
    shipped version used 0x2000 on x86_64 and broke reattachment of detached
    signatures, so this is pinned here rather than taken from the host."""
    if cputype in (CPU_TYPE_ARM, CPU_TYPE_ARM64, CPU_TYPE_ARM64_32):
        return 0x4000
    return 0x1000
