"""``dmg diff``: say exactly where two disk images differ.

Independent builders run the same build and must get the same bytes; when
they do not, this module tells them which file, field or page differs, in
order of usefulness:

1. the files are byte for byte identical (nothing else is read);
2. the container: koly fields by name, the property list (blkx entries,
   other resources), each partition's mish header and chunk table (count,
   types, sector ranges, compressed lengths and bytes), the codec and what
   the stream headers reveal of the level;
3. the expanded content, partition by partition: when every partition
   expands to the same bytes the images differ only in their encoding;
   otherwise, for HFS+ volumes, the volume header field by field, the file
   trees (added/removed paths, metadata, file data with the first differing
   byte), and the differing allocation-block ranges with the structure each
   belongs to (catalog node N, bitmap, a file's fork, headers); for other
   partitions the differing sector ranges.

Memory stays bounded: partitions, files and compressed chunks are compared
in windows of at most ``STEP`` bytes (plus the reader's few cached chunks),
and every list in the report is capped.  Only ``ReprodmgError`` escapes.

This is a stage-level module over the format libraries
(``pipeline.udif.reader``, ``pipeline.hfs.reader``); they do not import it.
"""

from __future__ import annotations

import bisect
import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError, ReprodmgError
from ..hfs.btree import BTreeReader
from ..hfs.listing import shown
from ..hfs.reader import Entry, HFSReader
from ..hfs.structs import (CNID_ALLOCATION, CNID_ATTRIBUTES, CNID_CATALOG, CNID_EXTENTS,
                          CNID_STARTUP, HFS_EPOCH_OFFSET,
                          VH_FORKS, VOLUME_HEADER_OFFSET, VOLUME_HEADER_SIZE, VolumeHeader)
from ..hfs.volume import fork_byte_runs, fork_extents, read_volume_header
from ..progress import Progress
from ..udif.koly import KOLY_SIZE, SECTOR, Koly
from ..udif.mish import (CHUNK_BZIP2, CHUNK_COMMENT, CHUNK_IGNORE, CHUNK_TERMINATOR, CHUNK_ZERO,
                        CHUNK_ZLIB, NO_DATA_CHUNKS, BlkxTable, Chunk)
from ..udif.reader import Partition, UDIFImage, open_udif

STEP = 1 << 20            # bytes compared at a time
MAX_RANGES = 10000        # differing sector ranges kept per partition
MAX_ITEMS = 1000          # entries kept per list of the report
MAX_DESCRIBED = 200       # differing ranges attributed to HFS+ structures


# --------------------------------------------------------------------------
# Field names, as the format documents spell them.

# mish header fields compared (the chunk count is compared with the chunks).
MISH_FIELDS = tuple((f.attribute, f.spec) for f in BlkxTable.disk_fields()
                    if f.attribute != "chunk_count")

# Catalog metadata compared per path (names of hfs.reader.Entry fields).
ENTRY_FIELDS = ("kind", "mode", "uid", "gid", "create_date", "modify_date", "access_date",
                "attribute_mod_date", "backup_date", "flags", "finder_flags", "file_type",
                "creator", "link_target", "data_size", "rsrc_size", "valence", "nlink")
# Catalog node ids shift for every later file when one is added: compared
# only when both trees hold the same paths, where a difference means something.
IDENTITY_FIELDS = ("cnid", "hardlink_inode")


def koly_field_at(offset: int) -> str:
    """The koly field holding byte ``offset`` of the 512-byte trailer."""
    for f in Koly.disk_fields():
        if f.offset <= offset < f.offset + f.size:
            return f.spec
    return "?"


# --------------------------------------------------------------------------
# Small helpers.

def _show(value: Any) -> Any:
    """A JSON-friendly rendering of a field value."""
    if isinstance(value, (bytes, bytearray)):
        if not any(value):
            return f"zero x {len(value)}"
        text = bytes(value).hex()
        return text if len(text) <= 64 else f"{text[:64]}... ({len(value)} bytes)"
    if isinstance(value, list):
        return [_show(v) for v in value]
    return value


def _diff(field: str, a: Any, b: Any) -> dict:
    return {"field": field, "a": _show(a), "b": _show(b)}


def _capped(items: list, limit: int = MAX_ITEMS) -> tuple[list, int]:
    return items[:limit], max(0, len(items) - limit)


def first_difference(x: bytes, y: bytes) -> int | None:
    """Index of the first differing byte (the shorter length if one is a
    prefix of the other); None when equal.  Bisects with memcmp-speed slices."""
    mx, my = memoryview(x), memoryview(y)
    n = min(len(mx), len(my))
    if mx[:n] == my[:n]:
        return None if len(mx) == len(my) else n
    lo, hi = 0, n            # x[:lo] == y[:lo]; x[lo:hi] != y[lo:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mx[lo:mid] == my[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _streams_first_difference(read_a, read_b) -> int | None:
    """First differing offset of two streams read in STEP pieces."""
    pos = 0
    while True:
        x, y = read_a(STEP), read_b(STEP)
        if not x and not y:
            return None
        d = first_difference(x, y)
        if d is not None:
            return pos + d
        pos += len(x)


def _file_first_difference(pa: Path, pb: Path) -> int | None:
    try:
        with open(pa, "rb") as fa, open(pb, "rb") as fb:
            return _streams_first_difference(fa.read, fb.read)
    except OSError as exc:
        raise InputError(f"{exc.filename}: cannot read: {exc.strerror}") from None


