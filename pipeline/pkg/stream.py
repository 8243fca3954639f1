"""A readable stream over a generator of byte chunks, for stacking decoders
(xar member -> pbzx -> cpio) without holding more than a chunk at a time."""

from __future__ import annotations

from typing import Iterable, Iterator


class ChunkStream:
    """``read(n)`` over an iterable of ``bytes``; ``position`` counts bytes read."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = b""
        self._offset = 0
        self.position = 0

    def read(self, n: int = -1) -> bytes:
        parts = []
        want = n
        while want < 0 or want > 0:
            if self._offset >= len(self._buffer):
                self._offset = 0
                self._buffer = b""
                for chunk in self._chunks:       # empty chunks are not the end
                    if chunk:
                        self._buffer = chunk
                        break
                if not self._buffer:
                    break
            take = len(self._buffer) - self._offset if want < 0 else \
                min(want, len(self._buffer) - self._offset)
            parts.append(self._buffer[self._offset:self._offset + take])
            self._offset += take
            if want > 0:
                want -= take
        data = b"".join(parts)
        self.position += len(data)
        return data

    def skip(self, n: int) -> int:
        """Discard up to ``n`` bytes without joining them; returns how many."""
        done = 0
        while done < n:
            piece = self.read(min(n - done, 1 << 20))
            if not piece:
                break
            done += len(piece)
        return done
