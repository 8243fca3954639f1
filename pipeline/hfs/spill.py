"""Bytes and records parked in unnamed temporary files instead of memory.

The catalog B-tree of a volume with a million files is ~350 MB; the writer
builds it node by node into a ``SpilledBytes`` once it is larger than
``SPILL_BYTES``.  The writer's catalog objects and the volume's list of
forks are ``SpilledRecords``: the first ``SPILL_RECORDS`` are held, the rest
go to a temporary file, so authoring memory stops growing with the number
of files; a folder's names are sorted in runs (``sorted_spilled``) when
it has more.  The files are unnamed (created unlinked), so a killed run leaves
nothing behind.
"""

from __future__ import annotations

import heapq
import io
import itertools
import marshal
import os
import struct
import tempfile
from array import array
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

from ..errors import InputError

# Trees larger than this are built in a temporary file.
SPILL_BYTES = 32 << 20
# Record lists hold this many records, then spill the rest.
SPILL_RECORDS = 20_000
_WINDOW = 1 << 20

T = TypeVar("T")


def _temporary_file(what: str):
    try:
        return tempfile.TemporaryFile()
    except OSError as exc:
        raise _error(what, exc) from None


def _error(what: str, exc: OSError) -> InputError:
    return InputError(f"temporary file for the {what} in {tempfile.gettempdir()}: "
                      f"{exc.strerror or exc}")


def _write_at(fh, offset: int, data: bytes | bytearray, what: str) -> None:
    try:
        fh.seek(offset)
        fh.write(data)
    except OSError as exc:
        raise _error(what, exc) from None


def _readinto_at(fh, offset: int, view: memoryview, what: str) -> None:
    """Fill ``view`` from ``offset``: all of it, or an error."""
    try:
        fh.seek(offset)
        got = fh.readinto(view)
    except OSError as exc:
        raise _error(what, exc) from None
    if got != len(view):
        raise InputError(f"temporary file for the {what}: short read at {offset + got}")


def _read_at(fh, offset: int, length: int, what: str) -> bytes:
    out = bytearray(length)
    _readinto_at(fh, offset, memoryview(out), what)
    return bytes(out)


class SpilledBytes:
    """``size`` bytes, zero until written, in an unnamed temporary file."""

    def __init__(self, size: int, what: str) -> None:
        self.size = size
        self.what = what
        self._fh = _temporary_file(what)
        try:
            os.ftruncate(self._fh.fileno(), size)
        except OSError as exc:
            raise _error(what, exc) from None

    def __len__(self) -> int:
        return self.size

    def write_at(self, offset: int, data: bytes) -> None:
        _write_at(self._fh, offset, data, self.what)

    def read(self, offset: int, length: int) -> bytes:
        return _read_at(self._fh, offset, length, self.what)

    def readinto(self, offset: int, view: memoryview) -> None:
        _readinto_at(self._fh, offset, view, self.what)

    def chunks(self) -> Iterator[bytes]:
        for pos in range(0, self.size, _WINDOW):
            yield self.read(pos, min(_WINDOW, self.size - pos))


class ForkStore:
    """Forks made while the tree is walked (the resource forks of HFS+
    compressed files), each written once into one unnamed temporary file
    and read back by (offset, size): the writer holds none of their bytes.
    ``FileData(store=..., offset=..., size=...)`` names one."""

    def __init__(self, what: str = "compressed resource forks", in_memory: bool = False) -> None:
        self.what = what
        self.end = 0
        self._fh = io.BytesIO() if in_memory else None

    def reserve(self, size: int) -> int:
        """Room for ``size`` bytes at the end; returns where it starts."""
        offset = self.end
        self.end += size
        return offset

    def release(self, offset: int) -> None:
        """Give back everything from ``offset`` on (a fork that was not kept)."""
        self.end = offset

    def write_at(self, offset: int, data: bytes | bytearray) -> None:
        if self._fh is None:
            self._fh = _temporary_file(self.what)
        _write_at(self._fh, offset, data, self.what)

    def readinto(self, offset: int, view: memoryview) -> None:
        if len(view):
            _readinto_at(self._fh, offset, view, self.what)

    def read(self, offset: int, length: int) -> bytes:
        out = bytearray(length)
        self.readinto(offset, memoryview(out))
        return bytes(out)


