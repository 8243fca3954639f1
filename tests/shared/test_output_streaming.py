"""Long listings are printed as they are read, byte for byte as the held
output would be (`dmg ls`, `hfs ls`: a million-file volume must not be held
in memory to be listed)."""

from __future__ import annotations

import pytest

from pipeline.cli.output import emit_json, emit_json_streaming, emit_lines


def _entries(n: int) -> list[dict]:
    return [{"path": f"dir/ü{i}", "size": i, "xattrs": {"k": [1, 2]} if i % 2 else {},
             "kind": "file"} for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7])
def test_streamed_json_is_the_held_json(capsys, n):
    head = {"image": "x.dmg", "volume_name": "V", "zeta": None}
    emit_json({**head, "entries": _entries(n)})
    held = capsys.readouterr().out
    emit_json_streaming(head, "entries", iter(_entries(n)), hold=2)
    assert capsys.readouterr().out == held


def test_streamed_lines_are_the_held_lines(capsys):
    lines = [f"line {i}\n" for i in range(5)]
    emit_lines(iter(lines), hold=2)
    assert capsys.readouterr().out == "".join(lines)


def test_a_short_listing_that_fails_prints_nothing(capsys):
    def entries():
        yield {"path": "a"}
        raise ValueError("damaged")
    with pytest.raises(ValueError):
        emit_json_streaming({"image": "x"}, "entries", entries(), hold=10)
    assert capsys.readouterr().out == ""
