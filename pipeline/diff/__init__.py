"""``dmg diff``: say exactly where two disk images differ.

Independent builders run the same build and must get the same bytes; when
they do not, this package tells them which file, field or page differs, in
order of usefulness:

1. the files are byte for byte identical (nothing else is read);
2. the container (``container``): koly fields by name, the property list
   (blkx entries, other resources), each partition's mish header and chunk
   table (count, types, sector ranges, compressed lengths and bytes), the
   codec and what the stream headers reveal of the level;
3. the expanded content, partition by partition (``images``): when every
   partition expands to the same bytes the images differ only in their
   encoding; otherwise, for HFS+ volumes (``volume``), the volume header
   field by field, the file trees (added/removed paths, metadata, file data
   with the first differing byte), and the differing allocation-block ranges
   with the structure each belongs to (``pipeline.hfs.blockmap``); for other
   partitions the differing sector ranges.

``macho`` compares two differing Mach-O files inside a volume (header,
load commands, sections, symbols, linkedit tables, code-signature slots),
``html`` renders the report as one page.  ``manifests`` compares the writers' manifests beside the images, ``text``
turns the report into text and an exit status, ``common`` holds the bounded
comparison helpers.  Memory stays bounded: partitions, files and compressed
chunks are compared in windows of at most ``STEP`` bytes, and every list in
the report is capped.  Only ``ReprodmgError`` escapes.
"""

from .common import STEP, first_difference, koly_field_at
from .container import locate_file_offset
from .images import diff_images
from .report import ContainerReport, ContentReport, DiffReport, FileComparison
from .text import exit_status, format_report, format_summary

__all__ = ["STEP", "ContainerReport", "ContentReport", "DiffReport", "FileComparison", "diff_images", "exit_status", "first_difference", "format_report", "format_summary",
           "koly_field_at", "locate_file_offset"]
