"""Signing, detaching, re-attaching and verifying stream the binary: peak
memory does not grow with its size (issue 18: a 258 MiB binary used to be
held several times, 573-579 MB RSS).

Each command's peak RSS is read with wait4, the command running as the
grandchild of a small process (``bench.sdk.measure_command``); the
benchmark's app (``bench.sig.make_app``) with 2 x 96 MiB of section data is
compared with the same app around a binary of a few KiB.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
from pathlib import Path

from pipeline.bench.sdk import measure_command
from pipeline.bench.sig import make_app


BIG_SECTION = 96 << 20
LIMIT = 150 << 20          # the bound for any binary size
GROWTH = 40 << 20          # big app minus tiny app


def _peak_rss(*args: str) -> int:
    # As the grandchild of a small process (see measure_command): this test
    # process may hold hundreds of MB from earlier tests, which Linux would
    # count in a direct child's peak RSS.
    status, _seconds, rss_kb, _out = measure_command([sys.executable, "-m", "pipeline", *args])
    assert status == 0, args
    return rss_kb * 1024


def _measure(root: Path, section: int) -> dict[str, int]:
    unsigned = make_app(root, section)           # the benchmark's app, smaller
    signed = root / "signed" / unsigned.name
    shutil.copytree(unsigned, signed)
    rss = {"sign": _peak_rss("sig", "sign", "--adhoc", str(signed)),
           "verify": _peak_rss("sig", "verify", str(signed)),
           "detach": _peak_rss("sig", "detach", str(signed), "-o", str(root / "sig.tar"))}
    out = root / "applied.app"
    rss["apply"] = _peak_rss("sig", "apply", str(unsigned), str(root / "sig.tar"), "-o", str(out))
    # The recombined binary is the signed one, byte for byte.
    assert filecmp.cmp(out / "Contents/MacOS/Big", signed / "Contents/MacOS/Big", shallow=False)
    assert (signed / "Contents/MacOS/Big").stat().st_size > 2 * section
    return rss


def test_signing_memory_does_not_grow_with_the_binary(tmp_path):
    tiny = _measure(tmp_path / "tiny", 4096)
    big = _measure(tmp_path / "big", BIG_SECTION)
    for step in ("sign", "verify", "detach", "apply"):
        assert big[step] < LIMIT, (step, big[step] >> 20)
        assert big[step] - tiny[step] < GROWTH, (step, tiny[step] >> 20, big[step] >> 20)