class _Ranges:
    """Sorted, merged [start, end) ranges, at most MAX_RANGES of them."""

    def __init__(self) -> None:
        self.items: list[list[int]] = []
        self.total = 0
        self.truncated = False

    def add(self, start: int, end: int) -> None:
        self.total += end - start
        if self.items and self.items[-1][1] == start:
            self.items[-1][1] = end
        elif len(self.items) < MAX_RANGES:
            self.items.append([start, end])
        else:
            self.truncated = True

    def overlaps(self, start: int, end: int) -> bool:
        k = bisect.bisect_right(self.items, [start, float("inf")]) - 1
        if k >= 0 and self.items[k][1] > start:
            return True
        return k + 1 < len(self.items) and self.items[k + 1][0] < end

    def __bool__(self) -> bool:
        return self.total > 0


def _compare_sources(read_a, read_b, size: int, ranges: _Ranges) -> None:
    """Differing sectors of two equally sized expanded views, window by window."""
    pos = 0
    while pos < size:
        n = min(STEP, size - pos)
        x, y = read_a(pos, n), read_b(pos, n)
        if x != y:
            mx, my = memoryview(x), memoryview(y)
            for off in range(0, n, SECTOR):
                if mx[off:off + SECTOR] != my[off:off + SECTOR]:
                    s = (pos + off) // SECTOR
                    ranges.add(s, s + 1)
        pos += n


def _sector_ranges_json(ranges: _Ranges) -> dict:
    items, more = _capped(ranges.items)
    return {"ranges": [{"first_sector": s, "sector_count": e - s} for s, e in items],
            "sectors": ranges.total, "more_ranges": more + (1 if ranges.truncated else 0),
            "truncated": ranges.truncated or bool(more)}


# --------------------------------------------------------------------------
# Level 1/2: the container.

def _koly_value(koly: Koly, attr: str) -> Any:
    value = getattr(koly, attr)
    if attr == "segment_id":
        import uuid
        return str(uuid.UUID(bytes=value)).upper()
    if attr == "data_checksum" and koly.data_crc32 is not None:
        return f"CRC32 {koly.data_crc32:08x}"
    if attr == "master_checksum" and koly.master_crc32 is not None:
        return f"CRC32 {koly.master_crc32:08x}"
    return value


def compare_koly(ka: Koly, kb: Koly) -> list[dict]:
    return [_diff(f"koly.{f.spec}", _koly_value(ka, f.attribute), _koly_value(kb, f.attribute))
            for f in Koly.disk_fields() if getattr(ka, f.attribute) != getattr(kb, f.attribute)]


def compare_resources(ia: UDIFImage, ib: UDIFImage) -> list[dict]:
    ra, rb = ia.resources, ib.resources
    out = []
    if len(ra.blkx) != len(rb.blkx):
        out.append(_diff("resource-fork.blkx (entries)", len(ra.blkx), len(rb.blkx)))
    for key in sorted(set(ra.others) | set(rb.others)):
        va, vb = ra.others.get(key), rb.others.get(key)
        if va == vb:
            continue
        if va is None or vb is None:
            out.append(_diff(f"resource-fork.{key}", "present" if va is not None else "absent",
                             "present" if vb is not None else "absent"))
        else:
            out.append(_diff(f"resource-fork.{key}", "differs", "differs"))
    if not out and ra.blkx == rb.blkx and ia.koly.xml_length == ib.koly.xml_length:
        xa = ia.pread(ia.koly.xml_offset, ia.koly.xml_length)
        xb = ib.pread(ib.koly.xml_offset, ib.koly.xml_length)
        d = first_difference(xa, xb)
        if d is not None:
            out.append({"field": "property list (text)", "a": "differs", "b": "differs",
                        "detail": f"same resources, different XML text from byte {d}"})
    return out


def pair_partitions(ia: UDIFImage, ib: UDIFImage
                    ) -> tuple[list[tuple[Partition, Partition]], list[Partition], list[Partition]]:
    """Partitions of A matched with B's: by position when the names agree,
    else by name, and the two file-system partitions with each other."""
    pa, pb = ia.partitions, ib.partitions
    if [p.name for p in pa] == [p.name for p in pb]:
        return list(zip(pa, pb)), [], []
    pairs = []
    left_b = list(pb)
    left_a = []
    for p in pa:
        match = next((q for q in left_b if q.name == p.name), None)
        if match is None:
            left_a.append(p)
        else:
            pairs.append((p, match))
            left_b.remove(match)
    da, db = ia.data_partition(), ib.data_partition()
    if any(p is da for p in left_a) and any(q is db for q in left_b):
        pairs.append((da, db))
        left_a = [p for p in left_a if p is not da]
        left_b = [q for q in left_b if q is not db]
    pairs.sort(key=lambda ab: ab[0].index)
    return pairs, left_a, left_b


def _chunk_desc(c: Chunk) -> str:
    return f"{c.type_name} sectors {c.sector}+{c.sector_count}"


