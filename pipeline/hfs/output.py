"""A built HFS+ volume's bytes: the segments the writer laid out, read at
any offset (an ``ImageSource``), streamed, or written to a file with holes
where nothing was written."""

from __future__ import annotations

import bisect
import errno
import io
import os
import stat
from array import array
from typing import IO, TYPE_CHECKING, Iterator

from ..errors import InputError
from .spill import ForkStore, SpilledBytes, SpilledRecords
from .structs import VolumeHeader
from .tree import FileData

if TYPE_CHECKING:
    from ..progress import ProgressCallback

# What a segment of a volume holds: metadata in memory or spilled to a
# temporary file (a large B-tree), or a fork's data.
Payload = bytes | bytearray | SpilledBytes | FileData

_COPY_CHUNK = 1 << 20
_ZERO_WINDOW = bytes(_COPY_CHUNK)
_ZERO_VIEW = memoryview(_ZERO_WINDOW)


Segment = tuple[int, Payload]


class SegmentTable:
    """A volume's segments by offset: the metadata's held, the forks' (one
    per file) in ``SpilledRecords``, so a million files' list is not held;
    every ``SAMPLE``-th fork's offset is kept to find one by offset.  The
    forks are added first, in offset order, then the metadata, which lies
    before or after all of them."""

    SAMPLE = 16

    def __init__(self, store: ForkStore | None = None) -> None:
        self._head: list[Segment] = []
        self._tail: list[Segment] = []
        # ``store``: where the writer put the forks it made (compressed files').
        self._forks: SpilledRecords[tuple[int, FileData]] = SpilledRecords(
            "volume's list of forks", lambda seg: (seg[0], seg[1].to_record()),
            lambda rec: (rec[0], FileData.from_record(rec[1], store)))
        self._sample = array("Q")
        self._forks_end = 0

    def __len__(self) -> int:
        return len(self._head) + len(self._forks) + len(self._tail)

    def add_fork(self, start: int, fork: FileData) -> None:
        if start < self._forks_end or self._head or self._tail:
            raise ValueError(f"fork at {start}: forks come first, in offset order")
        if len(self._forks) % self.SAMPLE == 0:
            self._sample.append(start)
        self._forks.append((start, fork))
        self._forks_end = start + fork.size

    def add_metadata(self, start: int, payload: bytes | bytearray | SpilledBytes) -> None:
        if not self._sample or start + len(payload) <= self._sample[0]:
            side = self._head
        elif start >= self._forks_end:
            side = self._tail
        else:
            raise ValueError(f"metadata at {start} falls among the forks")
        bisect.insort(side, (start, payload), key=lambda seg: seg[0])

    def __iter__(self) -> Iterator[Segment]:
        return self.iter_from(0)

    def iter_from(self, offset: int) -> Iterator[Segment]:
        """The segments in offset order from the one holding ``offset`` or
        a few before it (callers skip those that end before it)."""
        head = max(0, bisect.bisect_right(self._head, offset, key=lambda seg: seg[0]) - 1)
        yield from self._head[head:]
        block = max(0, bisect.bisect_right(self._sample, offset) - 1)
        yield from self._forks.iter_range(block * self.SAMPLE, len(self._forks))
        yield from self._tail


