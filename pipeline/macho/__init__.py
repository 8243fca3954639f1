"""Mach-O parsing: layouts (structs), universal container (fat), file object (file)."""

from .fat import FatArch, FatHeader, build_universal
from .file import MachOFile, MachOSlice, is_macho, parse_macho, parse_slice, read_macho

__all__ = ["FatArch", "FatHeader", "build_universal", "MachOFile", "MachOSlice", "is_macho",
           "parse_macho", "parse_slice", "read_macho"]
