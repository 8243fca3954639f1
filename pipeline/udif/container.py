"""Every Apple image container, unwrapped down to the image inside: a
``.sparsebundle`` folder, an encrypted (encrcdsa/cdsaencr) file, a
``.sparseimage``, in the order they nest (an encrypted bundle's ``token``
holds its encryption header; an encrypted ``.sparseimage`` is a sparse
image inside the encryption).  What is left is a UDIF image (a ``koly``
trailer at its end) or a raw disk.

``open_container`` returns a ``Container``: the inner bytes by offset, their
size, and each layer's own fields (for ``dmg info``).  A plain file is one
layer, read with ``os.pread``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import CorruptError, InputError
from . import encrypted, sparse
from .koly import KOLY_MAGIC, KOLY_SIZE, SECTOR
from .partitions import MapEntry, read_partition_map


@dataclass
class Container:
    path: str
    pread: Callable[[int, int], bytes]
    size: int
    layers: list[dict[str, Any]] = field(default_factory=list)
    _close: Callable[[], None] | None = None

    @property
    def kind(self) -> str:
        """hdiutil's name for the outermost variant (UDSB, UDSP, encrypted, file)."""
        return self.layers[0]["layer"] if self.layers else "file"

    @property
    def is_udif(self) -> bool:
        return self.size >= KOLY_SIZE and self.pread(self.size - KOLY_SIZE, 4) == KOLY_MAGIC

    @property
    def holds_raw_disk(self) -> bool:
        """No UDIF trailer, and either a container around it or what a disk
        starts with (a partition map, or an HFS+ volume header): hdiutil's
        read/write images and the raw disks people call .dmg."""
        if self.is_udif:
            return False
        if self.layers:
            return True
        if self.size < 2048:
            return False
        return self.pread(1024, 2) in (b"H+", b"HX") or \
            read_partition_map(SliceSource(self, 0, self.size))[0] != "none"

    @property
    def encrypted(self) -> bool:
        return any(layer["layer"] == "encrypted" for layer in self.layers)

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self) -> "Container":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _file(path: Path) -> tuple[Callable[[int, int], bytes], int, Callable[[], None]]:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror}") from None
    size = os.fstat(fd).st_size
    return (lambda offset, length: os.pread(fd, length, offset)), size, lambda: os.close(fd)


def _encryption_fields(keys: encrypted.ImageKeys) -> dict[str, Any]:
    return {"layer": "encrypted", "version": keys.version,
            "algorithm": f"AES-{keys.key_bits}", "block_size": keys.block_size,
            "data_offset": keys.data_offset, "data_size": keys.data_size}


def open_container(path: str | os.PathLike, *, passphrase: bytes | None = None) -> Container:
    """Unwrap ``path``; a passphrase is needed only for an encrypted one."""
    p = Path(path)
    name = os.fspath(p)
    layers: list[dict[str, Any]] = []
    close = None
    if p.is_dir():
        if not sparse.is_sparsebundle(p):
            raise InputError(f"{p}: is a directory, not a disk image")
        bundle = sparse.SparseBundle(p)
        pread, size = bundle.pread, bundle.size
        layers.append({"layer": "UDSB", "band_size": bundle.band_size, "size": bundle.size,
                       "backingstore_version": bundle.version})
        token = bundle.token
        version = encrypted.is_encrypted(token[:8], token[-8:]) if len(token) >= 8 else 0
        if version:
            keys = encrypted.unlock(lambda o, n: token[o:o + n], len(token), f"{name}/token",
                                    passphrase)
            # A bundle's encrypted blocks are its bands, numbered from 0.
            keys.data_offset, keys.data_size = 0, bundle.size
            layers.append(_encryption_fields(keys))
            decrypted = encrypted.DecryptedFile(pread, keys, name)
            pread, size = decrypted.pread, decrypted.size
    else:
        pread, size, close = _file(p)
        head = pread(0, 8)
        tail = pread(size - 8, 8) if size >= 8 else b""
        if encrypted.is_encrypted(head, tail):
            try:
                keys = encrypted.unlock(pread, size, name, passphrase)
            except BaseException:
                close()
                raise
            layers.append(_encryption_fields(keys))
            decrypted = encrypted.DecryptedFile(pread, keys, name)
            pread, size = decrypted.pread, decrypted.size
    if size >= 4 and pread(0, 4) == sparse.SPRS:
        try:
            image = sparse.SparseImage(pread, size, name)
        except BaseException:
            if close:
                close()
            raise
        layers.append({"layer": "UDSP", "band_size": image.band_size, "size": image.size,
                       "bands_stored": len(image.bands)})
        pread, size = image.pread, image.size
    return Container(name, pread, size, layers, close)


# --------------------------------------------------------------------------
# A raw disk inside a container (hdiutil's read/write images hold one).

class SliceSource:
    """``ImageSource`` over ``size`` bytes of a container from ``start``."""

    def __init__(self, container: Container, start: int, size: int) -> None:
        self.container, self.start, self.size = container, start, size

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or offset + length > self.size:
            raise CorruptError(self.container.path, "partition", f"{length} bytes at {offset} "
                               f"run past its {self.size} bytes", offset)
        data = self.container.pread(self.start + offset, length)
        if len(data) != length:
            raise CorruptError(self.container.path, "image", f"short read of {length} bytes",
                               self.start + offset)
        return data


def raw_partitions(container: Container) -> tuple[str, list[MapEntry], list[str]]:
    """The partition map of the raw disk a container holds."""
    return read_partition_map(SliceSource(container, 0, container.size))


def raw_volume(container: Container, key: str | None) -> tuple[SliceSource, str]:
    """The HFS+ partition (or the partition ``key``: index or name) of a raw
    disk, or the whole disk when it has no map."""
    scheme, entries, _problems = raw_partitions(container)
    if not entries:
        return SliceSource(container, 0, container.size), "whole disk"
    if key is None:
        chosen = [e for e in entries if "HFS" in e.type] or entries
        entry = chosen[0]
    else:
        entry = next((e for e in entries if str(e.index) == key or e.name == key), None)
        if entry is None:
            raise InputError(f"{container.path}: no partition {key!r} in its {scheme} map "
                             f"({', '.join(f'{e.index}: {e.name or e.type}' for e in entries)})")
    size = entry.sector_count * SECTOR
    if (entry.first_sector * SECTOR) + size > container.size:
        raise CorruptError(container.path, f"{scheme} entry {entry.index}", "runs past the disk",
                           entry.first_sector * SECTOR)
    return SliceSource(container, entry.first_sector * SECTOR, size), \
        f"{scheme} partition {entry.index} ({entry.name or entry.type})"
