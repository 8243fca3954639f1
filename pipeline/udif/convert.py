"""``dmg convert``: any readable image (UDIF or raw) to any writable format.

A UDIF input keeps its partitions (names, ids, sector ranges) and its
``ignore`` chunks, unless a layout is asked for, in which case its HFS+
partition is re-wrapped.  A raw input is one volume (layout ``none`` by
default); if it holds HFS+, its free blocks become ``ignore`` chunks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..hfs import free_byte_ranges
from ..imagesource import FileImageSource
from .info import scheme_from_names
from .koly import KOLY_MAGIC, KOLY_SIZE, SECTOR
from .mish import CHUNK_IGNORE
from .partitions import PartitionPlan, PlannedPartition
from .reader import detect_container, open_udif
from .writer import MIN_IGNORE_RUN, plan_partitions, write_plan

if TYPE_CHECKING:
    from ..progress import ProgressCallback
    from .reader import UDIFImage


def is_udif(path: Path) -> bool:
    size = path.stat().st_size
    if size < KOLY_SIZE:
        return False
    with open(path, "rb") as fh:
        fh.seek(size - KOLY_SIZE)
        return fh.read(4) == KOLY_MAGIC


def plan_from_image(image: UDIFImage) -> PartitionPlan:
    parts = []
    for p in image.partitions:
        free = [(c.sector * SECTOR, c.sector_count * SECTOR)
                for c in p.table.chunks if c.type == CHUNK_IGNORE and c.sector_count]
        parts.append(PlannedPartition(p.name, p.id, p.table.block_descriptors, p.first_sector,
                                p.sector_count, image.partition_source(p.index), free,
                                cfname=p.cfname))
    return PartitionPlan(parts, image.koly.image_variant, image.sector_count,
                  scheme_from_names([p.name for p in image.partitions]))


def convert(src: str | os.PathLike, out: str | os.PathLike, *, format: str,
            level: int | None = None, layout: str | None = None,
            workers: int | None = None, progress: ProgressCallback | None = None) -> dict:
    src = Path(src)
    detect_container(src)
    if not src.exists():
        raise InputError(f"{src}: no such file")
    if Path(out).resolve() == src.resolve():
        raise InputError(f"{out}: output would overwrite the input")
    if is_udif(src):
        with open_udif(src) as image:
            if layout is None:
                plan = plan_from_image(image)
            else:
                part = image.data_partition()
                source = image.partition_source(part.index)
                free = [(c.sector * SECTOR, c.sector_count * SECTOR)
                        for c in part.table.chunks if c.type == CHUNK_IGNORE and c.sector_count]
                plan = plan_partitions(source, layout, free)
            return write_plan(plan, out, format=format, level=level, workers=workers, progress=progress)
    with FileImageSource(src) as source:
        if source.size % SECTOR:
            raise InputError(f"{src}: size {source.size} is not a multiple of 512: "
                             "neither a UDIF image nor a raw disk image")
        # A raw volume declares nothing: its HFS+ bitmap (if any) says what is free.
        free = free_byte_ranges(source, str(src), MIN_IGNORE_RUN * SECTOR) or []
        plan = plan_partitions(source, layout or "none", free)
        return write_plan(plan, out, format=format, level=level, workers=workers, progress=progress)
