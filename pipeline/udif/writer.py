"""Write a UDIF image (or a raw disk) from an ImageSource, reproducibly.

Chunking follows current hdiutil: each partition is cut into chunks of at
most 2048 sectors (1 MiB); runs of at least ``MIN_IGNORE_RUN`` sectors
that the HFS+ allocation bitmap marks free become ``ignore`` chunks; runs of at least ``MIN_ZERO_RUN`` zero sectors
become zero-fill chunks (shorter runs stay inside the data chunk, where
they cost a few bytes and keep the chunk count low).  A chunk that does not
shrink under compression is stored raw, as hdiutil does.

Determinism: chunk boundaries depend only on the bytes and the free ranges;
chunks are compressed by pinned codecs in a thread pool but written in
order, so the output is identical for any worker count.  At most
``2 x workers`` chunks are in flight: memory is bounded whatever the image
size.  The segment id and GPT GUIDs are derived from content.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from deflate import crc32   # libdeflate: same CRC-32 as zlib, several times faster

from ..atomic import atomic_output
from ..errors import InputError
from ..imagesource import ImageSource
from .. import codecs
from . import formats
from .checksum import checksum_field, crc32_zeros
from .koly import SECTOR, Koly
from .manifest import build_manifest, write_manifest
from .mish import (BUFFERS_SLACK, CHUNK_IGNORE, CHUNK_RAW, CHUNK_SECTORS, CHUNK_TERMINATOR,
                   CHUNK_ZERO, BlkxTable, Chunk)
from .partitions import PartitionPlan, PlannedPartition, content_uuid, plan_gpt, plan_whole_disk
from .resources import BlkxEntry, ResourceFork, default_plst

if TYPE_CHECKING:
    from ..progress import ProgressCallback

CHUNK_BYTES = CHUNK_SECTORS * SECTOR
MIN_ZERO_RUN = 64              # sectors (32 KiB): shorter zero runs stay in data chunks
# Free ranges shorter than this are stored like any other sectors: a badly
# fragmented bitmap must not blow the chunk tables past QEMU's 16 MiB
# property-list bound (hdiutil, too, leaves small free ranges in data chunks).
MIN_IGNORE_RUN = 64
_ZERO_SECTOR = bytes(SECTOR)
_MIN_ZERO_BYTES = bytes(MIN_ZERO_RUN * SECTOR)
_ZEROS = bytes(CHUNK_BYTES)
LAYOUTS = ("none", "gpt")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------
# Chunk planning.

def _sector_ranges(free_ranges, sector_count: int) -> list[tuple[int, int]]:
    """Byte ranges -> sorted, merged (start, end) sector ranges fully inside them."""
    out: list[list[int]] = []
    for off, length in sorted(free_ranges or []):
        start = -(-off // SECTOR)
        end = min((off + length) // SECTOR, sector_count)
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def plan_chunks(source: ImageSource | None, sector_count: int,
                free_ranges: Iterable[tuple[int, int]] | None = None
                ) -> Iterator[tuple[int, int, int, bytes | None]]:
    """(chunk type, first sector, sector count, data) in sector order.

    Data chunks carry their bytes (type CHUNK_RAW here: the caller picks
    the codec); zero and ignore chunks carry None.
    """
    if source is None:
        if sector_count:
            yield CHUNK_IGNORE, 0, sector_count, None
        return
    ignore = _sector_ranges(free_ranges, sector_count)
    pos = 0
    for start, end in ignore + [(sector_count, sector_count)]:
        if start > pos:
            yield from _plan_content(source, pos, start)
        if end > start:
            yield CHUNK_IGNORE, start, end - start, None
        pos = end


def _plan_content(source: ImageSource, start: int, end: int):
    pending = bytearray()         # data sectors not yet emitted
    pending_at = start
    zero_at = start
    zero_len = 0

    def emit_data():
        nonlocal pending_at
        while pending:
            take = min(len(pending), CHUNK_BYTES)
            yield CHUNK_RAW, pending_at, take // SECTOR, bytes(pending[:take])
            del pending[:take]
            pending_at += take // SECTOR

    def add_data(at: int, data) -> Iterator:
        nonlocal pending_at
        if not pending:
            pending_at = at
        pending.extend(data)
        if len(pending) >= CHUNK_BYTES:
            while len(pending) >= CHUNK_BYTES:
                yield CHUNK_RAW, pending_at, CHUNK_SECTORS, bytes(pending[:CHUNK_BYTES])
                del pending[:CHUNK_BYTES]
                pending_at += CHUNK_SECTORS

    def settle_zeros() -> Iterator:
        nonlocal zero_len
        if not zero_len:
            return
        if zero_len >= MIN_ZERO_RUN:
            yield from emit_data()
            at, left = zero_at, zero_len
            while left:
                n = min(left, CHUNK_SECTORS)
                yield CHUNK_ZERO, at, n, None
                at += n
                left -= n
        else:
            yield from add_data(zero_at, bytes(zero_len * SECTOR))
        zero_len = 0

    sector = start
    while sector < end:
        n = min(CHUNK_SECTORS, end - sector)
        window = source.read(sector * SECTOR, n * SECTOR)
        if window == _ZEROS[:n * SECTOR]:
            if not zero_len:
                zero_at = sector
            zero_len += n
        elif (window.find(_MIN_ZERO_BYTES) < 0 and window[:SECTOR] != _ZERO_SECTOR
              and window[-SECTOR:] != _ZERO_SECTOR):
            # No zero run long enough to matter lies inside this window, and
            # none continues across its edges: it is data as a whole (the
            # sector scan below would say the same, only slower).
            yield from settle_zeros()
            if not pending and n == CHUNK_SECTORS:
                yield CHUNK_RAW, sector, n, window
            else:
                yield from add_data(sector, window)
        else:
            mv = memoryview(window)
            flags = [mv[i * SECTOR:(i + 1) * SECTOR] == _ZERO_SECTOR for i in range(n)]
            i = 0
            for is_zero, group in itertools.groupby(flags):
                k = sum(1 for _ in group)
                if is_zero:
                    if not zero_len:
                        zero_at = sector + i
                    zero_len += k
                else:
                    yield from settle_zeros()
                    yield from add_data(sector + i, mv[i * SECTOR:(i + k) * SECTOR])
                i += k
        sector += n
    yield from settle_zeros()
    yield from emit_data()


# --------------------------------------------------------------------------
# Writing.

def plan_partitions(source: ImageSource, layout: str,
                    free_ranges: Iterable[tuple[int, int]] | None = None,
                    partition_name: str = "disk image") -> PartitionPlan:
    if source.size % SECTOR or source.size == 0:
        raise InputError(f"volume size {source.size} is not a positive multiple of 512")
    if layout == "none":
        return plan_whole_disk(source, free_ranges)
    if layout == "gpt":
        return plan_gpt(source, free_ranges, partition_name)
    raise InputError(f"unknown partition layout {layout!r} (known: {', '.join(LAYOUTS)})")


def write_udif(source: ImageSource, out_path: str | os.PathLike, *, format: str,
               level: int | None = None, layout: str = "none",
               partition_name: str = "disk image", workers: int | None = None,
               free_ranges: Iterable[tuple[int, int]] | None = None, manifest_path: str | os.PathLike | None | bool = None,
               source_name: str = "", progress: ProgressCallback | None = None,
               resources: Mapping[str, list[dict[str, Any]]] | None = None) -> dict:
    """Write ``source`` (a volume) as a UDIF image or raw disk; return the manifest.

    ``format``: UDRO, UDZO, UDBZ, ULFO (or ULZF), ULMO, or ``raw`` (the
    expanded disk).  ``free_ranges``: byte ranges of the volume to store as
    ``ignore`` chunks; None (the default) takes them from the source's own
    ``free_ranges()`` when it has one (the HFS+ writer's volumes do), [] stores
    every sector.  ``progress(label, done, total)`` is called as sectors are
    written.  ``resources``: more resource types for the property list
    (the licence agreement's, ``pipeline.udif.license``).  The manifest is
    also written to
    ``manifest_path`` (default ``<out>.manifest.json``; False: not written).
    """
    if free_ranges is None:
        # Free space the volume writer itself declares; runs too short to be
        # worth a chunk of their own stay in the data chunks, as hdiutil does.
        declared = getattr(source, "free_ranges", None)
        free_ranges = [(off, n) for off, n in (declared() if callable(declared) else [])
                       if n >= MIN_IGNORE_RUN * SECTOR]
    plan = plan_partitions(source, layout, free_ranges, partition_name)
    return write_plan(plan, out_path, format=format, level=level, workers=workers,
                        manifest_path=manifest_path, source_name=source_name, progress=progress,
                        resources=resources)


def write_plan(plan: PartitionPlan, out_path: str | os.PathLike, *, format: str,
               level: int | None = None, workers: int | None = None,
               manifest_path: str | os.PathLike | None | bool = None,
               source_name: str = "", progress: ProgressCallback | None = None,
               resources: Mapping[str, list[dict[str, Any]]] | None = None) -> dict:
    out_path = Path(out_path)
    if format.lower() in formats.RAW_FORMATS:
        result = _write_raw(plan, out_path, progress)
        fmt_name, level = ("UDRW" if format.lower() == "udrw" else "raw"), None
    else:
        fmt = formats.lookup_format(format)
        level = formats.check_level(fmt, level)
        result = _write_dmg(plan, out_path, fmt, level, workers or default_workers(), progress,
                            resources)
        fmt_name = fmt.name
    manifest = build_manifest(out_path.name, fmt_name, level, plan.scheme, result)
    if manifest_path is not False:
        target = Path(manifest_path) if manifest_path else \
            out_path.with_name(out_path.name + ".manifest.json")
        write_manifest(target, manifest)
    return manifest


def _ordered(parts: list[PlannedPartition]) -> list[PlannedPartition]:
    ordered = sorted(parts, key=lambda p: p.first_sector)
    end = 0
    for p in ordered:
        if p.first_sector < end:
            raise InputError(f"partition {p.name!r} overlaps the previous one")
        end = p.first_sector + p.sector_count
    return ordered


class _Sectors:
    """Counts sectors written and reports them to the caller's callback."""

    def __init__(self, label: str, total: int, progress: ProgressCallback | None) -> None:
        self.label, self.total, self.progress, self.done = label, total, progress, 0

    def advance(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.label, self.done, self.total)


def _write_raw(plan: PartitionPlan, out_path: Path, progress: ProgressCallback | None) -> dict:
    expanded = hashlib.sha256()
    file_sha = hashlib.sha256()
    pos = 0
    progress = _Sectors(f"raw {out_path.name}", plan.sector_count, progress)
    with atomic_output(out_path) as fh:
        def put(data) -> None:
            fh.write(data)
            expanded.update(data)
            file_sha.update(data)

        def put_zeros(n: int) -> None:
            while n:
                k = min(n, CHUNK_BYTES)
                put(_ZEROS[:k])
                n -= k

        for part in _ordered(plan.parts):
            put_zeros((part.first_sector - pos) * SECTOR)
            for ctype, sector, count, data in plan_chunks(part.source, part.sector_count,
                                                          part.free_ranges):
                if data is None:
                    put_zeros(count * SECTOR)
                else:
                    put(data)
                progress.advance(count)
            pos = part.first_sector + part.sector_count
        put_zeros((plan.sector_count - pos) * SECTOR)
    size = plan.sector_count * SECTOR
    return {"file_sha256": file_sha.hexdigest(), "file_size": size,
            "expanded_sha256": expanded.hexdigest(), "expanded_size": size,
            "codecs": [], "segment_id": None, "chunks": {}}


def _write_dmg(plan: PartitionPlan, out_path: Path, fmt: formats.Format, level: int | None,
               workers: int, progress: ProgressCallback | None,
               resources: Mapping[str, list[dict[str, Any]]] | None = None) -> dict:
    compress = codecs.compressor(fmt.codec, level)
    parallel = fmt.chunk_type != CHUNK_RAW and workers > 1
    expanded = hashlib.sha256()
    fork_sha = hashlib.sha256()
    state = {"offset": 0, "crc": 0}
    counts: dict[str, int] = {}
    codecs_used: set[str] = set()
    tables: dict[int, BlkxTable] = {}

    with atomic_output(out_path) as fh, \
            ThreadPoolExecutor(max_workers=workers if parallel else 1) as pool:
        progress = _Sectors(f"{fmt.name} {out_path.name}", plan.sector_count, progress)
        inflight: deque = deque()

        def drain(limit: int) -> None:
            while len(inflight) > limit:
                chunk, raw, fut = inflight.popleft()
                chunk.offset = state["offset"]
                if raw is None:
                    continue
                packed = fut.result() if fut is not None else raw
                if len(packed) >= len(raw):
                    packed, chunk.type = raw, CHUNK_RAW
                chunk.length = len(packed)
                fh.write(packed)
                fork_sha.update(packed)
                state["crc"] = crc32(packed, state["crc"])
                state["offset"] += len(packed)
                name = "raw" if chunk.type == CHUNK_RAW else fmt.codec
                codecs_used.add(name)
                counts[name] = counts.get(name, 0) + 1

        window = 2 * workers if parallel else 1
        pos = 0
        for part in _ordered(plan.parts):
            _hash_zeros(expanded, (part.first_sector - pos) * SECTOR)   # gap: zeros
            table = BlkxTable(first_sector=part.first_sector, sector_count=part.sector_count,
                              block_descriptors=part.descriptor & 0xFFFFFFFF)
            crc = 0
            compressed_chunks = False
            for ctype, sector, count, data in plan_chunks(part.source, part.sector_count,
                                                          part.free_ranges):
                if data is None:
                    chunk = Chunk(type=ctype, sector=sector, sector_count=count)
                    if ctype == CHUNK_ZERO:
                        crc = crc32_zeros(crc, count * SECTOR)
                    name = "zero" if ctype == CHUNK_ZERO else "ignore"
                    counts[name] = counts.get(name, 0) + 1
                    _hash_zeros(expanded, count * SECTOR)
                    table.chunks.append(chunk)
                    inflight.append((chunk, None, None))
                else:
                    crc = crc32(data, crc)
                    expanded.update(data)
                    chunk = Chunk(type=fmt.chunk_type, sector=sector, sector_count=count)
                    table.chunks.append(chunk)
                    if fmt.chunk_type == CHUNK_RAW:
                        inflight.append((chunk, data, None))
                    else:
                        compressed_chunks = True
                        fut = pool.submit(compress, data) if parallel else _Done(compress(data))
                        inflight.append((chunk, data, fut))
                drain(window)
                progress.advance(count)
            drain(0)
            terminator = Chunk(type=CHUNK_TERMINATOR, sector=part.sector_count,
                               offset=state["offset"])
            table.chunks.append(terminator)
            table.set_crc32(crc)
            table.buffers_needed = CHUNK_SECTORS + BUFFERS_SLACK if compressed_chunks else 0
            tables[id(part)] = table
            pos = part.first_sector + part.sector_count
        _hash_zeros(expanded, (plan.sector_count - pos) * SECTOR)

        entries = []
        master_input = b""
        for part in plan.parts:       # blkx order as planned
            table = tables[id(part)]
            master_input += struct.pack(">I", table.crc32)
            entries.append(BlkxEntry(part.id, part.name, table.pack(), cfname=part.cfname))
        fork = ResourceFork(entries, {"plst": default_plst(), **(resources or {})})
        xml = fork.pack()
        fork_length = state["offset"]
        expanded_hex = expanded.hexdigest()
        segment_id = content_uuid("udif segment", expanded_hex, fork_sha.hexdigest())
        dck, dcs, dc = checksum_field(state["crc"])
        mck, mcs, mc = checksum_field(crc32(master_input))
        koly = Koly(data_fork_length=fork_length, xml_offset=fork_length,
                    xml_length=len(xml), sector_count=plan.sector_count,
                    segment_id=segment_id.bytes, data_checksum_type=dck,
                    data_checksum_size=dcs, data_checksum=dc, master_checksum_type=mck,
                    master_checksum_size=mcs, master_checksum=mc, image_variant=plan.variant)
        trailer = koly.pack()
        fh.write(xml)
        fh.write(trailer)
    file_sha = fork_sha.copy()
    file_sha.update(xml)
    file_sha.update(trailer)
    return {"file_sha256": file_sha.hexdigest(), "file_size": fork_length + len(xml) + 512,
            "expanded_sha256": expanded_hex, "expanded_size": plan.sector_count * SECTOR,
            "codecs": sorted(codecs_used), "segment_id": str(segment_id).upper(),
            "chunks": dict(sorted(counts.items())),
            "data_fork_crc32": f"{state['crc']:08x}",
            "master_crc32": f"{crc32(master_input):08x}"}


class _Done:
    """A finished 'future' for the single-threaded path."""

    def __init__(self, value: bytes) -> None:
        self._value = value

    def result(self) -> bytes:
        return self._value


def _hash_zeros(h, n: int) -> None:
    while n > 0:
        k = min(n, CHUNK_BYTES)
        h.update(_ZEROS if k == CHUNK_BYTES else _ZEROS[:k])
        n -= k
