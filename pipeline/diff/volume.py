"""Level 3 for HFS+ partitions: volume headers, trees (paths, metadata,
file data) and the allocation blocks that differ, named by the structure
each belongs to."""

from __future__ import annotations

from typing import Any, Iterator

from ..hfs.blockmap import VolumeMap
from ..hfs.reader import Entry, HFSReader
from ..hfs.structs import VH_FORKS, VOLUME_HEADER_OFFSET, VOLUME_HEADER_SIZE, VolumeHeader
from ..udif.koly import SECTOR
from ..udif.reader import Partition, UDIFImage
from .common import (ENTRY_FIELDS, IDENTITY_FIELDS, MAX_DESCRIBED, SectorRanges, capped,
                     field_diff, streams_first_difference)
from .macho import compare_macho, read_if_macho


# Level 3: HFS+ volumes.

def volume_header_fields(vh: VolumeHeader) -> Iterator[tuple[str, Any]]:
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
    fb = dict(volume_header_fields(vb))
    return [field_diff(f"{prefix}.{name}", value, fb[name])
            for name, value in volume_header_fields(va) if value != fb[name]]


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


def compare_trees(ra: HFSReader, rb: HFSReader, changed: SectorRanges | None) -> dict:
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
    metadata, more_meta = capped(metadata)
    data, more_data = capped(data)
    added, more_added = capped(added)
    removed, more_removed = capped(removed)
    return {"paths": [len(ea), len(eb)], "added": added, "removed": removed,
            "metadata": metadata, "data": data,
            "more": {"added": more_added, "removed": more_removed, "metadata": more_meta,
                     "data": more_data}}


def _compare_fork(ra: HFSReader, a: Entry, rb: HFSReader, b: Entry, fork: str,
                  changed: SectorRanges | None) -> dict | None:
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
    d = streams_first_difference(sa.read, sb.read)
    if d is None:
        return None
    out: dict[str, Any] = {"first_difference": d, "size": [size_a, size_b]}
    if fork == "data":
        pair = read_if_macho(lambda: ra.open(a, fork), lambda: rb.open(b, fork), (size_a, size_b))
        if pair is not None:
            out["macho"] = compare_macho(pair[0], pair[1], "/" + a.path)
    return out


def _volume_blocks(ranges: SectorRanges, map_a: VolumeMap, map_b: VolumeMap,
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
                ranges: SectorRanges) -> dict:
    sa, sb = ia.partition_source(pa.index), ib.partition_source(pb.index)
    name_a, name_b = f"{ia.path}: {pa.label}", f"{ib.path}: {pb.label}"
    ra, rb = HFSReader(sa, name_a), HFSReader(sb, name_b)
    out: dict[str, Any] = {"filesystem": [filesystem_name(ra.vh), filesystem_name(rb.vh)]}
    vh = compare_volume_headers(ra.vh, rb.vh, "volume header")
    alt_a, alt_b = _alternate_header(sa, name_a), _alternate_header(sb, name_b)
    if alt_a is not None and alt_b is not None:
        primary = {d["field"].split(".", 1)[1] for d in vh}
        vh += [d for d in compare_volume_headers(alt_a, alt_b, "alternate volume header")
               if d["field"].split(".", 1)[1] not in primary]
    if ra.volume_name != rb.volume_name:
        vh.insert(0, field_diff("volume name (root folder)", ra.volume_name, rb.volume_name))
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


def filesystem_name(vh: VolumeHeader) -> str:
    return "HFSX" if vh.is_hfsx else "HFS+"