def _level_hint(ctype: int, head: bytes) -> str | None:
    """What a compressed stream's header reveals of the settings that made it.

    zlib (RFC 1950): FLEVEL, bits 6-7 of the second byte: 0 fastest, 1 fast,
    2 default, 3 maximum (libdeflate: level 1 -> 0, 2-5 -> 1, 6 -> 2, 7+ -> 3).
    bzip2: 'BZh' then the block size digit, which is bzip2's level 1-9.
    """
    if ctype == CHUNK_ZLIB and len(head) >= 2:
        flevel = head[1] >> 6
        return f"zlib FLEVEL {flevel} ({('fastest', 'fast', 'default', 'maximum')[flevel]})"
    if ctype == CHUNK_BZIP2 and len(head) >= 4 and head[:3] == b"BZh" and 0x31 <= head[3] <= 0x39:
        return f"bzip2 level {head[3] - 0x30} ({head[3] - 0x30}00k blocks)"
    return None


def _data_chunks(part: Partition) -> list[tuple[int, Chunk]]:
    return [(i, c) for i, c in enumerate(part.table.chunks)
            if c.type not in (CHUNK_TERMINATOR, CHUNK_COMMENT)]


def _chunk_start(image: UDIFImage, part: Partition, c: Chunk) -> int:
    return image.koly.data_fork_offset + part.table.data_offset + c.offset


def _encoding(image: UDIFImage, part: Partition) -> dict:
    codecs: dict[str, int] = {}
    hints: set[str] = set()
    for _i, c in _data_chunks(part):
        codecs[c.type_name] = codecs.get(c.type_name, 0) + 1
        if c.type not in NO_DATA_CHUNKS and c.length >= 4:
            hint = _level_hint(c.type, image.pread(_chunk_start(image, part, c), 4))
            if hint:
                hints.add(hint)
    return {"chunk_types": dict(sorted(codecs.items())), "level_hints": sorted(hints)}


def _compressed_equal(ia: UDIFImage, sa: int, ib: UDIFImage, sb: int, length: int) -> bool:
    pos = 0
    while pos < length:
        n = min(STEP, length - pos)
        if ia.pread(sa + pos, n) != ib.pread(sb + pos, n):
            return False
        pos += n
    return True


def compare_blkx(ia: UDIFImage, pa: Partition, ib: UDIFImage, pb: Partition) -> dict:
    """One pair of blkx entries: plist attributes, mish header, chunk table."""
    fields = []
    for label, x, y in (("Name", pa.name, pb.name), ("CFName", pa.cfname, pb.cfname),
                        ("ID", pa.id, pb.id), ("Attributes", pa.attributes, pb.attributes)):
        if x != y:
            fields.append(_diff(label, x, y))
    ta, tb = pa.table, pb.table
    for attr, name in MISH_FIELDS:
        x, y = getattr(ta, attr), getattr(tb, attr)
        if x != y:
            if attr == "checksum" and ta.crc32 is not None and tb.crc32 is not None:
                x, y = f"CRC32 {ta.crc32:08x}", f"CRC32 {tb.crc32:08x}"
            fields.append(_diff(f"mish.{name}", x, y))
    ca, cb = _data_chunks(pa), _data_chunks(pb)
    chunks: dict[str, Any] = {}
    if len(ta.chunks) != len(tb.chunks):
        chunks["count"] = {"a": len(ta.chunks), "b": len(tb.chunks)}
    # The chunk layout: which sectors each chunk covers and whether it holds
    # data, zeros or free space.  The codec of a data chunk is compared apart.
    def shape(c: Chunk) -> tuple:
        kind = c.type_name if c.type in (CHUNK_ZERO, CHUNK_IGNORE) else "data"
        return kind, c.sector, c.sector_count
    for k, ((i, x), (j, y)) in enumerate(zip(ca, cb)):
        if shape(x) != shape(y):
            chunks["layout_differs"] = {"chunk": k, "a": _chunk_desc(x), "b": _chunk_desc(y)}
            break
    else:
        if len(ca) != len(cb):
            k = min(len(ca), len(cb))
            rest = ca[k:] or cb[k:]
            side = "a" if ca[k:] else "b"
            chunks["layout_differs"] = {"chunk": k, "a": None, "b": None,
                                        side: _chunk_desc(rest[0][1])}
    enc_a, enc_b = _encoding(ia, pa), _encoding(ib, pb)
    if enc_a["chunk_types"] != enc_b["chunk_types"]:
        chunks["chunk_types"] = {"a": enc_a["chunk_types"], "b": enc_b["chunk_types"]}
    if enc_a["level_hints"] != enc_b["level_hints"]:
        chunks["level_hints"] = {"a": enc_a["level_hints"], "b": enc_b["level_hints"]}
    codec_diffs, length_diffs, byte_diffs, offset_diffs = [], [], [], 0
    for (i, x), (j, y) in zip(ca, cb):
        if shape(x) != shape(y):
            continue
        if x.type != y.type:
            codec_diffs.append({"chunk": i, "a": x.type_name, "b": y.type_name})
        if x.length != y.length:
            length_diffs.append({"chunk": i, "a": x.length, "b": y.length,
                                 "codec": [x.type_name, y.type_name]})
        elif x.type == y.type and x.type not in NO_DATA_CHUNKS and not _compressed_equal(
                ia, _chunk_start(ia, pa, x), ib, _chunk_start(ib, pb, y), x.length):
            byte_diffs.append({"chunk": i, "codec": x.type_name, "length": x.length})
        if x.offset != y.offset:
            offset_diffs += 1
    for key, items in (("codec", codec_diffs), ("compressed_length", length_diffs),
                       ("compressed_bytes", byte_diffs)):
        if items:
            kept, more = _capped(items)
            chunks[key] = {"chunks": kept, "more": more, "count": len(items)}
    if offset_diffs:
        chunks["compressed_offset"] = {"count": offset_diffs}
    return {"a": pa.label, "b": pb.label, "fields": fields, "chunks": chunks,
            "encoding": {"a": enc_a, "b": enc_b}}


