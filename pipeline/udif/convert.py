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
from .info import scheme_from_names
from .koly import SECTOR
from .mish import CHUNK_IGNORE
from .partitions import PartitionPlan, PlannedPartition
from .container import Container, SliceSource, open_container
from .reader import UDIFImage
from .variants import EncryptionOptions, container_format, write_container
from .writer import MIN_IGNORE_RUN, plan_partitions, write_plan

if TYPE_CHECKING:
    from ..progress import ProgressCallback


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
            workers: int | None = None, progress: ProgressCallback | None = None,
            passphrase: bytes | None = None, encryption: EncryptionOptions | None = None,
            ) -> dict:
    """Any image (UDIF, raw, sparse image or bundle, encrypted or not) to
    ``format``: a UDIF format, ``raw``, ``UDSP`` (``.sparseimage``) or
    ``UDSB`` (``.sparsebundle``); ``encryption`` wraps the output (UDIF or
    UDSP/raw files, and bundles through their token)."""
    src = Path(src)
    if not src.exists():
        raise InputError(f"{src}: no such file")
    if Path(out).resolve() == src.resolve():
        raise InputError(f"{out}: output would overwrite the input")
    target = container_format(format)
    with open_container(src, passphrase=passphrase) as container:
        if target is not None:
            # The sparse and raw variants hold the expanded disk.
            with _disk_of(container, src, passphrase) as disk:
                return write_container(disk.read, disk.size, out, target, encryption)
        if container.is_udif:
            with UDIFImage(src, container=container) as image:
                if layout is None:
                    plan = plan_from_image(image)
                else:
                    part = image.data_partition()
                    source = image.partition_source(part.index)
                    free = [(c.sector * SECTOR, c.sector_count * SECTOR)
                            for c in part.table.chunks if c.type == CHUNK_IGNORE and c.sector_count]
                    plan = plan_partitions(source, layout, free)
                result = _write(plan, out, format, level, workers, progress, encryption)
                # What the reader tolerated in the input, for the caller to say.
                return {**result, "input_warnings": list(image.warnings)} if image.warnings \
                    else result
        source = SliceSource(container, 0, container.size)
        if source.size % SECTOR:
            raise InputError(f"{src}: size {source.size} is not a multiple of 512: "
                             "neither a UDIF image nor a raw disk image")
        # A raw volume declares nothing: its HFS+ bitmap (if any) says what is free.
        free = free_byte_ranges(source, str(src), MIN_IGNORE_RUN * SECTOR) or []
        plan = plan_partitions(source, layout or "none", free)
        return _write(plan, out, format, level, workers, progress, encryption)


class _Disk:
    def __init__(self, read, size: int, close=None) -> None:
        self.read, self.size, self._close = read, size, close

    def __enter__(self) -> "_Disk":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._close:
            self._close()


def _disk_of(container: Container, src: Path, passphrase: bytes | None) -> _Disk:
    """The expanded disk: a UDIF image's, or the container's raw bytes."""
    if container.is_udif:
        image = UDIFImage(src, passphrase=passphrase)
        return _Disk(image.read_disk, image.size, image.close)
    source = SliceSource(container, 0, container.size)
    return _Disk(source.read, source.size)


def encrypted_udif(source, out, *, format: str, level: int | None, layout: str,
                   workers: int | None, encryption: EncryptionOptions,
                   progress: ProgressCallback | None = None) -> dict:
    """A volume as an encrypted UDIF image (``dmg create --encryption``)."""
    declared = getattr(source, "free_ranges", None)
    free = [(off, n) for off, n in (declared() if callable(declared) else [])
            if n >= MIN_IGNORE_RUN * SECTOR]
    return _write(plan_partitions(source, layout, free), out, format, level, workers, progress,
                  encryption)


def _write(plan: PartitionPlan, out, format: str, level, workers, progress,
           encryption: EncryptionOptions | None) -> dict:
    if encryption is None:
        return write_plan(plan, out, format=format, level=level, workers=workers,
                          progress=progress)
    # Encrypted UDIF: the image is written, then wrapped (encrcdsa v2).
    import tempfile
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix=".reprodmg-encrypt-", dir=out.parent) as tmp:
        inner = Path(tmp) / out.name
        manifest = write_plan(plan, inner, format=format, level=level, workers=workers,
                              progress=progress, manifest_path=False)
        with open(inner, "rb") as fh:
            size = inner.stat().st_size
            write_container(lambda o, n: os.pread(fh.fileno(), n, o), size, out, None,
                            encryption)
    from ..jsonfile import sha256_file
    # The manifest describes the file written: the encrypted one.
    manifest.update(encryption=encryption.to_json(), udif_sha256=manifest["sha256"],
                    udif_size=manifest["size"], sha256=sha256_file(out),
                    size=out.stat().st_size)
    return manifest
