"""Comparing two images, top to bottom, into one report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputError, ReprodmgError
from ..hfs.volume import read_volume_header
from ..progress import Progress
from ..udif.info import describe_container
from ..udif.koly import SECTOR
from ..udif.reader import Partition, UDIFImage, open_udif
from .common import SectorRanges, compare_sources, file_first_difference, sector_ranges_json
from .container import (compare_blkx, compare_koly, compare_resources, locate_file_offset,
                        pair_partitions)
from .manifests import compare_manifests
from .report import ContainerReport, ContentReport, DiffReport, FileComparison
from .volume import compare_hfs, filesystem_name


# The whole report.

def diff_images(path_a: str | os.PathLike, path_b: str | os.PathLike, *,
                progress: Progress | None = None, passphrase: bytes | None = None) -> DiffReport:
    """Compare two .dmg files (``identical`` says whether they are byte for
    byte the same); ``passphrase`` opens encrypted ones (the same for both)."""
    pa, pb = Path(path_a), Path(path_b)
    for p in (pa, pb):
        if not p.exists():
            raise InputError(f"{p}: no such file")
    size_a, size_b = pa.stat().st_size, pb.stat().st_size
    first = file_first_difference(pa, pb) if pa.is_file() and pb.is_file() else 0
    if first is None:
        return DiffReport(os.fspath(path_a), os.fspath(path_b), True, "identical",
                          FileComparison([size_a, size_b], None),
                          ["the files are identical, byte for byte"])
    with open_udif(pa, passphrase=passphrase) as ia, open_udif(pb, passphrase=passphrase) as ib:
        report = DiffReport(os.fspath(path_a), os.fspath(path_b), False, "content",
                            FileComparison([size_a, size_b], first, _locate(ia, first),
                                           _locate(ib, first)))
        _compare(ia, ib, report, progress)
    report.manifest = compare_manifests(pa, pb)
    return report


def _compare(ia: UDIFImage, ib: UDIFImage, report: DiffReport, progress) -> None:
    pairs, only_a, only_b = pair_partitions(ia, ib)
    report.container = ContainerReport(
        koly=compare_koly(ia.koly, ib.koly),
        resources=_compare_layers(ia, ib) + compare_resources(ia, ib),
        partitions_only_in_a=[p.label for p in only_a],
        partitions_only_in_b=[p.label for p in only_b],
        partitions=[compare_blkx(ia, a, ib, b) for a, b in pairs])
    content_parts = []
    all_equal = True
    for a, b in pairs:
        ranges = SectorRanges()
        common = min(a.size, b.size)
        compare_sources(lambda o, n, a=a: ia.read_partition(a, o, n),
                        lambda o, n, b=b: ib.read_partition(b, o, n), common, ranges)
        if a.size != b.size:
            ranges.add(common // SECTOR, max(a.size, b.size) // SECTOR)
        if progress:
            progress.advance()
        entry: dict[str, Any] = {"a": a.label, "b": b.label, "equal": not ranges,
                                 "size": [a.size, b.size]}
        if ranges:
            all_equal = False
            entry["sectors"] = sector_ranges_json(ranges)
            entry.update(content_detail(ia, a, ib, b, ranges))
        content_parts.append(entry)
    disk_equal = (all_equal and not only_a and not only_b and ia.size == ib.size
                  and [(p.first_sector, p.sector_count) for p, _ in pairs]
                  == [(q.first_sector, q.sector_count) for _, q in pairs])
    if not disk_equal and all_equal and ia.size == ib.size and (only_a or only_b):
        # Other partitioning of the same sectors: compare the whole disks.
        ranges = SectorRanges()
        compare_sources(ia.read_disk, ib.read_disk, ia.size, ranges)
        disk_equal = not ranges
    report.content = ContentReport(disk_equal, [ia.sector_count, ib.sector_count],
                                   content_parts)
    report.verdict = "encoding" if disk_equal else "content"
    report.summary = summarise(report)


def _locate(image: UDIFImage, offset: int) -> str:
    """The structure holding byte ``offset`` of the file; inside a container
    (encrypted, sparse) the file's bytes are the container's, not UDIF's."""
    if image.container.layers:
        return f"the {image.container.kind} container around the UDIF image"
    return locate_file_offset(image, offset)


def _compare_layers(ia: UDIFImage, ib: UDIFImage) -> list[dict]:
    """The containers around the UDIF images (encryption, sparse image,
    bundle): their kinds and fields, when they differ."""
    a = describe_container(ia.container.layers) if ia.container.layers else "none"
    b = describe_container(ib.container.layers) if ib.container.layers else "none"
    return [] if a == b else [{"field": "container", "a": a, "b": b}]


def content_detail(ia: UDIFImage, a: Partition, ib: UDIFImage, b: Partition,
                    ranges: SectorRanges) -> dict:
    sa, sb = ia.partition_source(a.index), ib.partition_source(b.index)
    try:
        va = read_volume_header(sa, f"{ia.path}: {a.label}")
        vb = read_volume_header(sb, f"{ib.path}: {b.label}")
    except ReprodmgError as exc:
        return {"filesystem": None, "problems": [str(exc)]}
    if va is None or vb is None:
        if va is None and vb is None:
            return {"filesystem": None}
        return {"filesystem": [filesystem_name(va) if va else None, filesystem_name(vb) if vb else None]}
    try:
        return compare_hfs(ia, a, ib, b, ranges)
    except ReprodmgError as exc:
        # A damaged volume still has its differing sectors reported above.
        return {"filesystem": [filesystem_name(va), filesystem_name(vb)], "problems": [str(exc)]}


def summarise(report: DiffReport) -> list[str]:
    """The findings that matter most, one line each."""
    out = []
    assert report.container is not None and report.content is not None
    c = report.container.to_json()
    if report.verdict == "encoding":
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
    for p in report.content.partitions:
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
            if 0 < len(tree["metadata"]) <= 4:
                what += [f"/{m['path']} {m['field']}: {m['a']} -> {m['b']}"
                         for m in tree["metadata"]]
            elif fields:
                what.append(f"metadata ({', '.join(fields)}) of "
                            f"{len({m['path'] for m in tree['metadata']})} path(s)")
            if tree["data"]:
                what.append("data of " + ", ".join(
                    f"/{d['path']} (from byte {d['first_difference']})"
                    for d in tree["data"][:5]))
        for problem in p.get("problems", []):
            what.append(f"unreadable volume: {problem}")
        out.append(f"{p['a']}: " + "; ".join(what))
        # A differing executable: its first real difference, in words.
        out += [d["macho"]["first"] for d in (tree or {}).get("data", [])[:5] if "macho" in d]
    return out