def locate_file_offset(image: UDIFImage, offset: int) -> str:
    """Which structure of a .dmg file holds byte ``offset``."""
    koly_at = image.file_size - KOLY_SIZE
    if offset >= image.file_size:
        return "past the end of the file"
    if offset >= koly_at:
        return f"koly.{koly_field_at(offset - koly_at)}"
    k = image.koly
    if k.xml_offset <= offset < k.xml_offset + k.xml_length:
        return f"property list, byte {offset - k.xml_offset}"
    for part in image.partitions:
        for i, c in _data_chunks(part):
            if c.type in NO_DATA_CHUNKS:
                continue
            start = _chunk_start(image, part, c)
            if start <= offset < start + c.length:
                return (f"{part.label} chunk {i} ({c.type_name}, sectors {c.sector}+"
                        f"{c.sector_count}), compressed byte {offset - start}")
    if k.data_fork_offset <= offset < k.data_fork_offset + k.data_fork_length:
        return "data fork, outside every chunk"
    return "between the structures of the file"


# --------------------------------------------------------------------------
# Level 3: HFS+ volumes.

def _vh_fields(vh: VolumeHeader) -> Iterator[tuple[str, Any]]:
    for name, value in vars(vh).items():
        if name == "finderInfo":
            for i, v in enumerate(value):
                yield f"finderInfo[{i}]", v
        elif name in VH_FORKS:
            for sub, v in vars(value).items():
                yield f"{name}.{sub}", v
        else:
            yield name, value


def compare_volume_headers(va: VolumeHeader, vb: VolumeHeader, prefix: str) -> list[dict]:
    fb = dict(_vh_fields(vb))
    return [_diff(f"{prefix}.{name}", value, fb[name])
            for name, value in _vh_fields(va) if value != fb[name]]


def _alternate_header(source, name: str) -> VolumeHeader | None:
    at = source.size - 1024
    if at < VOLUME_HEADER_OFFSET + VOLUME_HEADER_SIZE:
        return None
    return VolumeHeader.parse(source.read(at, VOLUME_HEADER_SIZE))


def _fork_runs(reader: HFSReader, entry: Entry, fork: str) -> list[tuple[int, int]]:
    """(volume byte offset, length) runs of an entry's fork; none for folders."""
    if entry.fork_record(fork) is None:
        return []
    return reader.fork_runs(entry, fork)


def _xattr_value(v: bytes | None) -> Any:
    if v is None:
        return None
    if len(v) <= 32:
        return v.hex()
    import hashlib
    return f"{len(v)} bytes, sha256 {hashlib.sha256(v).hexdigest()[:16]}..."


def _entry_value(e: Entry, name: str) -> Any:
    value = getattr(e, name)
    if name == "mode":
        return f"{value:06o}"
    return value


def compare_trees(ra: HFSReader, rb: HFSReader, changed: _Ranges | None) -> dict:
    """Paths added and removed, metadata and data differences.

    ``changed`` (differing sector ranges of the volume, or None) lets a file
    whose fork sits at the same blocks outside every differing range be
    known equal without reading it again.
    """
    ea = {e.path: e for e in ra.entries()}
    eb = {e.path: e for e in rb.entries()}
    added = sorted(eb.keys() - ea.keys())
    removed = sorted(ea.keys() - eb.keys())
    fields = ENTRY_FIELDS + (IDENTITY_FIELDS if not added and not removed else ())
    metadata: list[dict] = []
    data: list[dict] = []
    for path in sorted(ea.keys() & eb.keys()):
        a, b = ea[path], eb[path]
        for name in fields:
            x, y = _entry_value(a, name), _entry_value(b, name)
            if x != y:
                metadata.append({"path": path, "field": name, "a": x, "b": y})
        for key in sorted(set(a.xattrs) | set(b.xattrs)):
            x, y = a.xattrs.get(key), b.xattrs.get(key)
            if x != y:
                metadata.append({"path": path, "field": f"xattr {key}",
                                 "a": _xattr_value(x), "b": _xattr_value(y)})
        if a.kind == b.kind == "file":
            for fork in ("data", "rsrc"):
                d = _compare_fork(ra, a, rb, b, fork, changed)
                if d is not None:
                    data.append({"path": path, "fork": fork, **d})
    metadata, more_meta = _capped(metadata)
    data, more_data = _capped(data)
    added, more_added = _capped(added)
    removed, more_removed = _capped(removed)
    return {"paths": [len(ea), len(eb)], "added": added, "removed": removed,
            "metadata": metadata, "data": data,
            "more": {"added": more_added, "removed": more_removed, "metadata": more_meta,
                     "data": more_data}}


