"""`reprodmg verify --against SHA256SUMS` (issue 15 §2): same bytes, missing,
different, and "only the encoding differs" (the same volume compressed at
another level stands for another zlib implementation), each with its exit
code; the codec implementations come from both build manifests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO
from pipeline.diff.published import EXIT_DIFFERENT, EXIT_ENCODING_ONLY, EXIT_SAME, check_against
from pipeline.jsonfile import sha256_file

ENV = {**os.environ, "REPRODMG_PROGRESS": "0"}


def _dmg(src: Path, out: Path, *extra: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "dmg", "create", str(src), "-o",
                           str(out), "--json", *extra], check=True, capture_output=True,
                          text=True, cwd=REPO, env=ENV)
    return json.loads(proc.stdout)


def _release(folder: Path, dmg: Path, udif: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SHA256SUMS").write_text(f"{sha256_file(dmg)}  {dmg.name}\n")
    (folder / "build-manifest.json").write_text(json.dumps({"images": {dmg.name: {"udif": udif}}}))


@pytest.fixture
def published(tmp_path):
    src = tmp_path / "Vol"
    (src / "A.app/Contents").mkdir(parents=True)
    (src / "A.app/Contents/Info.plist").write_text("<plist/>\n" * 200)
    pub = tmp_path / "published"
    pub.mkdir()
    udif = _dmg(src, pub / "X.dmg")
    udif = udif.get("manifest", udif)
    _release(pub, pub / "X.dmg", udif)
    return src, pub


def _udif_of(result: dict) -> dict:
    return result.get("manifest", result)


def test_same_missing_different_and_encoding_only(published, tmp_path):
    src, pub = published
    assert check_against(pub / "SHA256SUMS", pub).exit_code == EXIT_SAME
    local = tmp_path / "local"
    local.mkdir()
    report = check_against(pub / "SHA256SUMS", local)
    assert (report.exit_code, report.artifacts[0].status) == (EXIT_DIFFERENT, "missing")
    # Same volume, other compression level: another encoder's bytes.
    _release(local, local / "X.dmg", _udif_of(_dmg(src, local / "X.dmg", "--level", "9")))
    report = check_against(pub / "SHA256SUMS", local)
    a = report.artifacts[0]
    assert (report.exit_code, a.status) == (EXIT_ENCODING_ONLY, "encoding only"), a.detail
    assert "expanded volume is identical" in a.detail and "libdeflate" in a.detail
    # Other content: different, and said to be more than the encoding.
    (src / "A.app/Contents/Info.plist").write_text("<plist>changed</plist>\n")
    _dmg(src, local / "X.dmg")
    report = check_against(pub / "SHA256SUMS", local)
    assert (report.exit_code, report.artifacts[0].status) == (EXIT_DIFFERENT, "different")
    assert "expanded volume differs too" in report.artifacts[0].detail


def test_command_line(published, tmp_path):
    src, pub = published
    local = tmp_path / "l"
    local.mkdir()
    _dmg(src, local / "X.dmg", "--level", "9")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "verify", "--against",
                           str(pub / "SHA256SUMS"), str(local)], capture_output=True, text=True,
                          cwd=REPO, env=ENV)
    assert proc.returncode == EXIT_ENCODING_ONLY and "X.dmg: encoding only" in proc.stdout
