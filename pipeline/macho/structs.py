"""Mach-O on-disk structures, declared once (mach-o/loader.h, mach-o/fat.h),
with the headers' own field names.

Mach-O headers and load commands are little-endian on every architecture
this project targets (x86_64, arm64, i386, armv7); the fat (universal)
header in front of them is always big-endian.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..binstruct import BinStruct, on_disk

# --- fat (universal) header, big-endian (mach-o/fat.h) -----------------------
FAT_MAGIC = 0xCAFEBABE
FAT_MAGIC_64 = 0xCAFEBABF
# FAT_MAGIC is also Java's class-file magic; a real universal binary has few
# slices (llvm-lipo and cctools both refuse more than a handful of arches).
MAX_FAT_ARCHS = 64


@dataclass
class FatHeaderFields(BinStruct):
    magic: int = on_disk("I", "magic", FAT_MAGIC)
    nfat_arch: int = on_disk("I", "nfat_arch")


@dataclass
class FatArch(BinStruct):
    cputype: int = on_disk("i", "cputype")
    cpusubtype: int = on_disk("i", "cpusubtype")
    offset: int = on_disk("I", "offset")
    size: int = on_disk("I", "size")
    align: int = on_disk("I", "align")

    @property
    def arch(self) -> str:
        return arch_name(self.cputype, self.cpusubtype)


@dataclass
class FatArch64(FatArch):
    offset: int = on_disk("Q", "offset")
    size: int = on_disk("Q", "size")
    reserved: int = on_disk("I", "reserved")


# --- mach_header / mach_header_64, little-endian (mach-o/loader.h) ----------
MH_MAGIC = 0xFEEDFACE
MH_MAGIC_64 = 0xFEEDFACF
MH_EXECUTE = 0x2
MH_DYLIB = 0x6
MH_BUNDLE = 0x8


@dataclass
class MachHeader(BinStruct):
    ENDIAN = "<"
    magic: int = on_disk("I", "magic", MH_MAGIC)
    cputype: int = on_disk("i", "cputype")
    cpusubtype: int = on_disk("i", "cpusubtype")
    filetype: int = on_disk("I", "filetype")
    ncmds: int = on_disk("I", "ncmds")
    sizeofcmds: int = on_disk("I", "sizeofcmds")
    flags: int = on_disk("I", "flags")


@dataclass
class MachHeader64(MachHeader):
    reserved: int = on_disk("I", "reserved")


# --- load commands ------------------------------------------------------------
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
LC_REQ_DYLD = 0x80000000
LC_LOAD_DYLIB = 0xC
LC_ID_DYLIB = 0xD
LC_LOAD_DYLINKER = 0xE
LC_ID_DYLINKER = 0xF
LC_LOAD_WEAK_DYLIB = 0x18 | LC_REQ_DYLD
LC_RPATH = 0x1C | LC_REQ_DYLD
LC_REEXPORT_DYLIB = 0x1F | LC_REQ_DYLD
LC_VERSION_MIN_MACOSX = 0x24
LC_DYLD_ENVIRONMENT = 0x27
LC_MAIN = 0x28 | LC_REQ_DYLD
LC_SOURCE_VERSION = 0x2A
LC_ENCRYPTION_INFO_64 = 0x2C
LC_LINKER_OPTION = 0x2D

# Every linkedit_data_command has the same shape (LinkeditDataCommand).
LINKEDIT_DATA_COMMANDS = frozenset({
    LC_CODE_SIGNATURE, LC_SEGMENT_SPLIT_INFO, LC_FUNCTION_STARTS, LC_DATA_IN_CODE,
    LC_DYLIB_CODE_SIGN_DRS, LC_LINKER_OPTIMIZATION_HINT, LC_DYLD_EXPORTS_TRIE,
    LC_DYLD_CHAINED_FIXUPS,
})

# The names loader.h gives them, for reports ("which load command differs").
LOAD_COMMAND_NAMES = {
    LC_SEGMENT: "LC_SEGMENT", LC_SYMTAB: "LC_SYMTAB", LC_DYSYMTAB: "LC_DYSYMTAB",
    LC_LOAD_DYLIB: "LC_LOAD_DYLIB", LC_ID_DYLIB: "LC_ID_DYLIB",
    LC_LOAD_DYLINKER: "LC_LOAD_DYLINKER", LC_ID_DYLINKER: "LC_ID_DYLINKER",
    LC_LOAD_WEAK_DYLIB: "LC_LOAD_WEAK_DYLIB", LC_SEGMENT_64: "LC_SEGMENT_64", LC_UUID: "LC_UUID",
    LC_RPATH: "LC_RPATH", LC_CODE_SIGNATURE: "LC_CODE_SIGNATURE",
    LC_SEGMENT_SPLIT_INFO: "LC_SEGMENT_SPLIT_INFO", LC_REEXPORT_DYLIB: "LC_REEXPORT_DYLIB",
    LC_DYLD_INFO: "LC_DYLD_INFO", LC_DYLD_INFO_ONLY: "LC_DYLD_INFO_ONLY",
    LC_VERSION_MIN_MACOSX: "LC_VERSION_MIN_MACOSX", LC_FUNCTION_STARTS: "LC_FUNCTION_STARTS",
    LC_DYLD_ENVIRONMENT: "LC_DYLD_ENVIRONMENT", LC_MAIN: "LC_MAIN",
    LC_DATA_IN_CODE: "LC_DATA_IN_CODE", LC_SOURCE_VERSION: "LC_SOURCE_VERSION",
    LC_DYLIB_CODE_SIGN_DRS: "LC_DYLIB_CODE_SIGN_DRS",
    LC_ENCRYPTION_INFO_64: "LC_ENCRYPTION_INFO_64", LC_LINKER_OPTION: "LC_LINKER_OPTION",
    LC_LINKER_OPTIMIZATION_HINT: "LC_LINKER_OPTIMIZATION_HINT",
    LC_BUILD_VERSION: "LC_BUILD_VERSION", LC_DYLD_EXPORTS_TRIE: "LC_DYLD_EXPORTS_TRIE",
    LC_DYLD_CHAINED_FIXUPS: "LC_DYLD_CHAINED_FIXUPS",
}


def load_command_name(cmd: int) -> str:
    return LOAD_COMMAND_NAMES.get(cmd, f"load command {cmd:#x}")


S_ZEROFILL = 0x1
S_THREAD_LOCAL_ZEROFILL = 0x12


@dataclass
class LoadCommandHeader(BinStruct):
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd")
    cmdsize: int = on_disk("I", "cmdsize")


@dataclass
class SegmentCommand(BinStruct):
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd", LC_SEGMENT)
    cmdsize: int = on_disk("I", "cmdsize")
    segname: bytes = on_disk("16s", "segname", bytes(16))
    vmaddr: int = on_disk("I", "vmaddr")
    vmsize: int = on_disk("I", "vmsize")
    fileoff: int = on_disk("I", "fileoff")
    filesize: int = on_disk("I", "filesize")
    maxprot: int = on_disk("i", "maxprot")
    initprot: int = on_disk("i", "initprot")
    nsects: int = on_disk("I", "nsects")
    flags: int = on_disk("I", "flags")


@dataclass
class SegmentCommand64(SegmentCommand):
    cmd: int = on_disk("I", "cmd", LC_SEGMENT_64)
    vmaddr: int = on_disk("Q", "vmaddr")
    vmsize: int = on_disk("Q", "vmsize")
    fileoff: int = on_disk("Q", "fileoff")
    filesize: int = on_disk("Q", "filesize")


@dataclass
class Section(BinStruct):
    ENDIAN = "<"
    sectname: bytes = on_disk("16s", "sectname", bytes(16))
    segname: bytes = on_disk("16s", "segname", bytes(16))
    addr: int = on_disk("I", "addr")
    size: int = on_disk("I", "size")
    offset: int = on_disk("I", "offset")
    align: int = on_disk("I", "align")
    reloff: int = on_disk("I", "reloff")
    nreloc: int = on_disk("I", "nreloc")
    flags: int = on_disk("I", "flags")
    reserved1: int = on_disk("I", "reserved1")
    reserved2: int = on_disk("I", "reserved2")


@dataclass
class Section64(Section):
    addr: int = on_disk("Q", "addr")
    size: int = on_disk("Q", "size")
    reserved3: int = on_disk("I", "reserved3")


@dataclass
class LinkeditDataCommand(BinStruct):
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd")
    cmdsize: int = on_disk("I", "cmdsize", 16)
    dataoff: int = on_disk("I", "dataoff")
    datasize: int = on_disk("I", "datasize")


@dataclass
class SymtabCommand(BinStruct):
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd", LC_SYMTAB)
    cmdsize: int = on_disk("I", "cmdsize")
    symoff: int = on_disk("I", "symoff")
    nsyms: int = on_disk("I", "nsyms")
    stroff: int = on_disk("I", "stroff")
    strsize: int = on_disk("I", "strsize")


@dataclass
class DysymtabCommand(BinStruct):
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd", LC_DYSYMTAB)
    cmdsize: int = on_disk("I", "cmdsize")
    ilocalsym: int = on_disk("I", "ilocalsym")
    nlocalsym: int = on_disk("I", "nlocalsym")
    iextdefsym: int = on_disk("I", "iextdefsym")
    nextdefsym: int = on_disk("I", "nextdefsym")
    iundefsym: int = on_disk("I", "iundefsym")
    nundefsym: int = on_disk("I", "nundefsym")
    tocoff: int = on_disk("I", "tocoff")
    ntoc: int = on_disk("I", "ntoc")
    modtaboff: int = on_disk("I", "modtaboff")
    nmodtab: int = on_disk("I", "nmodtab")
    extrefsymoff: int = on_disk("I", "extrefsymoff")
    nextrefsyms: int = on_disk("I", "nextrefsyms")
    indirectsymoff: int = on_disk("I", "indirectsymoff")
    nindirectsyms: int = on_disk("I", "nindirectsyms")
    extreloff: int = on_disk("I", "extreloff")
    nextrel: int = on_disk("I", "nextrel")
    locreloff: int = on_disk("I", "locreloff")
    nlocrel: int = on_disk("I", "nlocrel")


@dataclass
class DyldInfoCommand(BinStruct):
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd", LC_DYLD_INFO_ONLY)
    cmdsize: int = on_disk("I", "cmdsize")
    rebase_off: int = on_disk("I", "rebase_off")
    rebase_size: int = on_disk("I", "rebase_size")
    bind_off: int = on_disk("I", "bind_off")
    bind_size: int = on_disk("I", "bind_size")
    weak_bind_off: int = on_disk("I", "weak_bind_off")
    weak_bind_size: int = on_disk("I", "weak_bind_size")
    lazy_bind_off: int = on_disk("I", "lazy_bind_off")
    lazy_bind_size: int = on_disk("I", "lazy_bind_size")
    export_off: int = on_disk("I", "export_off")
    export_size: int = on_disk("I", "export_size")

    def tables(self) -> list[tuple[int, int]]:
        """(offset, size) of the rebase, bind, weak bind, lazy bind and export data."""
        return [(self.rebase_off, self.rebase_size), (self.bind_off, self.bind_size),
                (self.weak_bind_off, self.weak_bind_size),
                (self.lazy_bind_off, self.lazy_bind_size), (self.export_off, self.export_size)]


@dataclass
class BuildVersionCommand(BinStruct):
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd", LC_BUILD_VERSION)
    cmdsize: int = on_disk("I", "cmdsize")
    platform: int = on_disk("I", "platform")
    minos: int = on_disk("I", "minos")
    sdk: int = on_disk("I", "sdk")
    ntools: int = on_disk("I", "ntools")


@dataclass
class UuidCommand(BinStruct):
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd", LC_UUID)
    cmdsize: int = on_disk("I", "cmdsize", 24)
    uuid: bytes = on_disk("16s", "uuid", bytes(16))


@dataclass
class DylibCommand(BinStruct):
    """LC_LOAD_DYLIB and its kin; the install name follows at ``name_offset``."""
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd", LC_LOAD_DYLIB)
    cmdsize: int = on_disk("I", "cmdsize")
    name_offset: int = on_disk("I", "dylib.name.offset")
    timestamp: int = on_disk("I", "dylib.timestamp")
    current_version: int = on_disk("I", "dylib.current_version")
    compatibility_version: int = on_disk("I", "dylib.compatibility_version")


@dataclass
class StringCommand(BinStruct):
    """LC_RPATH, LC_LOAD_DYLINKER, LC_DYLD_ENVIRONMENT: one string at ``offset``."""
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd", LC_RPATH)
    cmdsize: int = on_disk("I", "cmdsize")
    name_offset: int = on_disk("I", "path.offset")


@dataclass
class EntryPointCommand(BinStruct):
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd", LC_MAIN)
    cmdsize: int = on_disk("I", "cmdsize", 24)
    entryoff: int = on_disk("Q", "entryoff")
    stacksize: int = on_disk("Q", "stacksize")


@dataclass
class SourceVersionCommand(BinStruct):
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd", LC_SOURCE_VERSION)
    cmdsize: int = on_disk("I", "cmdsize", 16)
    version: int = on_disk("Q", "version")


@dataclass
class VersionMinCommand(BinStruct):
    ENDIAN = "<"
    cmd: int = on_disk("I", "cmd", LC_VERSION_MIN_MACOSX)
    cmdsize: int = on_disk("I", "cmdsize", 16)
    version: int = on_disk("I", "version")
    sdk: int = on_disk("I", "sdk")


# --- symbol table entries (mach-o/nlist.h) -------------------------------------
@dataclass
class Nlist(BinStruct):
    ENDIAN = "<"
    n_strx: int = on_disk("I", "n_strx")
    n_type: int = on_disk("B", "n_type")
    n_sect: int = on_disk("B", "n_sect")
    n_desc: int = on_disk("H", "n_desc")
    n_value: int = on_disk("I", "n_value")


@dataclass
class Nlist64(Nlist):
    n_value: int = on_disk("Q", "n_value")


# The structure each load command is, for naming the field that differs
# (segments have their sections after them; string commands their string).
COMMAND_STRUCTS: dict[int, type[BinStruct]] = {
    LC_SEGMENT: SegmentCommand, LC_SEGMENT_64: SegmentCommand64,
    LC_SYMTAB: SymtabCommand, LC_DYSYMTAB: DysymtabCommand,
    LC_DYLD_INFO: DyldInfoCommand, LC_DYLD_INFO_ONLY: DyldInfoCommand,
    LC_BUILD_VERSION: BuildVersionCommand, LC_UUID: UuidCommand,
    LC_LOAD_DYLIB: DylibCommand, LC_ID_DYLIB: DylibCommand, LC_LOAD_WEAK_DYLIB: DylibCommand,
    LC_REEXPORT_DYLIB: DylibCommand, LC_RPATH: StringCommand,
    LC_LOAD_DYLINKER: StringCommand, LC_ID_DYLINKER: StringCommand,
    LC_DYLD_ENVIRONMENT: StringCommand, LC_MAIN: EntryPointCommand,
    LC_SOURCE_VERSION: SourceVersionCommand, LC_VERSION_MIN_MACOSX: VersionMinCommand,
    **{cmd: LinkeditDataCommand for cmd in LINKEDIT_DATA_COMMANDS},
}


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
