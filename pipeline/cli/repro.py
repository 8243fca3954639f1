"""`reprodmg repro-check [--release release.toml] [--json]`: build the release
twice in fresh folders, varying what builders' machines vary
(``pipeline.build.repro_runs``), and compare every published artifact
(``pipeline.diff.outputs``).

Exit status: 0 every artifact identical, 1 a difference or a build that
failed under one of the variations, 2 bad input.  The work folder is
removed after a reproducible run, kept (and named) otherwise."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from .output import emit_json


def register(groups: argparse._SubParsersAction) -> None:
    p = groups.add_parser(
        "repro-check", help="build a release twice under different conditions and compare "
                            "every artifact (exit 0 reproducible, 1 not)")
    p.add_argument("--release", type=Path, default=Path("release.toml"), metavar="release.toml",
                   help="the release configuration (default: ./release.toml)")
    p.add_argument("--project", type=Path, metavar="DIR",
                   help="the folder copied for each build (default: the configuration's folder; "
                        "give a higher one when the configuration names files outside it)")
    p.add_argument("--work", type=Path, metavar="DIR",
                   help="where the two builds go (empty or absent; kept afterwards); default: a "
                        "temporary folder, removed when the builds agree")
    p.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    p.add_argument("--no-clock", dest="clock", action="store_false",
                   help="do not run build B under faketime")
    p.add_argument("--no-user", dest="user", action="store_false",
                   help="do not run build B as another user (user namespace)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_repro_check)


def cmd_repro_check(args: argparse.Namespace) -> int:
    from ..build.repro_runs import plan, run
    from ..diff.outputs import compare_outputs
    from ..progress import Progress

    work = args.work or Path(tempfile.mkdtemp(prefix="reprodmg-repro-check-"))
    keep = args.keep or args.work is not None
    try:
        runs = plan(args.release, work, project=args.project, clock=args.clock, user=args.user)
    except BaseException:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
        raise
    result: dict = {"release": str(runs.release), "work": str(runs.work),
                    "variations": [v.to_json() for v in runs.variations]}
    if not args.json:
        print(f"repro-check {runs.release}")
        for v in runs.variations:
            state = "varied" if v.varied else "NOT varied"
            print(f"  {v.name:12} {state}: A {v.a} | B {v.b}"
                  + (f" ({v.reason})" if v.reason else ""))
    with Progress("repro-check builds", total=2, unit=" builds") as progress:
        for build in runs.runs:
            run(build)
            progress.advance()
    result["builds"] = [b.to_json() for b in runs.runs]
    failed = [b for b in runs.runs if b.returncode != 0]
    if failed:
        result.update(verdict="build failed", first="; ".join(
            f"build {b.label} failed (exit {b.returncode}); its log: {b.log}" for b in failed))
        if args.json:
            emit_json(result)
        else:
            for b in failed:
                print(f"build {b.label} failed (exit {b.returncode}); last lines of {b.log}:")
                print("\n".join("  " + line for line in b.log_tail().splitlines()))
            print(f"not reproducible: {result['first']}")
        return 1
    a, b = runs.runs
    roots = ([str(a.project), str(a.build_dir)], [str(b.project), str(b.build_dir)])
    outputs = compare_outputs(a.build_dir, b.build_dir, roots=roots)
    result.update(outputs.to_json())
    result["verdict"] = "reproducible" if outputs.same else "different"
    if args.json:
        emit_json(result)
    else:
        for art in outputs.artifacts:
            print(f"  {art.status:10} {art.path}  {(art.sha256[0] or '-')[:16]}"
                  + ("" if art.status == "same" else f" / {(art.sha256[1] or '-')[:16]}"))
        if outputs.same:
            print(f"reproducible: {len(outputs.artifacts)} artifact(s) identical "
                  f"(builds {a.seconds:.1f} s and {b.seconds:.1f} s)")
        else:
            print(f"not reproducible: {outputs.first}")
            for path in outputs.leaks:
                print(f"  the build path leaks into {path}")
            print(f"the two builds are kept in {runs.work} (A: {a.build_dir}, B: {b.build_dir})")
            for art in outputs.artifacts:
                if art.status == "different" and art.path.endswith(".dmg"):
                    print("  the images side by side: reprodmg dmg diff "
                          f"{shlex.quote(str(a.build_dir / art.path))} "
                          f"{shlex.quote(str(b.build_dir / art.path))} --html report.html")
    if outputs.same and not keep:
        shutil.rmtree(runs.work, ignore_errors=True)
    sys.stdout.flush()
    return 0 if outputs.same else 1
