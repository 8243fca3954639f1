"""Sparse disk images: the ``.sparseimage`` file (hdiutil's UDSP) and the
``.sparsebundle`` folder (UDSB).  Both hold a raw disk in bands that exist
only once written; a missing band reads as zeros.

``.sparseimage`` (big-endian), a 4096-byte header node then bands::

    0x00  4s   signature "sprs"
    0x04  u32  version (3)
    0x08  u32  sectors per band (2048: 1 MiB bands)
    0x0c  u32  flags (1)
    0x10  u32  total sectors (low 32 bits, as older readers want it)
    0x14  u64  offset of the next index node (0: none)
    0x1c  u64  total sectors
    0x24  28s  zero
    0x40  u32  band numbers[1008]: entry i is 1 + the disk band stored as
               the i-th band after the header (0: unused)

An index node (when more than 1008 bands are stored) is 4096 bytes:
"sprs", u32 node number, u32 flags, u64 next node offset, 36 zero bytes,
u32 band numbers[1010]; the bands listed in it follow it.

``.sparsebundle``: ``Info.plist`` (``band-size`` in bytes, ``size`` of the
disk, ``bundle-backingstore-version`` 1, ``diskimage-bundle-type``
``com.apple.diskimage.sparsebundle``), ``token`` (empty, or the encrcdsa
header of an encrypted bundle) and ``bands/<band number in lower-case
hex>``, each ``band-size`` bytes at most.

Writing is deterministic: bands in disk order, only bands that hold a
non-zero byte, no dates anywhere.
"""

from __future__ import annotations

import os
import plistlib
import struct
from pathlib import Path
from typing import Callable

from ..errors import CorruptError, InputError
from .bands import read_in_pieces

SPRS = b"sprs"
NODE_SIZE = 4096
HEADER = struct.Struct(">4sIIIIQQ28s")
INDEX_HEADER = struct.Struct(">4sIIQ36s")
HEADER_BANDS = (NODE_SIZE - HEADER.size) // 4            # 1008
INDEX_BANDS = (NODE_SIZE - INDEX_HEADER.size) // 4        # 1010
SECTOR = 512
DEFAULT_BAND_SECTORS = 2048
MAX_BAND_BYTES = 1 << 30
MAX_DISK_BYTES = 1 << 50
MAX_INDEX_NODES = 1 << 16
BUNDLE_TYPE = "com.apple.diskimage.sparsebundle"
DEFAULT_BUNDLE_BAND = 8 << 20
MAX_BUNDLE_PLIST = 1 << 16


class SparseImage:
    """A ``.sparseimage``'s disk, read by offset.  ``pread`` reads the
    file (or a decrypted view of it)."""

    def __init__(self, pread: Callable[[int, int], bytes], file_size: int, path: str) -> None:
        self._pread = pread
        self.path = path
        if file_size < NODE_SIZE:
            raise CorruptError(path, "sparse image header", "shorter than 4096 bytes", 0)
        sig, version, band_sectors, _flags, _low, next_node, total, _pad = \
            HEADER.unpack(pread(0, HEADER.size))
        if sig != SPRS:
            raise CorruptError(path, "sparse image header.signature", f"{sig!r}", 0)
        if version != 3:
            raise CorruptError(path, "sparse image header.version", f"{version}, expected 3", 4)
        if not 1 <= band_sectors <= MAX_BAND_BYTES // SECTOR:
            raise CorruptError(path, "sparse image header.sectorsPerBand", f"{band_sectors}", 8)
        if total * SECTOR > MAX_DISK_BYTES:
            raise CorruptError(path, "sparse image header.totalSectors", f"{total}", 0x1c)
        self.band_size = band_sectors * SECTOR
        self.size = total * SECTOR
        self.band_sectors = band_sectors
        # disk band -> file offset of its data
        self.bands: dict[int, int] = {}
        numbers = struct.unpack_from(f">{HEADER_BANDS}I", pread(HEADER.size, 4 * HEADER_BANDS))
        data_at = NODE_SIZE
        self._take(numbers, data_at, file_size, "header node")
        data_at += self.band_size * sum(1 for n in numbers if n)
        seen = 0
        while next_node:
            seen += 1
            if seen > MAX_INDEX_NODES or next_node + NODE_SIZE > file_size or next_node % SECTOR:
                raise CorruptError(path, "sparse image index node", f"offset {next_node} is "
                                   "out of the file or loops", next_node)
            sig, _nr, _fl, following, _pad = INDEX_HEADER.unpack(pread(next_node, INDEX_HEADER.size))
            if sig != SPRS:
                raise CorruptError(path, "sparse image index node.signature", f"{sig!r}", next_node)
            numbers = struct.unpack_from(f">{INDEX_BANDS}I",
                                         pread(next_node + INDEX_HEADER.size, 4 * INDEX_BANDS))
            self._take(numbers, next_node + NODE_SIZE, file_size, f"index node at {next_node}")
            next_node = following

    def _take(self, numbers, data_at: int, file_size: int, where: str) -> None:
        slot = 0
        for n in numbers:
            if not n:
                continue
            band = n - 1
            at = data_at + slot * self.band_size
            slot += 1
            if band * self.band_size >= max(self.size, 1) or band in self.bands:
                raise CorruptError(self.path, f"sparse image {where}", f"band number {n} is "
                                   "beyond the disk or listed twice", data_at)
            # The last stored band may be cut short where the disk ends.
            if at >= file_size:
                raise CorruptError(self.path, f"sparse image {where}", f"band {band}'s data at "
                                   f"{at} is past the end of the file", data_at)
            self.bands[band] = at

    def pread(self, offset: int, length: int) -> bytes:
        return read_in_pieces(offset, length, self.size, self.band_size, self._band,
                              self.path, "sparse image disk")

    def _band(self, band: int, within: int, take: int) -> bytes:
        at = self.bands.get(band)
        return b"" if at is None else self._pread(at + within, take)