# A spilled record: its length, then ``marshal`` of what ``encode`` made of it.
_FRAME = struct.Struct(">I")
_OFFSET = struct.Struct("<Q")


class SpilledRecords(Generic[T]):
    """An append-only list whose first ``hold`` records are kept as they are
    and the rest, once encoded (``encode`` gives what ``marshal`` can store,
    ``decode`` gives the record back; records ``marshal`` stores as they are
    need neither), in an unnamed temporary file, with
    each one's offset in a second: memory stays the same however many are
    appended.  A record is not to be changed once appended (a spilled one
    would not see the change)."""

    def __init__(self, what: str, encode: Callable[[T], Any] | None = None,
                 decode: Callable[[Any], T] | None = None, hold: int | None = None) -> None:
        self.what = what
        self._encode, self._decode = encode or _same, decode or _same
        self._hold = SPILL_RECORDS if hold is None else hold
        self._held: list[T] = []
        self._count = 0
        self._data = self._index = None
        self._data_end = 0                  # bytes in the data file, pending included
        self._pending = bytearray()
        self._pending_offsets = array("Q")

    def __len__(self) -> int:
        return self._count

    @property
    def spilled(self) -> bool:
        return self._data is not None

    def append(self, record: T) -> None:
        self._count += 1
        if len(self._held) < self._hold:
            self._held.append(record)
            return
        if self._data is None:
            self._data, self._index = _temporary_file(self.what), _temporary_file(self.what)
        body = marshal.dumps(self._encode(record))
        self._pending_offsets.append(self._data_end)
        self._pending += _FRAME.pack(len(body))
        self._pending += body
        self._data_end += _FRAME.size + len(body)
        if len(self._pending) >= _WINDOW:
            self._flush()

    def _flush(self) -> None:
        if not self._pending_offsets:
            return
        first = self._count - len(self._held) - len(self._pending_offsets)
        _write_at(self._data, self._data_end - len(self._pending), self._pending, self.what)
        _write_at(self._index, first * _OFFSET.size,
                  struct.pack(f"<{len(self._pending_offsets)}Q", *self._pending_offsets),
                  self.what)
        self._pending = bytearray()
        self._pending_offsets = array("Q")

    def _offset(self, i: int) -> int:
        """Where spilled record ``i`` (counted from the first spilled) starts."""
        if i == self._count - len(self._held):
            return self._data_end
        return _OFFSET.unpack(_read_at(self._index, i * _OFFSET.size, _OFFSET.size, self.what))[0]

    def __getitem__(self, i: int) -> T:
        if not 0 <= i < self._count:
            raise IndexError(i)
        return next(self.iter_range(i, i + 1))

    def __iter__(self) -> Iterator[T]:
        return self.iter_range(0, self._count)

    def iter_range(self, start: int, stop: int, window: int | None = None) -> Iterator[T]:
        """Records ``start`` to ``stop`` - 1, the spilled ones read ``window``
        (``_WINDOW``) bytes at a time.  Several may be iterated at once."""
        window = _WINDOW if window is None else window
        stop = min(stop, self._count)
        held = len(self._held)
        for i in range(start, min(stop, held)):
            yield self._held[i]
        if stop <= held:
            return
        self._flush()
        pos, end = self._offset(max(start, held) - held), self._offset(stop - held)
        buf, at = b"", 0
        decode, loads, frame = self._decode, marshal.loads, _FRAME.unpack_from
        while True:
            size = len(buf)
            while at + 4 <= size:
                body = at + 4 + frame(buf, at)[0]
                if body > size:
                    break
                yield decode(loads(buf[at + 4:body]))
                at = body
            if pos >= end:
                if at != size:
                    raise InputError(f"temporary file for the {self.what}: record cut short "
                                     f"at {pos}")
                return
            need = 4 if size - at < 4 else 4 + frame(buf, at)[0]
            more = _read_at(self._data, pos, min(max(window, need - (size - at)), end - pos),
                            self.what)
            buf, at = buf[at:] + more, 0
            pos += len(more)


