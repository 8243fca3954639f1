"""Two builds of one release that differ in everything a builder's machine
may differ in (``reprodmg repro-check``): the comparison of what they
produce is ``pipeline.diff.outputs``.

Build A runs in a plain setting; build B changes, each where the machine
allows it:

- the build path (longer, with spaces and non-ASCII characters), for the
  sources and for the outputs;
- the umask, TZ, LANG/LC_ALL, the order of the environment, HOME, TMPDIR,
  the user names, and extra variables a compiler or Python might read
  (MACOSX_DEPLOYMENT_TARGET, PYTHONHASHSEED, ZERO_AR_DATE unset/set...);
- the order in which the input files were created and their mtimes;
- the system clock (Debian's ``faketime``, starting years ahead);
- the number of workers (doit processes and image compression threads,
  through the CPU affinity);
- the user and group (a user namespace mapping this user to another id).

Every variation that cannot be made here is reported with the reason, never
silently skipped.  The download cache (``REPRODMG_CACHE``) is shared: it is
content-addressed and checked against the pins, so it cannot change an
output, and it spares a second download of the demo SDK's compiler.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

# Folders of a project that are outputs or tool state, never inputs.
SKIPPED_NAMES = {"build", ".git", ".hg", "__pycache__", ".doit.db", ".venv", ".pytest_cache"}
# B's clock: faketime's "@" starts it there and lets it run.
FAKE_CLOCK = "@2031-03-04 05:06:07"
# B's mtimes for its inputs: distinct, far from the real ones.
FAKE_MTIME_BASE = 1000000000           # 2001-09-09
B_PATH = "b/build path with spaces, ümlauts and a much longer name/project"
LOG_TAIL = 40


@dataclass
class Variation:
    name: str
    a: str
    b: str
    varied: bool = True
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, "a": self.a, "b": self.b, "varied": self.varied}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class BuildRun:
    label: str                       # "A" or "B"
    project: Path                    # the copied project folder
    release: Path                    # its release configuration
    build_dir: Path
    command: list[str]
    env: dict[str, str]
    umask: int
    log: Path
    returncode: int | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "project": str(self.project),
                "build_dir": str(self.build_dir), "returncode": self.returncode,
                "seconds": round(self.seconds, 2), "log": str(self.log),
                "umask": f"{self.umask:04o}"}

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL:])


@dataclass
class ReproPlan:
    release: Path
    work: Path
    runs: list[BuildRun]
    variations: list[Variation] = field(default_factory=list)


# --------------------------------------------------------------------------
# The two copies of the project.

def copy_project(source: Path, dest: Path, *, reverse: bool, mtime_base: int | None) -> int:
    """Copy the project's inputs; B creates them in reverse order and gives
    each its own mtime.  Returns the number of files."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
        rel = Path(dirpath).relative_to(source)
        entries += [rel / d for d in dirnames] + [rel / f for f in sorted(filenames)
                                                   if f not in SKIPPED_NAMES]
    dest.mkdir(parents=True)
    files = 0
    # Folders first (a file needs its folder); then the files in the chosen order.
    folders = [e for e in entries if (source / e).is_dir() and not (source / e).is_symlink()]
    folder_set = set(folders)
    others = [e for e in entries if e not in folder_set]
    for rel in sorted(folders) + sorted(others, reverse=reverse):
        src, dst = source / rel, dest / rel
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        elif src.is_dir():
            dst.mkdir()
        else:
            shutil.copy2(src, dst)
            files += 1
    if mtime_base is not None:
        for i, rel in enumerate(sorted(entries, reverse=True)):
            os.utime(dest / rel, (mtime_base + 3607 * i,) * 2, follow_symlinks=False)
    return files


# --------------------------------------------------------------------------
# The variations.

def _try(command: list[str]) -> str | None:
    """None when ``command`` runs; the reason otherwise."""
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    return None


def _cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:       # pragma: no cover - not Linux
        return list(range(os.cpu_count() or 1))


