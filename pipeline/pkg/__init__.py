"""Apple's installer archives, read side: xar (an Xcode .xip, a .pkg), the
pbzx stream inside them, and the cpio payload it carries."""

from .cpio import CpioEntry, read_entries as read_cpio
from .pbzx import decode as decode_pbzx, is_pbzx
from .stream import ChunkStream
from .xar import Checksum, XarArchive, XarMember, is_xar, open_xar

__all__ = ["Checksum", "ChunkStream", "CpioEntry", "XarArchive", "XarMember", "decode_pbzx",
           "is_pbzx", "is_xar", "open_xar", "read_cpio"]
