"""UDIF (.dmg): read, verify and write Apple disk images, reproducibly.

Structures, one module each (docs/formats.md): ``koly`` (trailer),
``mish`` (blkx block tables and chunks), ``resources`` (the XML property
list), ``partitions`` (none/MBR/GPT/APM maps; writing none and GPT),
``formats`` (hdiutil's format names and each chunk type's codec, from
``pipeline.codecs``).
Images: ``reader.open_udif`` / ``UDIFImage``, ``verify``, ``info``.
Writing: ``writer.write_udif`` (and ``write_plan``), ``convert``,
``manifest``.  Nothing here knows about doit or the command line.
"""

from .convert import convert
from .formats import FORMATS, lookup_format
from .info import format_info, image_info
from .reader import Partition, UDIFImage, open_udif
from .writer import write_plan, write_udif

__all__ = ["FORMATS", "Partition", "UDIFImage", "convert", "format_info", "image_info",
           "lookup_format", "open_udif", "write_plan", "write_udif"]