class HFSVolume:
    """A built volume: ``size`` and ``read(offset, length)`` (an ImageSource),
    ``free_ranges()`` (what the allocation bitmap marks free, so the UDIF
    writer need not parse the volume it was just handed), and
    ``write_to(fileobj)`` to stream it out.

    Metadata is held in memory (a catalog or attributes B-tree over 32 MiB,
    and the list of forks past ``spill.SPILL_RECORDS``, in temporary
    files); file data is read from its source on demand.
    """

    def __init__(self, size: int, segments: SegmentTable,
                 header: VolumeHeader, stats: dict,
                 free: list[tuple[int, int]]) -> None:
        self.size = size
        self._segments = segments              # sorted, non-overlapping (offset, payload)
        self.header = header
        self.stats = stats
        self._free = free

    def free_ranges(self) -> list[tuple[int, int]]:
        """Sorted (byte offset, byte length) runs of free allocation blocks."""
        return list(self._free)

    @staticmethod
    def _length(payload: Payload) -> int:
        return len(payload) if isinstance(payload, (bytes, bytearray)) else payload.size

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise InputError(f"HFS volume: read of {length} bytes at {offset} past the end "
                             f"({self.size})")
        end = offset + length
        out = None
        for start, payload in self._segments.iter_from(offset):
            if start >= end:
                break
            seg_len = self._length(payload)
            if out is None and start <= offset and end <= start + seg_len:
                # A window inside one segment (a large file's data): read it
                # as it is, without assembling a copy.
                return _payload_slice(payload, offset - start, length)
            lo, hi = max(start, offset), min(start + seg_len, end)
            if lo < hi:
                if out is None:
                    out = bytearray(length)
                    view = memoryview(out)
                _payload_into(payload, lo - start, view[lo - offset:hi - offset])
        return bytes(out) if out is not None else bytes(length)

    def write_to(self, fileobj: IO[bytes], progress: ProgressCallback | None = None) -> None:
        """Stream the whole volume into ``fileobj`` (sparse when it is a file)."""
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress("hfs: writing volume", done, self.size)
        try:
            fd = fileobj.fileno()
            regular = stat.S_ISREG(os.fstat(fd).st_mode) and fileobj.seekable()
        except (AttributeError, OSError, io.UnsupportedOperation):
            regular = False
        if regular:
            fileobj.flush()
            base = fileobj.tell()
            os.ftruncate(fd, base)        # holes must read as zeros
            for start, payload in self._segments:
                _write_payload_at(fd, base + start, payload)
                advance(self._length(payload))
            os.ftruncate(fd, base + self.size)
            fileobj.seek(base + self.size)
        else:
            pos = 0
            for start, payload in self._segments:
                _write_zeros(fileobj, start - pos)
                _write_payload_stream(fileobj, payload)
                pos = start + self._length(payload)
                advance(self._length(payload))
            _write_zeros(fileobj, self.size - pos)


def _payload_slice(payload: Payload, offset: int, length: int) -> bytes:
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload[offset:offset + length])
    if isinstance(payload, SpilledBytes):
        return payload.read(offset, length)
    if payload.data is not None:
        return payload.data[offset:offset + length]
    if payload.store is not None:
        return payload.store.read(payload.offset + offset, length)
    try:
        with open(payload.path, "rb") as fh:
            if _hole_end(fh.fileno(), offset, offset + length, payload.path) == offset + length:
                return _ZERO_WINDOW if length == _COPY_CHUNK else bytes(length)
            fh.seek(offset)
            data = fh.read(length)
    except OSError as exc:
        raise InputError(f"{payload.path}: cannot read: {exc.strerror}") from None
    if len(data) != length:
        raise InputError(f"{payload.path}: file shrank while the volume was being written")
    return data


def _hole_end(fd: int, offset: int, end: int, path: str) -> int:
    """Where the hole at ``offset`` ends, clipped to ``end`` (``offset``
    itself when there is data there).  Reading a hole costs as much as
    reading data (the kernel fills page-cache pages with zeros); asking
    costs one lseek, and a mostly sparse input is read at memory speed."""
    try:
        data = os.lseek(fd, offset, os.SEEK_DATA)
    except OSError as exc:
        if exc.errno != errno.ENXIO:
            return offset               # no SEEK_DATA here: read it all
        data = end                      # no data after offset: a hole to EOF
    if min(data, end) > offset and os.fstat(fd).st_size < end:
        raise InputError(f"{path}: file shrank while the volume was being written")
    return min(data, end)


def _payload_into(payload: Payload, offset: int, view: memoryview) -> None:
    """Fill ``view`` with the payload's bytes from ``offset`` (file data is
    read straight into it)."""
    if isinstance(payload, SpilledBytes):
        payload.readinto(offset, view)
        return
    if isinstance(payload, (bytes, bytearray)) or payload.data is not None:
        view[:] = _payload_slice(payload, offset, len(view))
        return
    if payload.store is not None:
        payload.store.readinto(payload.offset + offset, view)
        return
    try:
        with open(payload.path, "rb", buffering=0) as fh:
            if _hole_end(fh.fileno(), offset, offset + len(view), payload.path) == \
                    offset + len(view):
                view[:] = _ZERO_WINDOW[:len(view)] if len(view) <= _COPY_CHUNK else \
                    bytes(len(view))
                return
            fh.seek(offset)
            got = 0
            while got < len(view):
                n = fh.readinto(view[got:])
                if not n:
                    break
                got += n
    except OSError as exc:
        raise InputError(f"{payload.path}: cannot read: {exc.strerror}") from None
    if got != len(view):
        raise InputError(f"{payload.path}: file shrank while the volume was being written")


