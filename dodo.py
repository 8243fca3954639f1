"""doit task graph of the project's releases (``pipeline/build/graph.py``):
toolchain -> sdk -> compile -> archive/link -> lipo -> bundle -> unsigned
tarball -> image -> SHA256SUMS + build manifest.

    .venv/bin/doit -f dodo.py                        # examples/hello and examples/multi
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

from pipeline.build.graph import ReleaseGraph, combined_namespace
from pipeline.errors import ReprodmgError

ROOT = Path(__file__).resolve().parent
BUILD = ROOT / "build"
BUILD.mkdir(exist_ok=True)      # doit keeps its state file here, even when the first task fails

# With no release=..., the main command builds every example the project
# publishes hashes for; release=path/to/release.toml builds that one only.
EXAMPLES = ["examples/hello/release.toml", "examples/multi/release.toml"]
_chosen = get_var("release", os.environ.get("REPRODMG_RELEASE"))
try:
    GRAPHS = [ReleaseGraph(path if path.is_absolute() else ROOT / path, build=BUILD,
                           cache=os.environ.get("REPRODMG_CACHE") or None,
                           pins_dirs=[ROOT / "sdk"])
              for path in map(Path, [_chosen] if _chosen else EXAMPLES)]
except ReprodmgError as _exc:
    raise SystemExit(f"reprodmg: error: {_exc}") from None

globals().update(combined_namespace(GRAPHS))