def _compare_fork(ra: HFSReader, a: Entry, rb: HFSReader, b: Entry, fork: str,
                  changed: _Ranges | None) -> dict | None:
    size_a = a.data_size if fork == "data" else a.rsrc_size
    size_b = b.data_size if fork == "data" else b.rsrc_size
    runs_a, runs_b = _fork_runs(ra, a, fork), _fork_runs(rb, b, fork)
    if size_a == size_b and runs_a == runs_b and changed is not None \
            and not changed.truncated:
        if not any(changed.overlaps(off // SECTOR, -(-(off + n) // SECTOR))
                   for off, n in runs_a):
            return None
    sa = ra.open(a, fork)
    sb = rb.open(b, fork)
    d = _streams_first_difference(sa.read, sb.read)
    if d is None:
        return None
    return {"first_difference": d, "size": [size_a, size_b]}


@dataclass
class _Region:
    start: int                 # volume byte offset
    end: int
    what: str
    file_offset: int = 0       # offset of ``start`` inside the structure
    node_size: int = 0         # B-trees: described by node number
    bitmap: bool = False
    size: int | None = None    # forks: logical size (bytes past it are slack)


_SPECIAL_FILES = (("allocationFile", "allocation bitmap", CNID_ALLOCATION),
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
        regions = [_Region(0, VOLUME_HEADER_OFFSET, "boot blocks"),
                   _Region(VOLUME_HEADER_OFFSET, VOLUME_HEADER_OFFSET + VOLUME_HEADER_SIZE,
                           "volume header"),
                   _Region(size - 1024, size - 1024 + VOLUME_HEADER_SIZE,
                           "alternate volume header"),
                   _Region(size - 512, size, "last 512 bytes (reserved)")]
        for fork_name, what, cnid in _SPECIAL_FILES:
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
            regions.append(_Region(start * bs, (start + count) * bs, what, file_off, **kw))
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
    def _piece(r: _Region, s: int, e: int) -> str:
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


def _volume_blocks(ranges: _Ranges, map_a: VolumeMap, map_b: VolumeMap,
                   block_size: int) -> list[dict]:
    """Differing sector ranges grouped by allocation block, each with the
    structures (in A's and in B's layout) that the differing sectors hold."""
    out: list[dict] = []
    for s, e in ranges.items:
        b0, b1 = s * SECTOR // block_size, (e * SECTOR - 1) // block_size
        da = map_a.describe(s * SECTOR, e * SECTOR)
        db = map_b.describe(s * SECTOR, e * SECTOR)
        last = out[-1] if out else None
        if last is not None and b0 <= last["blocks"][1] + 1 and da == last["a"] \
                and db == last["b"] or last is not None and b0 <= last["blocks"][1]:
            last["blocks"][1] = max(last["blocks"][1], b1)
            last["sector_count"] = e - last["first_sector"]
            last["differing_sectors"] += e - s
            last["a"] = list(dict.fromkeys(last["a"] + da))
            last["b"] = list(dict.fromkeys(last["b"] + db))
            continue
        if len(out) >= MAX_DESCRIBED:
            break
        out.append({"first_sector": s, "sector_count": e - s, "differing_sectors": e - s,
                    "blocks": [b0, b1], "a": da, "b": db})
    return out


def compare_hfs(ia: UDIFImage, pa: Partition, ib: UDIFImage, pb: Partition,
                ranges: _Ranges) -> dict:
    sa, sb = ia.partition_source(pa.index), ib.partition_source(pb.index)
    name_a, name_b = f"{ia.path}: {pa.label}", f"{ib.path}: {pb.label}"
    ra, rb = HFSReader(sa, name_a), HFSReader(sb, name_b)
    out: dict[str, Any] = {"filesystem": [_fs_name(ra.vh), _fs_name(rb.vh)]}
    vh = compare_volume_headers(ra.vh, rb.vh, "volume header")
    alt_a, alt_b = _alternate_header(sa, name_a), _alternate_header(sb, name_b)
    if alt_a is not None and alt_b is not None:
        primary = {d["field"].split(".", 1)[1] for d in vh}
        vh += [d for d in compare_volume_headers(alt_a, alt_b, "alternate volume header")
               if d["field"].split(".", 1)[1] not in primary]
    if ra.volume_name != rb.volume_name:
        vh.insert(0, _diff("volume name (root folder)", ra.volume_name, rb.volume_name))
    out["volume_header"] = vh
    same_size = sa.size == sb.size
    out["tree"] = compare_trees(ra, rb, ranges if same_size else None)
    if same_size and ranges:
        bs = ra.vh.blockSize
        out["blocks"] = _volume_blocks(ranges, VolumeMap(ra), VolumeMap(rb), bs)
        out["block_size"] = bs
        covered = sum(b["differing_sectors"] for b in out["blocks"])
        out["blocks_truncated"] = covered < ranges.total
    return out


def _fs_name(vh: VolumeHeader) -> str:
    return "HFSX" if vh.is_hfsx else "HFS+"


# --------------------------------------------------------------------------
# The writer's manifest (``<image>.manifest.json``), when it sits beside an
# image: it names the codec implementations and versions and the level, which
# the image itself does not record.

MAX_MANIFEST = 1 << 20
MANIFEST_FIELDS = ("format", "level", "layout", "chunk_sectors", "expanded_sha256",
                   "expanded_size")


def _load_manifest(image_path: Path) -> dict | None:
    path = image_path.with_name(image_path.name + ".manifest.json")
    try:
        if not path.is_file() or path.stat().st_size > MAX_MANIFEST:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):   # deep nesting: RecursionError
        return None
    return data if isinstance(data, dict) else None


def compare_manifests(pa: Path, pb: Path) -> dict | None:
    ma, mb = _load_manifest(pa), _load_manifest(pb)
    if ma is None and mb is None:
        return None
    out: dict[str, Any] = {"a": ma is not None, "b": mb is not None, "fields": []}
    if ma is None or mb is None:
        return out
    for name in MANIFEST_FIELDS:
        if ma.get(name) != mb.get(name):
            out["fields"].append(_diff(f"manifest.{name}", ma.get(name), mb.get(name)))
    ca, cb = ma.get("codecs"), mb.get("codecs")
    if isinstance(ca, dict) and isinstance(cb, dict):
        for codec in sorted(set(ca) | set(cb), key=str):
            if ca.get(codec) != cb.get(codec):
                out["fields"].append(_diff(f"manifest.codecs.{codec}", ca.get(codec),
                                           cb.get(codec)))
    return out


def _printable(obj: Any) -> Any:
    """Strings that cannot be written as UTF-8 (lone surrogates from a
    hostile name or link target) get backslash escapes."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
            return obj
        except UnicodeEncodeError:
            return obj.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(obj, list):
        return [_printable(v) for v in obj]
    if isinstance(obj, dict):
        return {_printable(k): _printable(v) for k, v in obj.items()}
    return obj


# --------------------------------------------------------------------------
# The whole report.

def diff_images(path_a: str | os.PathLike, path_b: str | os.PathLike, *,
                progress: Progress | None = None) -> dict:
    """Compare two .dmg files; the structured report (``identical`` says
    whether they are byte for byte the same)."""
    pa, pb = Path(path_a), Path(path_b)
    for p in (pa, pb):
        if not p.exists():
            raise InputError(f"{p}: no such file")
    report: dict[str, Any] = {"a": os.fspath(path_a), "b": os.fspath(path_b)}
    size_a, size_b = pa.stat().st_size, pb.stat().st_size
    first = _file_first_difference(pa, pb) if pa.is_file() and pb.is_file() else 0
    if first is None:
        report.update(identical=True, verdict="identical",
                      file={"size": [size_a, size_b], "first_difference": None},
                      summary=["the files are identical, byte for byte"])
        return report
    with open_udif(pa) as ia, open_udif(pb) as ib:
        report["identical"] = False
        report["file"] = {"size": [size_a, size_b], "first_difference": first,
                          "a": locate_file_offset(ia, first),
                          "b": locate_file_offset(ib, first)}
        _compare(ia, ib, report, progress)
    manifests = compare_manifests(pa, pb)
    if manifests is not None:
        report["manifest"] = manifests
    return _printable(report)


def _compare(ia: UDIFImage, ib: UDIFImage, report: dict, progress) -> None:
    pairs, only_a, only_b = pair_partitions(ia, ib)
    container = {
        "koly": compare_koly(ia.koly, ib.koly),
        "resources": compare_resources(ia, ib),
        "partitions_only_in_a": [p.label for p in only_a],
        "partitions_only_in_b": [p.label for p in only_b],
        "partitions": [compare_blkx(ia, a, ib, b) for a, b in pairs],
    }
    report["container"] = container
    content_parts = []
    all_equal = True
    for a, b in pairs:
        ranges = _Ranges()
        common = min(a.size, b.size)
        _compare_sources(lambda o, n, a=a: ia.read_partition(a, o, n),
                         lambda o, n, b=b: ib.read_partition(b, o, n), common, ranges)
        if a.size != b.size:
            ranges.add(common // SECTOR, max(a.size, b.size) // SECTOR)
        if progress:
            progress.advance()
        entry: dict[str, Any] = {"a": a.label, "b": b.label, "equal": not ranges,
                                 "size": [a.size, b.size]}
        if ranges:
            all_equal = False
            entry["sectors"] = _sector_ranges_json(ranges)
            entry.update(_content_detail(ia, a, ib, b, ranges))
        content_parts.append(entry)
    disk_equal = (all_equal and not only_a and not only_b and ia.size == ib.size
                  and [(p.first_sector, p.sector_count) for p, _ in pairs]
                  == [(q.first_sector, q.sector_count) for _, q in pairs])
    if not disk_equal and all_equal and ia.size == ib.size and (only_a or only_b):
        # Other partitioning of the same sectors: compare the whole disks.
        ranges = _Ranges()
        _compare_sources(ia.read_disk, ib.read_disk, ia.size, ranges)
        disk_equal = not ranges
    report["content"] = {"disk_equal": disk_equal, "sector_count": [ia.sector_count,
                                                                     ib.sector_count],
                         "partitions": content_parts}
    report["verdict"] = "encoding" if disk_equal else "content"
    report["summary"] = summarise(report)


def _content_detail(ia: UDIFImage, a: Partition, ib: UDIFImage, b: Partition,
                    ranges: _Ranges) -> dict:
    sa, sb = ia.partition_source(a.index), ib.partition_source(b.index)
    try:
        va = read_volume_header(sa, f"{ia.path}: {a.label}")
        vb = read_volume_header(sb, f"{ib.path}: {b.label}")
    except ReprodmgError as exc:
        return {"filesystem": None, "problems": [str(exc)]}
    if va is None or vb is None:
        if va is None and vb is None:
            return {"filesystem": None}
        return {"filesystem": [_fs_name(va) if va else None, _fs_name(vb) if vb else None]}
    try:
        return compare_hfs(ia, a, ib, b, ranges)
    except ReprodmgError as exc:
        # A damaged volume still has its differing sectors reported above.
        return {"filesystem": [_fs_name(va), _fs_name(vb)], "problems": [str(exc)]}


def summarise(report: dict) -> list[str]:
    """The findings that matter most, one line each."""
    out = []
    c = report["container"]
    if report["verdict"] == "encoding":
        names = [d["field"] for d in c["koly"]]
        for p in c["partitions"]:
            ch = p["chunks"]
            if "codec" in ch:
                out.append(f"{p['a']}: codec of {ch['codec']['count']} chunk(s): "
                           + ", ".join(f"chunk {x['chunk']} {x['a']} -> {x['b']}"
                                       for x in ch["codec"]["chunks"][:5]))
            if "compressed_length" in ch:
                out.append(f"{p['a']}: compressed lengths of chunk(s) "
                           + ", ".join(str(x["chunk"]) for x in
                                       ch["compressed_length"]["chunks"][:10]))
            if "compressed_bytes" in ch:
                out.append(f"{p['a']}: compressed bytes (same lengths) of chunk(s) "
                           + ", ".join(str(x["chunk"]) for x in
                                       ch["compressed_bytes"]["chunks"][:10]))
            if "level_hints" in ch:
                out.append(f"{p['a']}: stream headers: {ch['level_hints']['a']} -> "
                           f"{ch['level_hints']['b']}")
        out[:0] = [f"{p['a']}: " + ", ".join(d["field"] for d in p["fields"])
                   for p in c["partitions"] if p["fields"]]
        head = ("same content, different encoding: the expanded disks are identical"
                + (f"; koly fields: {', '.join(names)}" if names else ""))
        return [head] + out
    out.append("the content differs")
    for side in ("a", "b"):
        if c[f"partitions_only_in_{side}"]:
            out.append(f"partitions only in {side.upper()}: "
                       + ", ".join(c[f"partitions_only_in_{side}"]))
    for p in report["content"]["partitions"]:
        if p["equal"]:
            head = p["a"] if p["a"] == p["b"] else f"{p['a']} / {p['b']}"
            out.append(f"{head}: identical expanded content")
            continue
        what = [f"{p['sectors']['sectors']} sector(s) differ"]
        tree = p.get("tree")
        if p.get("volume_header"):
            what.append("volume header: " + ", ".join(
                d["field"].split(".", 1)[-1] for d in p["volume_header"][:8]))
        if tree:
            if tree["added"]:
                what.append("added: " + ", ".join("/" + x for x in tree["added"][:5]))
            if tree["removed"]:
                what.append("removed: " + ", ".join("/" + x for x in tree["removed"][:5]))
            fields = sorted({m["field"] for m in tree["metadata"]})
            if fields:
                what.append(f"metadata ({', '.join(fields)}) of "
                            f"{len({m['path'] for m in tree['metadata']})} path(s)")
            if tree["data"]:
                what.append("data of " + ", ".join(
                    f"/{d['path']} (from byte {d['first_difference']})"
                    for d in tree["data"][:5]))
        for problem in p.get("problems", []):
            what.append(f"unreadable volume: {problem}")
        out.append(f"{p['a']}: " + "; ".join(what))
    return out


# --------------------------------------------------------------------------
# Text rendering.

# Date fields: Unix seconds in catalog entries, HFS seconds (since 1904) in
# the volume header; the text report adds the UTC date.
_UNIX_DATES = {"create_date", "modify_date", "access_date", "attribute_mod_date",
               "backup_date"}
_HFS_DATES = {"createDate", "modifyDate", "backupDate", "checkedDate"}


def _fmt(v: Any, field: str = "") -> str:
    if v is None:
        return "-"
    name = field.rsplit(".", 1)[-1]
    if isinstance(v, int) and v and (name in _UNIX_DATES or name in _HFS_DATES):
        unix = v - HFS_EPOCH_OFFSET if name in _HFS_DATES else v
        when = datetime.datetime.fromtimestamp(unix, datetime.timezone.utc)
        return f"{v} ({when:%Y-%m-%d %H:%M:%S})"
    return str(v)


def format_report(r: dict) -> str:
    lines = [f"A: {r['a']}", f"B: {r['b']}"]
    if r["identical"]:
        lines.append("identical: the files are the same, byte for byte")
        return "\n".join(lines)
    f = r["file"]
    lines.append(f"files differ from byte {f['first_difference']} (A: {f['a']}; B: {f['b']}); "
                 f"sizes {f['size'][0]} / {f['size'][1]}")
    lines.append("summary:")
    lines += [f"  {s}" for s in r["summary"]]
    c = r["container"]
    lines.append("container:")
    for d in c["koly"] + c["resources"]:
        lines.append(f"  {d['field']}: {_fmt(d['a'])} != {_fmt(d['b'])}"
                     + (f" ({d['detail']})" if d.get("detail") else ""))
    for side in ("a", "b"):
        for label in c[f"partitions_only_in_{side}"]:
            lines.append(f"  only in {side.upper()}: {label}")
    for p in c["partitions"]:
        head = p["a"] if p["a"] == p["b"] else f"{p['a']} / {p['b']}"
        body = [f"{d['field']}: {_fmt(d['a'])} != {_fmt(d['b'])}" for d in p["fields"]]
        ch = p["chunks"]
        if "count" in ch:
            body.append(f"chunk count: {ch['count']['a']} != {ch['count']['b']}")
        if "layout_differs" in ch:
            x = ch["layout_differs"]
            body.append(f"chunk layout from chunk {x['chunk']}: {_fmt(x['a'])} != {_fmt(x['b'])}")
        if "chunk_types" in ch:
            body.append(f"chunk types: {ch['chunk_types']['a']} != {ch['chunk_types']['b']}")
        if "level_hints" in ch:
            body.append(f"stream headers: {ch['level_hints']['a']} != {ch['level_hints']['b']}")
        for key, text in (("codec", "codec"), ("compressed_length", "compressed length")):
            for x in ch.get(key, {}).get("chunks", [])[:20]:
                body.append(f"chunk {x['chunk']}: {text} {x['a']} != {x['b']}")
        for x in ch.get("compressed_bytes", {}).get("chunks", [])[:20]:
            body.append(f"chunk {x['chunk']}: compressed bytes differ ({x['codec']}, "
                        f"{x['length']} bytes each)")
        if "compressed_offset" in ch:
            body.append(f"{ch['compressed_offset']['count']} chunk(s) at other file offsets")
        if body:
            lines.append(f"  {head}:")
            lines += [f"    {b}" for b in body]
    m = r.get("manifest")
    if m:
        if not (m["a"] and m["b"]):
            lines.append(f"  manifest (.manifest.json) only beside {'A' if m['a'] else 'B'}")
        for d in m["fields"]:
            lines.append(f"  {d['field']}: {_fmt(d['a'])} != {_fmt(d['b'])}")
    ct = r["content"]
    if r["verdict"] == "encoding":
        lines.append("content: the expanded disks are identical: the images differ only "
                     "in their encoding")
        return "\n".join(lines)
    lines.append("content:")
    if ct["sector_count"][0] != ct["sector_count"][1]:
        lines.append(f"  disk sectors: {ct['sector_count'][0]} != {ct['sector_count'][1]}")
    for p in ct["partitions"]:
        head = p["a"] if p["a"] == p["b"] else f"{p['a']} / {p['b']}"
        if p["equal"]:
            lines.append(f"  {head}: identical")
            continue
        fs = p.get("filesystem")
        lines.append(f"  {head}: {p['sectors']['sectors']} sector(s) differ"
                     + (f" ({fs[0]} / {fs[1]})" if isinstance(fs, list) else ""))
        for d in p.get("volume_header", []):
            lines.append(f"    {d['field']}: {_fmt(d['a'], d['field'])} != "
                         f"{_fmt(d['b'], d['field'])}")
        tree = p.get("tree")
        if tree:
            lines += [f"    added: /{x}" for x in tree["added"]]
            lines += [f"    removed: /{x}" for x in tree["removed"]]
            lines += _grouped_metadata(tree["metadata"])
            for d in tree["data"]:
                fork = "" if d["fork"] == "data" else " (resource fork)"
                lines.append(f"    /{d['path']}{fork}: data differs from byte "
                             f"{d['first_difference']} (sizes {d['size'][0]} / {d['size'][1]})")
            for key, n in tree["more"].items():
                if n:
                    lines.append(f"    ... {n} more {key} (see --json)")
        for problem in p.get("problems", []):
            lines.append(f"    unreadable: {problem}")
        if "blocks" in p:
            for b in p["blocks"][:50]:
                where = "; ".join(b["a"]) if b["a"] == b["b"] else \
                    f"A: {'; '.join(b['a'])} | B: {'; '.join(b['b'])}"
                b0, b1 = b["blocks"]
                blocks = f"block {b0}" if b0 == b1 else f"blocks {b0}-{b1}"
                lines.append(f"    {blocks} ({b['differing_sectors']} sector(s) differ "
                             f"from sector {b['first_sector']}): {where}")
            if len(p["blocks"]) > 50:
                lines.append(f"    ... {len(p['blocks']) - 50} more ranges (see --json)")
        else:
            for s in p["sectors"]["ranges"][:50]:
                lines.append(f"    sectors {s['first_sector']}+{s['sector_count']}")
        if p["sectors"]["truncated"] or len(p["sectors"]["ranges"]) > 50:
            lines.append("    ... more sector ranges (see --json)")
    # Paths, names and values come from the images: one line each, no
    # terminal escape sequences.
    return "\n".join(shown(line) for line in lines)


def _grouped_metadata(items: list[dict]) -> list[str]:
    """One line per (field, A value, B value), naming the paths it affects."""
    groups: dict[tuple, list[str]] = {}
    for m in items:
        key = (m["field"], _fmt(m["a"], m["field"]), _fmt(m["b"], m["field"]))
        groups.setdefault(key, []).append(m["path"])
    out = []
    for (field, a, b), paths in groups.items():
        shown = ", ".join("/" + p for p in paths[:3])
        if len(paths) > 3:
            shown += f" and {len(paths) - 3} more"
        out.append(f"    {field}: {a} != {b}: {shown}")
    return out


def exit_status(report: dict) -> int:
    return 0 if report["identical"] else 1


__all__ = ["diff_images", "format_report", "exit_status", "first_difference",
           "koly_field_at", "locate_file_offset"]
