"""doit task graph of the project's releases (``pipeline/build/graph.py``):
toolchain -> sdk -> compile -> archive/link -> lipo -> bundle -> unsigned
tarball -> image -> SHA256SUMS + build manifest.

    .venv/bin/doit -f dodo.py                        # examples/hello/release.toml
    .venv/bin/doit -f dodo.py release=path/to/release.toml

Outputs go to ``build/<app>/``; the extracted SDK to ``build/sdk/<name>/``;
downloads and SDK tarballs to ``$REPRODMG_CACHE`` (default ``build/cache``),
content-addressed by the pins, so sharing a cache never changes an output.
Outside a checkout, ``reprodmg build path/to/release.toml`` runs the same graph.
"""

from __future__ import annotations

import os
from pathlib import Path

from doit import get_var

from pipeline.build.graph import ReleaseGraph
from pipeline.errors import ReprodmgError

ROOT = Path(__file__).resolve().parent
BUILD = ROOT / "build"
BUILD.mkdir(exist_ok=True)      # doit keeps its state file here, even when the first task fails

_release = Path(get_var("release", os.environ.get("REPRODMG_RELEASE",
                                                  "examples/hello/release.toml")))
try:
    GRAPH = ReleaseGraph(_release if _release.is_absolute() else ROOT / _release, build=BUILD,
                         cache=os.environ.get("REPRODMG_CACHE") or None,
                         pins_dirs=[ROOT / "sdk"])
except ReprodmgError as _exc:
    raise SystemExit(f"reprodmg: error: {_exc}") from None

globals().update(GRAPH.namespace())
