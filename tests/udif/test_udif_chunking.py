"""The chunk planner: every sector lands in exactly one chunk; data chunks
hold at most 2048 sectors; zero runs of MIN_ZERO_RUN sectors or more become
zero-fill chunks; free ranges become ignore chunks; and the whole-window
fast path plans exactly what the sector-by-sector scan plans."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import pipeline.udif.writer as writer
from pipeline.udif.mish import CHUNK_IGNORE, CHUNK_RAW, CHUNK_SECTORS, CHUNK_ZERO
from pipeline.udif.partitions import BytesSource

SECTOR = 512

# A volume is a list of runs: (kind, sectors); kind 0 = zeros, 1 = data.
runs = st.lists(st.tuples(st.sampled_from([0, 1]),
                          st.sampled_from([1, 3, 63, 64, 65, 700, 2047, 2048, 2049, 3000])),
                min_size=1, max_size=8)


def build(spec) -> bytes:
    out = bytearray()
    for i, (kind, n) in enumerate(spec):
        if kind:
            out += bytes([(i * 37 + k) % 251 + 1 for k in range(SECTOR)]) * n
        else:
            out += bytes(n * SECTOR)
    return bytes(out)


def plan(data: bytes, free=None):
    return [(t, s, n, d) for t, s, n, d in
            writer.plan_chunks(BytesSource(data), len(data) // SECTOR, free)]


def expand(chunks, total: int) -> bytes:
    out = bytearray(total * SECTOR)
    pos = 0
    for t, s, n, d in chunks:
        assert s == pos, "chunks are contiguous and in order"
        if t == CHUNK_RAW:
            assert len(d) == n * SECTOR and n <= CHUNK_SECTORS
            out[s * SECTOR:(s + n) * SECTOR] = d
        else:
            assert d is None and t in (CHUNK_ZERO, CHUNK_IGNORE)
        pos = s + n
    assert pos == total
    return bytes(out)


@settings(max_examples=60, deadline=None)
@given(runs, st.lists(st.tuples(st.integers(0, 20000), st.integers(0, 9000)), max_size=3))
def test_plan_covers_every_sector_once(spec, free_sectors):
    data = build(spec)
    total = len(data) // SECTOR
    free = [(s * SECTOR, n * SECTOR) for s, n in free_sectors]
    chunks = plan(data, free)
    expanded = expand(chunks, total)
    ignored = bytearray(data)
    for t, s, n, _ in chunks:
        if t == CHUNK_IGNORE:
            ignored[s * SECTOR:(s + n) * SECTOR] = bytes(n * SECTOR)
    assert expanded == bytes(ignored)
    merged = []
    for s, n in sorted((s, min(s + n, total)) for s, n in free_sectors):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], n)
        elif n > s:
            merged.append([s, n])
    free_set = {x for s, e in merged for x in range(s, e)}
    assert {x for t, s, n, _ in chunks if t == CHUNK_IGNORE for x in range(s, s + n)} == free_set
    for t, s, n, d in chunks:
        if t == CHUNK_ZERO:
            assert n <= CHUNK_SECTORS
    # No zero run of MIN_ZERO_RUN sectors is left inside a data chunk.
    for t, s, n, d in chunks:
        if t == CHUNK_RAW:
            assert _aligned_zero_run(d) < writer.MIN_ZERO_RUN


def _aligned_zero_run(d: bytes) -> int:
    best = cur = 0
    zero = bytes(SECTOR)
    for i in range(0, len(d), SECTOR):
        cur = cur + 1 if d[i:i + SECTOR] == zero else 0
        best = max(best, cur)
    return best


@settings(max_examples=60, deadline=None)
@given(runs)
def test_fast_path_plans_what_the_sector_scan_plans(spec):
    data = build(spec)
    fast = plan(data)
    saved = writer._MIN_ZERO_BYTES
    try:
        writer._MIN_ZERO_BYTES = b""        # find() always hits: every window is scanned
        slow = plan(data)
    finally:
        writer._MIN_ZERO_BYTES = saved
    assert fast == slow


def test_zero_run_threshold():
    data = build([(1, 10), (0, writer.MIN_ZERO_RUN - 1), (1, 10), (0, writer.MIN_ZERO_RUN),
                  (1, 10)])
    kinds = [(t, n) for t, _, n, _ in plan(data)]
    assert kinds == [(CHUNK_RAW, 20 + writer.MIN_ZERO_RUN - 1), (CHUNK_ZERO, writer.MIN_ZERO_RUN),
                     (CHUNK_RAW, 10)]
