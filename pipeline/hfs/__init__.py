"""HFS+ / HFSX volumes: a deterministic writer and a defensive reader.

Layers (pyelftools style), each module with one job:

- ``structs``: on-disk layouts (volume header, forks, catalog/attribute records)
- ``unicode``: Apple decomposition and TN1150 case-folding order
- ``btree``: bottom-up B-tree builder and checked node reader
- ``volume``: volume header and fork-extent checks shared by readers
- ``tree``: the in-memory tree a volume is authored from
- ``writer``: ``build_volume(...) -> HFSVolume``: the catalog builder
- ``allocation``: block counts, the allocation bitmap, the volume id
- ``output``: ``HFSVolume``, a built volume's bytes (an ImageSource)
- ``reader``: ``HFSReader(source, name)``: entries, streams
- ``extract``: ``extract(reader, dest)``: the tree into a host folder, safely
- ``decmpfs``: HFS+ transparent compression (read side)
- ``compress``: ``compress_entry``/``compress_tree(tree, "zlib" | "lzfse")``: the
  write side (``build_volume(hfs_compression=...)`` compresses as it walks)
- ``spill``: temporary files for what a large volume's writer must not hold
- ``blockmap``: which structure each byte of a volume belongs to
- ``freespace``: ``free_byte_ranges`` (free blocks of an existing volume, for
  the UDIF writer's ignore chunks)
- ``listing``: human listing of entries

Reference: Apple TN1150 "HFS Plus Volume Format"; docs/formats.md.
"""

from .compress import compress_tree
from .extract import extract
from .freespace import free_byte_ranges
from .listing import format_entries
from .reader import Entry, HFSReader
from .tree import File, FileData, FinderInfo, Folder, Symlink, Tree, tree_from_directory
from .unicode import decompose
from .output import HFSVolume
from .writer import assign_cnids, build_volume

__all__ = ["Entry", "File", "FileData", "FinderInfo", "Folder", "HFSReader", "HFSVolume",
           "compress_tree",
           "Symlink", "Tree", "assign_cnids", "build_volume", "decompose", "extract", "format_entries",
           "free_byte_ranges", "tree_from_directory"]
