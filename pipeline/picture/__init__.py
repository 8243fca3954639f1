"""Pictures written byte for byte the same on every machine: PNG (pixels
deflated by the pinned libdeflate, never the host's zlib) and Apple's icon
container (.icns).  Decoding and resizing are Pillow's job, at the edge."""

from .icns import ICNS_PNG_TYPES, IcnsEntry, read_icns, write_icns
from .png import write_png

__all__ = ["ICNS_PNG_TYPES", "IcnsEntry", "read_icns", "write_icns", "write_png"]