# For readers of which many are open at once: each sorted run while runs
# are merged (a million names in 50 runs hold ~3 MiB of windows), the
# writer's reads of a wide folder's subfolders.
SMALL_WINDOW = 64 << 10


def sorted_spilled(items: Iterable[T], what: str, run: int | None = None) -> Iterable[T]:
    """``items`` (tuples ``marshal`` can store), all read before this returns,
    sorted: a list when there are at most ``run`` (``SPILL_RECORDS``) of
    them, else an iterator merging sorted runs of ``run`` parked in an
    unnamed temporary file, so memory does not grow with how many there are."""
    run = max(1, SPILL_RECORDS if run is None else run)
    items = iter(items)
    batch = sorted(itertools.islice(items, run))
    if len(batch) < run:
        return batch
    runs: SpilledRecords[T] = SpilledRecords(what, hold=0)
    bounds = [0]
    while batch:
        for item in batch:
            runs.append(item)
        bounds.append(len(runs))
        batch = sorted(itertools.islice(items, run))
    return heapq.merge(*(runs.iter_range(start, stop, SMALL_WINDOW)
                         for start, stop in zip(bounds, bounds[1:])))


def _same(record: T) -> T:
    return record


class SpilledTable:
    """Fixed-size records (``struct`` format ``fmt``) by index, all zeros
    until set: a bytearray while it holds fewer than ``hold`` records, then
    an unnamed temporary file read and written in place."""

    def __init__(self, what: str, fmt: str, hold: int | None = None) -> None:
        self.what = what
        self._struct = struct.Struct(fmt)
        self._hold = SPILL_RECORDS if hold is None else hold
        self._held = bytearray()
        self._file = None
        self._end = 0                       # bytes set so far, held or in the file

    @property
    def spilled(self) -> bool:
        return self._file is not None

    def __getitem__(self, i: int) -> tuple:
        size = self._struct.size
        if (i + 1) * size > self._end:
            return self._struct.unpack(bytes(size))      # never set
        if self._file is None:
            return self._struct.unpack_from(self._held, i * size)
        return self._struct.unpack(_read_at(self._file, i * size, size, self.what))

    def range(self, start: int, stop: int) -> "TableRange":
        """Records ``start`` to ``stop`` - 1, read at once."""
        size = self._struct.size
        end = min(stop * size, max(self._end, start * size))
        if self._file is None:
            raw = bytes(self._held[start * size:end])
        else:
            raw = _read_at(self._file, start * size, end - start * size, self.what)
        raw += bytes(stop * size - start * size - len(raw))         # never set: zeros
        return TableRange(self._struct, raw)

    def __setitem__(self, i: int, values: tuple) -> None:
        size = self._struct.size
        if self._file is None and i >= self._hold:
            self._file = _temporary_file(self.what)
            _write_at(self._file, 0, self._held, self.what)
            self._held = bytearray()
        if self._file is None:
            if (i + 1) * size > len(self._held):
                self._held.extend(bytes((i + 1) * size - len(self._held)))
            self._struct.pack_into(self._held, i * size, *values)
        else:
            _write_at(self._file, i * size, self._struct.pack(*values), self.what)
        self._end = max(self._end, (i + 1) * size)


class TableRange:
    """Records read at once from a ``SpilledTable``, unpacked when asked for."""

    def __init__(self, record: struct.Struct, raw: bytes) -> None:
        self._record, self._raw = record, raw

    def __len__(self) -> int:
        return len(self._raw) // self._record.size

    def __getitem__(self, i: int) -> tuple:
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._record.unpack_from(self._raw, i * self._record.size)
