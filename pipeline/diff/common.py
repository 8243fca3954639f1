"""Shared pieces of the image comparison: field-level differences, bounded
byte comparison, sector ranges, report escaping."""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..udif.koly import SECTOR, Koly
from ..udif.mish import BlkxTable


STEP = 1 << 20            # bytes compared at a time
MAX_RANGES = 10000        # differing sector ranges kept per partition
MAX_ITEMS = 1000          # entries kept per list of the report
MAX_DESCRIBED = 200       # differing ranges attributed to HFS+ structures


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

def show_value(value: Any) -> Any:
    """A JSON-friendly rendering of a field value."""
    if isinstance(value, (bytes, bytearray)):
        if not any(value):
            return f"zero x {len(value)}"
        text = bytes(value).hex()
        return text if len(text) <= 64 else f"{text[:64]}... ({len(value)} bytes)"
    if isinstance(value, list):
        return [show_value(v) for v in value]
    return value


def field_diff(field: str, a: Any, b: Any) -> dict:
    return {"field": field, "a": show_value(a), "b": show_value(b)}


def capped(items: list, limit: int = MAX_ITEMS) -> tuple[list, int]:
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


def streams_first_difference(read_a, read_b) -> int | None:
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


def file_first_difference(pa: Path, pb: Path) -> int | None:
    try:
        with open(pa, "rb") as fa, open(pb, "rb") as fb:
            return streams_first_difference(fa.read, fb.read)
    except OSError as exc:
        raise InputError(f"{exc.filename}: cannot read: {exc.strerror}") from None


class SectorRanges:
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


def compare_sources(read_a, read_b, size: int, ranges: SectorRanges) -> None:
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


def sector_ranges_json(ranges: SectorRanges) -> dict:
    items, more = capped(ranges.items)
    return {"ranges": [{"first_sector": s, "sector_count": e - s} for s, e in items],
            "sectors": ranges.total, "more_ranges": more + (1 if ranges.truncated else 0),
            "truncated": ranges.truncated or bool(more)}


def printable_report(obj: Any) -> Any:
    """Strings that cannot be written as UTF-8 (lone surrogates from a
    hostile name or link target) get backslash escapes."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
            return obj
        except UnicodeEncodeError:
            return obj.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(obj, list):
        return [printable_report(v) for v in obj]
    if isinstance(obj, dict):
        return {printable_report(k): printable_report(v) for k, v in obj.items()}
    return obj