def write_sparseimage(read: Callable[[int, int], bytes], size: int,
                      write: Callable[[bytes], None], *,
                      band_sectors: int = DEFAULT_BAND_SECTORS) -> dict:
    """The disk of ``size`` bytes as a ``.sparseimage``: only non-zero bands."""
    if size % SECTOR:
        raise InputError(f"a sparse image holds whole sectors; {size} is not a multiple of 512")
    band = band_sectors * SECTOR
    stored = [n for n in range(-(-size // band)) if any(read(n * band, min(band, size - n * band)))]
    head, rest = stored[:HEADER_BANDS], stored[HEADER_BANDS:]
    groups = [rest[i:i + INDEX_BANDS] for i in range(0, len(rest), INDEX_BANDS)]
    # Where each index node will sit: after the header's bands, then after
    # each previous node's bands.
    offsets = []
    at = NODE_SIZE + len(head) * band
    for g in groups:
        offsets.append(at)
        at += NODE_SIZE + len(g) * band
    total = size // SECTOR
    numbers = [n + 1 for n in head] + [0] * (HEADER_BANDS - len(head))
    write(HEADER.pack(SPRS, 3, band_sectors, 1, total & 0xFFFFFFFF,
                      offsets[0] if offsets else 0, total, bytes(28))
          + struct.pack(f">{HEADER_BANDS}I", *numbers))

    def bands(ns: list[int]) -> None:
        for n in ns:
            data = read(n * band, min(band, size - n * band))
            write(data + bytes(band - len(data)))

    bands(head)
    for i, g in enumerate(groups):
        following = offsets[i + 1] if i + 1 < len(offsets) else 0
        numbers = [n + 1 for n in g] + [0] * (INDEX_BANDS - len(g))
        write(INDEX_HEADER.pack(SPRS, i + 1, 1, following, bytes(36))
              + struct.pack(f">{INDEX_BANDS}I", *numbers))
        bands(g)
    return {"bands": len(stored), "band_size": band}


# --------------------------------------------------------------------------
# Sparse bundles.

def is_sparsebundle(path: Path) -> bool:
    return path.is_dir() and (path / "Info.plist").is_file() and (path / "bands").is_dir()


class SparseBundle:
    """A ``.sparsebundle``'s disk (or, encrypted, its encrypted bytes), read by offset."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        info = path / "Info.plist"
        try:
            if info.stat().st_size > MAX_BUNDLE_PLIST:
                raise CorruptError(self.path, "Info.plist", "larger than 64 KiB", 0)
            plist = plistlib.loads(info.read_bytes())
        except CorruptError:
            raise
        except Exception as exc:       # plistlib raises several types for a bad file
            raise CorruptError(self.path, "Info.plist", f"not a property list ({exc})", 0) \
                from None
        if not isinstance(plist, dict) or plist.get("diskimage-bundle-type") != BUNDLE_TYPE:
            raise CorruptError(self.path, "Info.plist.diskimage-bundle-type",
                               f"not {BUNDLE_TYPE!r}", 0)
        band_size, size = plist.get("band-size"), plist.get("size")
        if not isinstance(band_size, int) or not SECTOR <= band_size <= MAX_BAND_BYTES \
                or band_size % SECTOR:
            raise CorruptError(self.path, "Info.plist.band-size", f"{band_size!r}", 0)
        if not isinstance(size, int) or not 0 <= size <= MAX_DISK_BYTES:
            raise CorruptError(self.path, "Info.plist.size", f"{size!r}", 0)
        self.band_size, self.size = band_size, size
        self.version = plist.get("bundle-backingstore-version")
        self._bands = path / "bands"
        token = path / "token"
        self.token = token.read_bytes()[:1 << 20] if token.is_file() else b""

    def pread(self, offset: int, length: int) -> bytes:
        return read_in_pieces(offset, length, self.size, self.band_size, self._band,
                              self.path, "sparse bundle disk")

    def _band(self, band: int, within: int, take: int) -> bytes:
        try:
            with open(self._bands / f"{band:x}", "rb") as fh:
                fh.seek(within)
                return fh.read(take)
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise InputError(f"{self.path}/bands/{band:x}: cannot read: {exc.strerror}") \
                from None


def write_sparsebundle(read: Callable[[int, int], bytes], size: int, dest: Path, *,
                       band_size: int = DEFAULT_BUNDLE_BAND, token: bytes = b"") -> dict:
    """The disk as a ``.sparsebundle`` folder at ``dest`` (which must not
    exist): bands that hold a non-zero byte, named in lower-case hex."""
    if band_size % SECTOR or not SECTOR <= band_size <= MAX_BAND_BYTES:
        raise InputError(f"band size {band_size}: a multiple of 512 up to 1 GiB")
    (dest / "bands").mkdir(parents=True)
    info = {"CFBundleInfoDictionaryVersion": "6.0", "band-size": band_size,
            "bundle-backingstore-version": 1, "diskimage-bundle-type": BUNDLE_TYPE,
            "size": size}
    data = plistlib.dumps(info, fmt=plistlib.FMT_XML, sort_keys=True)
    for name in ("Info.plist", "Info.bckup"):
        (dest / name).write_bytes(data)
    (dest / "token").write_bytes(token)
    stored = 0
    for n in range(-(-size // band_size)):
        chunk = read(n * band_size, min(band_size, size - n * band_size))
        if any(chunk):
            (dest / "bands" / f"{n:x}").write_bytes(chunk)
            stored += 1
    for p in sorted(dest.rglob("*")):
        os.utime(p, (0, 0))
    return {"bands": stored, "band_size": band_size}
