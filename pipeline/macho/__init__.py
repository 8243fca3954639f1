"""Mach-O parsing: on-disk structures (structs), universal container (fat), file object (file)."""

from .fat import FatArch, FatHeader, build_universal, universal_layout
from .file import WINDOW, MachOFile, MachOSlice, is_macho, parse_macho, parse_slice, read_macho
# The structures the code-signature writers rewrite.
from .structs import (LC_CODE_SIGNATURE, LC_SEGMENT_64, MH_EXECUTE, LinkeditDataCommand,
                      MachHeader, MachHeader64, SegmentCommand, SegmentCommand64,
                      segment_alignment)

__all__ = ["FatArch", "FatHeader", "build_universal", "universal_layout", "WINDOW", "MachOFile", "MachOSlice", "is_macho",
           "parse_macho", "parse_slice", "read_macho", "LC_CODE_SIGNATURE", "LC_SEGMENT_64",
           "MH_EXECUTE", "LinkeditDataCommand", "MachHeader", "MachHeader64", "SegmentCommand",
           "SegmentCommand64", "segment_alignment"]
