"""Which HFS+ structure each byte of a volume belongs to (a view over a
volume read by ``HFSReader``): boot blocks, headers, the allocation bitmap,
each B-tree by node, each file's forks.  Used to explain differing blocks."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from .btree import BTreeReader
from .reader import HFSReader
from .structs import (CNID_ALLOCATION, CNID_ATTRIBUTES, CNID_CATALOG, CNID_EXTENTS, CNID_STARTUP,
                      VOLUME_HEADER_OFFSET, VOLUME_HEADER_SIZE)
from .volume import fork_byte_runs, fork_extents


@dataclass
class Region:
    start: int                 # volume byte offset
    end: int
    what: str
    file_offset: int = 0       # offset of ``start`` inside the structure
    node_size: int = 0         # B-trees: described by node number
    bitmap: bool = False
    size: int | None = None    # forks: logical size (bytes past it are slack)


SPECIAL_FILES = (("allocationFile", "allocation bitmap", CNID_ALLOCATION),
                  ("extentsFile", "extents overflow B-tree", CNID_EXTENTS),
                  ("catalogFile", "catalog B-tree", CNID_CATALOG),
                  ("attributesFile", "attributes B-tree", CNID_ATTRIBUTES),
                  ("startupFile", "startup file", CNID_STARTUP))


class VolumeMap:
    """Which HFS+ structure each byte of a volume belongs to."""

    def __init__(self, reader: HFSReader) -> None:
        vh = reader.vh
        self.block_size = bs = vh.blockSize
        size = reader.source.size
        regions = [Region(0, VOLUME_HEADER_OFFSET, "boot blocks"),
                   Region(VOLUME_HEADER_OFFSET, VOLUME_HEADER_OFFSET + VOLUME_HEADER_SIZE,
                           "volume header"),
                   Region(size - 1024, size - 1024 + VOLUME_HEADER_SIZE,
                           "alternate volume header"),
                   Region(size - 512, size, "last 512 bytes (reserved)")]
        for fork_name, what, cnid in SPECIAL_FILES:
            fork = getattr(vh, fork_name)
            if not fork.totalBlocks:
                continue
            ext = fork_extents(fork, vh, reader.name, f"volume header.{fork_name}", cnid,
                               overflow=reader.overflow.lookup)
            node_size = 0
            if cnid == CNID_CATALOG:
                node_size = reader.catalog.node_size
            elif cnid == CNID_ATTRIBUTES and reader.attributes is not None:
                node_size = reader.attributes.node_size
            elif cnid == CNID_EXTENTS:
                node_size = BTreeReader(reader.source, reader.name, "extents overflow",
                                        fork_byte_runs(ext, bs, fork.logicalSize)).node_size
            self._add_extents(regions, ext, what, node_size=node_size,
                              bitmap=fork_name == "allocationFile")
        seen: set[tuple[int, str]] = set()
        for entry in reader.entries(include_private=True):
            if entry.kind == "dir":
                continue
            for fork, label in (("data", "data fork"), ("rsrc", "resource fork")):
                if (entry.fork_owner, fork) in seen:
                    continue
                seen.add((entry.fork_owner, fork))
                fk = entry.fork_record(fork)
                if fk is None or not fk.totalBlocks:
                    continue
                ext = reader.fork_extents(entry, fork)
                self._add_extents(regions, ext, f"{label} of /{entry.path}",
                                  size=fk.logicalSize)
        regions.sort(key=lambda r: (r.start, r.end))
        self.regions = regions
        self.starts = [r.start for r in regions]
        self.volume_end = vh.totalBlocks * bs

    def _add_extents(self, regions, extents, what, **kw) -> None:
        bs = self.block_size
        file_off = 0
        for start, count in extents:
            regions.append(Region(start * bs, (start + count) * bs, what, file_off, **kw))
            file_off += count * bs

    def describe(self, start: int, end: int) -> list[str]:
        """The structures that bytes [start, end) of the volume belong to."""
        out = []
        pos = start
        k = max(0, bisect.bisect_right(self.starts, start) - 1)
        # Regions of a few bytes (headers) may sit inside a block another
        # region does not cover; scan from a little before to be safe.
        while k > 0 and self.regions[k - 1].end > start:
            k -= 1
        for r in self.regions[k:]:
            if r.start >= end:
                break
            if r.end <= start:
                continue
            s, e = max(r.start, start), min(r.end, end)
            if s > pos:
                out.append(self._free(pos, s))
            out.append(self._piece(r, s, e))
            pos = max(pos, e)
        if pos < end:
            out.append(self._free(pos, end))
        # Keep the order, drop repeats (a header inside a block, two pieces
        # of one structure).
        return list(dict.fromkeys(out))

    def _free(self, s: int, e: int) -> str:
        b0, b1 = s // self.block_size, (e - 1) // self.block_size
        return f"unallocated space (block {b0})" if b0 == b1 else \
            f"unallocated space (blocks {b0}-{b1})"

    @staticmethod
    def _piece(r: Region, s: int, e: int) -> str:
        fs, fe = s - r.start + r.file_offset, e - r.start + r.file_offset
        if r.node_size:
            n0, n1 = fs // r.node_size, (fe - 1) // r.node_size
            label = f"node {n0}" if n0 == n1 else f"nodes {n0}-{n1}"
            if n0 == 0:
                label += " (header node)"
            return f"{r.what} {label}"
        if r.bitmap:
            return (f"allocation bitmap bytes {fs}-{fe - 1} (blocks {fs * 8}-{fe * 8 - 1})")
        if r.size is not None:
            if fs >= r.size:
                return f"{r.what}, slack after its {r.size} bytes"
            return f"{r.what}, bytes {fs}-{min(fe, r.size) - 1}"
        return r.what
