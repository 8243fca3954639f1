"""Mach-O parsing: layouts (structs), universal container (fat), file object (file)."""

from .fat import FatArch, FatHeader, build_universal
from .file import MachOFile, MachOSlice, is_macho, parse_macho, parse_slice, read_macho
# What the code-signature writers need to add a load command.
from .structs import (LC_CODE_SIGNATURE, LC_SEGMENT_64, MH_EXECUTE, segment_alignment,
                      sizeLinkeditData, structLinkeditData)

__all__ = ["FatArch", "FatHeader", "build_universal", "MachOFile", "MachOSlice", "is_macho",
           "parse_macho", "parse_slice", "read_macho", "LC_CODE_SIGNATURE", "LC_SEGMENT_64",
           "MH_EXECUTE", "segment_alignment", "sizeLinkeditData", "structLinkeditData"]