def plan(release: Path, work: Path, *, project: Path | None = None, clock: bool = True,
         user: bool = True, cache: Path | None = None) -> ReproPlan:
    """Copy the project twice under ``work`` and set up the two builds."""
    release = release.absolute()
    if not release.is_file():
        raise InputError(f"{release}: no such release configuration")
    project = (project or release.parent).absolute()
    if not release.is_relative_to(project):
        raise InputError(f"{release}: not inside the project folder {project} (--project)")
    if work.exists() and any(work.iterdir()):
        raise InputError(f"{work}: the work folder must be empty or absent")
    work.mkdir(parents=True, exist_ok=True)
    work = work.absolute()
    cache = cache or Path(os.environ.get("REPRODMG_CACHE") or release.parent / "build" / "cache")
    cache = cache.absolute()
    cache.mkdir(parents=True, exist_ok=True)

    variations: list[Variation] = []
    roots = {"A": work / "a" / "project", "B": work / B_PATH}
    variations.append(Variation("build path", str(roots["A"]), str(roots["B"])))
    copy_project(project, roots["A"], reverse=False, mtime_base=None)
    copy_project(project, roots["B"], reverse=True, mtime_base=FAKE_MTIME_BASE)
    variations.append(Variation("input files", "created in name order, mtimes kept",
                                "created in reverse order, mtimes from 2001 on"))
    umasks = {"A": 0o022, "B": 0o077}
    variations.append(Variation("umask", "0022", "0077"))

    base = {k: v for k, v in os.environ.items()
            if k not in ("TZ", "LANG", "LANGUAGE", "PYTHONHASHSEED", "MACOSX_DEPLOYMENT_TARGET")
            and not k.startswith("LC_")}
    base["REPRODMG_CACHE"] = str(cache)
    base["REPRODMG_PROGRESS"] = "0"
    env_a = dict(sorted({**base, "TZ": "UTC", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                         "HOME": str(work / "a" / "home"), "TMPDIR": str(work / "a" / "tmp"),
                         "USER": "builder", "LOGNAME": "builder", "PYTHONHASHSEED": "0"}.items()))
    env_b = {**base, "TZ": "Pacific/Chatham", "LANG": "tr_TR.UTF-8", "LC_ALL": "tr_TR.UTF-8",
             "HOME": str(work / "b" / "home dir"), "TMPDIR": str(work / "b" / "tmp dir"),
             "USER": "someone-else", "LOGNAME": "someone-else", "HOSTNAME": "another-host",
             "PYTHONHASHSEED": "4242", "MACOSX_DEPLOYMENT_TARGET": "10.13", "ZERO_AR_DATE": "1",
             "COLUMNS": "37", "REPRODMG_REPRO_CHECK_NOISE": "1"}
    env_b = dict(reversed(list(env_b.items())))
    for env in (env_a, env_b):
        Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
        Path(env["TMPDIR"]).mkdir(parents=True, exist_ok=True)
    variations += [
        Variation("TZ", "UTC", "Pacific/Chatham"),
        Variation("locale", "C.UTF-8", "tr_TR.UTF-8"),
        Variation("environment", "sorted; HOME, TMPDIR, USER of A",
                  "reversed; other HOME, TMPDIR, USER, HOSTNAME; PYTHONHASHSEED, "
                  "MACOSX_DEPLOYMENT_TARGET, ZERO_AR_DATE, COLUMNS and a stray variable set")]

    prefix_b: list[str] = []
    cpus = _cpus()
    doit_a, doit_b = ["-n", "1"], ["-n", "2", "-P", "thread"]
    prefix_a = ["taskset", "-c", str(cpus[0])] if shutil.which("taskset") else []
    if len(cpus) > 1 and prefix_a:
        variations.append(Variation("workers", "1 doit process, 1 compression thread",
                                    f"2 doit threads, {len(cpus)} compression threads"))
    else:
        prefix_a = []
        variations.append(Variation("workers", "1 doit process", "2 doit threads", True,
                                    "one CPU here: only doit's parallelism is varied"
                                    if len(cpus) <= 1 else "no taskset: only doit's parallelism "
                                    "is varied"))
    if clock:
        reason = None if shutil.which("faketime") else "faketime is not installed"
        reason = reason or _try(["faketime", "-f", FAKE_CLOCK, "true"])
        if reason is None:
            # Not DONT_FAKE_MONOTONIC: libfaketime then shifts Python's absolute
            # monotonic sleeps (clock_nanosleep TIMER_ABSTIME) into EINVAL.
            prefix_b += ["faketime", "-f", FAKE_CLOCK]
        variations.append(Variation("clock", "the real time", FAKE_CLOCK[1:] + " onwards",
                                    reason is None, reason or ""))
    else:
        variations.append(Variation("clock", "the real time", "the real time", False,
                                    "turned off (--no-clock)"))
    if user:
        uid = 4242 if os.geteuid() != 4242 else 4343
        userns = ["unshare", "--user", f"--map-user={uid}", f"--map-group={uid}"]
        reason = None if shutil.which("unshare") else "unshare is not installed"
        reason = reason or _try(userns + ["true"])
        if reason is None:
            prefix_b = userns + ["--"] + prefix_b
        variations.append(Variation("user", f"{os.geteuid()}:{os.getegid()}", f"{uid}:{uid}",
                                    reason is None,
                                    f"no user namespace here: {reason}" if reason else ""))
    else:
        variations.append(Variation("user", str(os.geteuid()), str(os.geteuid()), False,
                                    "turned off (--no-user)"))

    runs = []
    for label, prefix, doit_args, env in (("A", prefix_a, doit_a, env_a),
                                          ("B", prefix_b, doit_b, env_b)):
        root = roots[label]
        rel_release = root / release.relative_to(project)
        build_dir = root.parent / "out" if label == "A" else root.parent / "out folder"
        command = prefix + [sys.executable, "-m", "pipeline", "build", "--build-dir",
                            str(build_dir), str(rel_release), *doit_args]
        runs.append(BuildRun(label, root, rel_release, build_dir, command, env, umasks[label],
                             root.parent / f"build-{label}.log"))
    return ReproPlan(release, work, runs, variations)


def run(build: BuildRun) -> BuildRun:
    """Run one build to the end, its output in its log."""
    package_root = Path(__file__).resolve().parents[2]
    env = dict(build.env)
    # The child imports this very pipeline, wherever the build runs from.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package_root),
                                                      os.environ.get("PYTHONPATH")]))
    start = time.monotonic()
    with open(build.log, "wb") as log:
        proc = subprocess.run(build.command, cwd=build.project, env=env, stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              preexec_fn=lambda: os.umask(build.umask))
    build.returncode = proc.returncode
    build.seconds = time.monotonic() - start
    return build
