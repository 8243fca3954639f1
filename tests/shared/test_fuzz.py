"""The seeded mutation fuzzer (issue 18 §1), bounded for CI: a few thousand
cases per reader (UDIF, HFS+ ours and one macOS filled, sparse and
encrypted containers, Mach-O ours and a universal one codesign signed,
signature tarballs, CodeResources, xar, appdmg specs), each either read or
refused with the project's own error; the long run is `python -m
pipeline.fuzz --minutes N`."""

from __future__ import annotations

import random

from pipeline.fuzz import mutate, run
from pipeline.fuzz.targets import TARGETS


def test_bounded_fuzz_run_finds_no_failure():
    report = run(seed=20261205, cases_per_target=2500)
    data = report.to_json()
    assert data["total_cases"] == 2500 * len(TARGETS)
    assert data["failures"] == [], data["failures"]
    # The mutations reach the readers' checks: most cases are refused,
    # some still read.
    assert 0 < sum(data["project_errors"].values()) < data["total_cases"]


def test_the_fuzzer_can_fail():
    # A target that crashes on some mutations is reported, grouped by place.
    from pipeline.fuzz import run as run_module
    from pipeline.fuzz.targets import Target

    def fragile(data: bytes, path) -> None:
        if data[:1] != b"{":
            raise KeyError("boom")

    TARGETS["fragile"] = Target("fragile", lambda p: b"{}", fragile)
    try:
        report = run_module(seed=1, cases_per_target=50, targets=["fragile"])
    finally:
        del TARGETS["fragile"]
    assert not report.ok
    (failure,) = report.failures.values()
    assert failure.key.startswith("KeyError at test_fuzz.py:")


def test_mutations_are_seeded():
    data = bytes(range(256)) * 4
    a = [mutate(data, random.Random(5)) for _ in range(3)]
    b = [mutate(data, random.Random(5)) for _ in range(3)]
    assert a == b and any(x != data for x in a)


def test_the_extraction_target_sees_writes_beside_the_destination(tmp_path, monkeypatch):
    import importlib
    import pytest
    from pipeline.fuzz.targets import EscapedDestination
    extract_module = importlib.import_module("pipeline.hfs.extract")

    target = TARGETS["hfs-extract"]
    seed = target.make_seed(tmp_path / "seed")
    target.run(seed, tmp_path / "case")          # the valid volume extracts cleanly

    def escaping(reader, dest, **kwargs):
        (dest.parent / "escaped").write_bytes(b"x")
    monkeypatch.setattr(extract_module, "extract", escaping)
    with pytest.raises(EscapedDestination, match="escaped"):
        target.run(seed, tmp_path / "case")
    assert not (tmp_path / "case.sandbox").exists()
