"""Levels 1 and 2: the container (koly trailer, property list, each
partition's mish table and chunks, what the streams reveal of the codec)."""

from __future__ import annotations

from typing import Any

from ..udif.koly import KOLY_SIZE, Koly
from ..udif.mish import (CHUNK_BZIP2, CHUNK_COMMENT, CHUNK_IGNORE, CHUNK_TERMINATOR, CHUNK_ZERO,
                         CHUNK_ZLIB, NO_DATA_CHUNKS, Chunk)
from ..udif.reader import Partition, UDIFImage
from .common import MISH_FIELDS, STEP, capped, field_diff, first_difference, koly_field_at


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
    return [field_diff(f"koly.{f.spec}", _koly_value(ka, f.attribute), _koly_value(kb, f.attribute))
            for f in Koly.disk_fields() if getattr(ka, f.attribute) != getattr(kb, f.attribute)]


def compare_resources(ia: UDIFImage, ib: UDIFImage) -> list[dict]:
    ra, rb = ia.resources, ib.resources
    out = []
    if len(ra.blkx) != len(rb.blkx):
        out.append(field_diff("resource-fork.blkx (entries)", len(ra.blkx), len(rb.blkx)))
    for key in sorted(set(ra.others) | set(rb.others)):
        va, vb = ra.others.get(key), rb.others.get(key)
        if va == vb:
            continue
        if va is None or vb is None:
            out.append(field_diff(f"resource-fork.{key}", "present" if va is not None else "absent",
                             "present" if vb is not None else "absent"))
        else:
            out.append(field_diff(f"resource-fork.{key}", "differs", "differs"))
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
            fields.append(field_diff(label, x, y))
    ta, tb = pa.table, pb.table
    for attr, name in MISH_FIELDS:
        x, y = getattr(ta, attr), getattr(tb, attr)
        if x != y:
            if attr == "checksum" and ta.crc32 is not None and tb.crc32 is not None:
                x, y = f"CRC32 {ta.crc32:08x}", f"CRC32 {tb.crc32:08x}"
            fields.append(field_diff(f"mish.{name}", x, y))
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
            kept, more = capped(items)
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