def _write_zeros(fileobj: IO[bytes], n: int) -> None:
    zeros = bytes(min(n, _COPY_CHUNK))
    while n > 0:
        k = min(n, len(zeros))
        fileobj.write(zeros[:k])
        n -= k


def _write_payload_stream(fileobj: IO[bytes], payload: Payload) -> None:
    if isinstance(payload, (bytes, bytearray)):
        fileobj.write(payload)
        return
    if isinstance(payload, SpilledBytes):
        for chunk in payload.chunks():
            fileobj.write(chunk)
        return
    if payload.data is not None:
        fileobj.write(payload.data)
        return
    for chunk in file_chunks(payload):
        fileobj.write(chunk)


def file_chunks(payload: FileData) -> Iterator[bytes | memoryview]:
    """The ``payload.size`` bytes of a file on disk, in chunks of at most 1 MiB.

    The size was taken when the tree was scanned; a file that has shrunk
    since would leave stale bytes in the volume, so it is an error.  A fork
    the writer made (in its ``ForkStore``) is read from there.
    """
    size, pos = payload.size, 0
    if payload.store is not None:
        for pos in range(0, size, _COPY_CHUNK):
            yield payload.store.read(payload.offset + pos, min(_COPY_CHUNK, size - pos))
        return
    try:
        with open(payload.path, "rb") as fh:
            while pos < size:
                n = min(_COPY_CHUNK, size - pos)
                hole = _hole_end(fh.fileno(), pos, pos + n, payload.path) - pos
                if hole:
                    pos += hole
                    yield _ZERO_VIEW[:hole]     # holes are not read
                    continue
                fh.seek(pos)
                chunk = fh.read(n)
                if not chunk:
                    break
                pos += len(chunk)
                yield chunk
    except OSError as exc:
        raise InputError(f"{payload.path}: cannot read: {exc.strerror}") from None
    if pos < size:
        raise InputError(f"{payload.path}: file shrank while the volume was being written")


def _write_payload_at(fd: int, offset: int, payload: Payload) -> None:
    if isinstance(payload, SpilledBytes):
        for chunk in payload.chunks():
            _write_payload_at(fd, offset, chunk)
            offset += len(chunk)
        return
    if isinstance(payload, (bytes, bytearray)) or payload.data is not None:
        data = payload if isinstance(payload, (bytes, bytearray)) else payload.data
        view = memoryview(data)
        while view:
            n = os.pwrite(fd, view, offset)
            view, offset = view[n:], offset + n
        return
    if payload.store is not None:
        for chunk in file_chunks(payload):
            _write_payload_at(fd, offset, chunk)
            offset += len(chunk)
        return
    remaining = payload.size
    src_off = 0
    try:
        src = os.open(payload.path, os.O_RDONLY)
    except OSError as exc:
        raise InputError(f"{payload.path}: cannot read: {exc.strerror}") from None
    try:
        use_cfr = hasattr(os, "copy_file_range")
        while remaining > 0:
            n = 0
            if use_cfr:
                try:
                    n = os.copy_file_range(src, fd, min(remaining, 1 << 30), src_off, offset)
                except OSError:
                    use_cfr = False
                    continue
            else:
                chunk = os.pread(src, min(_COPY_CHUNK, remaining), src_off)
                n = len(chunk)
                view = memoryview(chunk)
                o = offset
                while view:
                    w = os.pwrite(fd, view, o)
                    view, o = view[w:], o + w
            if n == 0:
                raise InputError(f"{payload.path}: file shrank while the volume was being written")
            remaining -= n
            src_off += n
            offset += n
    finally:
        os.close(src)
