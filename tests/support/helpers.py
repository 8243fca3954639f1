"""Where the reference corpus lives, and how the tests find the oracles
they run (shared by every layer's tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Downloads and the demo SDK tarball, shared by every test that builds
# (content-addressed and hash-checked, so sharing cannot make builds agree).
CACHE = Path(os.environ.get("REPRODMG_CACHE") or REPO / "build" / "cache")
PIN = REPO / "sdk" / "MacOSX-zig-0.17.1.toml"


def _find_corpus() -> Path:
    override = os.environ.get("REPRODMG_CORPUS")
    candidates = [Path(override)] if override else []
    candidates += [REPO.parent / "shared" / "corpus", REPO / "shared" / "corpus"]
    for cand in candidates:
        if (cand / "hdiutil").is_dir():
            return cand
    raise RuntimeError(
        "reference corpus not found: expected ../shared/corpus beside the checkout "
        "(or set REPRODMG_CORPUS)")


CORPUS = _find_corpus()
HDIUTIL_CORPUS = CORPUS / "hdiutil"
SIGNAPPLE_CORPUS = CORPUS / "signapple-x86"


def require_tool(name: str) -> str:
    """Path of an external oracle; a missing one is a failure, not a skip.

    .ci/setup installs every oracle, so a missing tool means a broken setup.
    """
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"oracle {name!r} is not installed; run .ci/setup")
    return path


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def run_doit(project: Path, *args: str, cache: Path, umask: int = 0o022, tz: str = "UTC",
             lang: str = "C.UTF-8", path: str | None = None,
             extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {
        "PATH": path if path is not None else os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "TZ": tz, "LANG": lang, "LC_ALL": lang,
        "REPRODMG_CACHE": str(cache),
        "CI": "true",
        **(extra_env or {}),
    }
    return subprocess.run([sys.executable, "-m", "doit", "-f", "dodo.py", *args], cwd=project,
                          env=env, capture_output=True, text=True, timeout=900,
                          preexec_fn=lambda: os.umask(umask))
