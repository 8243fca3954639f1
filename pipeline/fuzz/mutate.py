"""Mutations of a byte string, chosen by a seeded ``random.Random``."""

from __future__ import annotations

import random
import struct

_INTERESTING_32 = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                   0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE)
_INTERESTING_64 = (0, 1 << 32, 1 << 40, 1 << 62, (1 << 63) - 1, 1 << 63, (1 << 64) - 1)


def mutate(data: bytes, rng: random.Random, *, hot: int | None = None) -> bytes:
    """One to eight mutations of ``data``; ``hot`` bytes at the start are
    chosen more often (headers live there)."""
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        if not out:
            out += bytes(rng.randrange(1, 64))
        n = len(out)
        limit = min(n, hot) if hot and rng.random() < 0.6 else n
        at = rng.randrange(limit)
        kind = rng.random()
        if kind < 0.3:
            out[at] ^= 1 << rng.randrange(8)
        elif kind < 0.45:
            out[at] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        elif kind < 0.65 and at + 4 <= n:
            struct.pack_into(rng.choice((">I", "<I")), out, at, rng.choice(_INTERESTING_32))
        elif kind < 0.75 and at + 8 <= n:
            struct.pack_into(rng.choice((">Q", "<Q")), out, at, rng.choice(_INTERESTING_64))
        elif kind < 0.82:
            del out[rng.randrange(n):]
        elif kind < 0.9:
            end = min(n, at + rng.randrange(1, 512))
            out[at:at] = out[at:end]
        else:
            end = min(n, at + rng.randrange(1, 512))
            del out[at:end]
    return bytes(out)
