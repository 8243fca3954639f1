"""An in-memory ImageSource for the HFS+ tests.

``read`` asserts that every read stays inside the data: a reader that
trusted an offset from a damaged volume would fail the test, not read
past the end silently.
"""

from __future__ import annotations


class BytesSource:
    def __init__(self, data: bytes | bytearray) -> None:
        self.data = bytes(data)
        self.size = len(self.data)

    def read(self, offset: int, length: int) -> bytes:
        assert 0 <= offset and 0 <= length and offset + length <= self.size, (offset, length)
        return self.data[offset:offset + length]
