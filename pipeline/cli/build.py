"""`reprodmg build`: a release's doit task graph, run from the user's own
repository through doit's API (the same graph as the project's dodo.py).

State (``.doit.db``) and outputs go to the build folder (default: ``build/``
beside the release configuration); downloads and SDK tarballs to
``$REPRODMG_CACHE`` (default: ``<build folder>/cache``).  SDK pins are looked
up in ``sdk/`` beside the configuration, then among the pins shipped with
reprodmg."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(groups: argparse._SubParsersAction) -> None:
    p = groups.add_parser("build", help="build a release (app, unsigned tarball, DMG, "
                                        "SHA256SUMS) from its release.toml",
                          description="Run the release's task graph with doit. Arguments "
                                      "after the configuration go to doit: task names, "
                                      "'list', 'clean', 'info TASK'...")
    p.add_argument("release", metavar="release.toml")
    p.add_argument("--build-dir", metavar="DIR", type=Path,
                   help="outputs and doit's state (default: build/ beside release.toml)")
    p.add_argument("doit_args", nargs=argparse.REMAINDER, metavar="DOIT_ARGS",
                   help="passed to doit (default: build everything)")
    p.set_defaults(handler=cmd_build)


def cmd_build(args: argparse.Namespace) -> int:
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    from ..build.graph import ReleaseGraph
    release = Path(args.release).absolute()
    build_dir = (args.build_dir or release.parent / "build").absolute()
    graph = ReleaseGraph(release, build=build_dir,
                         cache=os.environ.get("REPRODMG_CACHE") or None)
    build_dir.mkdir(parents=True, exist_ok=True)
    # No config files: a [tool.doit] table in the user's pyproject.toml must
    # not change how the graph runs.
    main = DoitMain(ModuleTaskLoader(graph.namespace()), config_filenames=())
    return main.run(list(args.doit_args))
