"""Reading a disk stored in fixed-size pieces (sparse bands, encrypted
blocks): one loop, each piece asked for what of it a read covers."""

from __future__ import annotations

from typing import Callable

from ..errors import CorruptError


def read_in_pieces(offset: int, length: int, size: int, piece_size: int,
                   read_piece: Callable[[int, int, int], bytes], path: str, what: str) -> bytes:
    """``length`` bytes at ``offset`` of a ``size``-byte disk;
    ``read_piece(index, within, count)`` gives ``count`` bytes of piece
    ``index`` from ``within`` (fewer: the rest reads as zeros)."""
    if offset < 0 or length < 0 or offset + length > size:
        raise CorruptError(path, what, f"{length} bytes at {offset} run past its {size} bytes",
                           offset)
    out = bytearray()
    pos = offset
    while pos < offset + length:
        index, within = divmod(pos, piece_size)
        take = min(piece_size - within, offset + length - pos)
        data = read_piece(index, within, take)
        out += data + bytes(take - len(data))
        pos += take
    return bytes(out)
