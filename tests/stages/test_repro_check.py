"""`reprodmg repro-check` (issue 15 §1): two builds of a release varying
path, umask, TZ, locale, environment, input order and mtimes, clock, workers
and user agree on the examples; a build that leaks its path is caught, and
the report names the artifact, the Mach-O section and both paths.

The builds are real subprocess builds (``reprodmg build``) sharing the
test session's download cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO
from pipeline.build import repro_runs

ALL_VARIATIONS = {"build path", "input files", "umask", "TZ", "locale", "environment", "workers",
                  "clock", "user"}


def repro_check(*args: str, cache: Path, env: dict | None = None,
                cwd: Path = REPO) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "REPRODMG_CACHE": str(cache), "REPRODMG_PROGRESS": "0",
                **(env or {})}
    return subprocess.run([sys.executable, "-m", "pipeline", "repro-check", *args],
                          capture_output=True, text=True, cwd=cwd, env=full_env, timeout=900)


def test_examples_reproduce_with_every_variation(cache, tmp_path):
    for example in ("hello", "multi"):
        work = tmp_path / example
        proc = repro_check("--release", f"examples/{example}/release.toml", "--work", str(work),
                           "--json", cache=cache)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        report = json.loads(proc.stdout)
        assert report["verdict"] == "reproducible" and report["same"]
        variations = {v["name"]: v for v in report["variations"]}
        assert set(variations) == ALL_VARIATIONS
        # Every variation is made on this machine (Debian 12 with faketime,
        # util-linux and user namespaces); one that cannot be says why.
        not_varied = {n: v["reason"] for n, v in variations.items() if not v["varied"]}
        assert not_varied == {} or all(not_varied.values())
        if shutil.which("faketime"):
            assert variations["clock"]["varied"]
        names = {a["path"].split("/", 1)[1] for a in report["artifacts"]}
        assert {"SHA256SUMS", "build-manifest.json"} <= names
        assert any(n.endswith(".dmg") for n in names) and any(n.endswith(".tar") for n in names)
        # The builds really ran where and how the report says.
        a, b = report["builds"]
        assert (a["umask"], b["umask"]) == ("0022", "0077")
        assert " " in b["build_dir"] and "ü" in b["project"]
        assert [p.parent.name for p in Path(a["build_dir"]).glob("*/SHA256SUMS")] == [example]


LEAK = '''
import os
import pipeline.build.compiler as compiler

_language_flags = compiler.language_flags


def language_flags(*args, **kwargs):
    # A compiler stage that lets the build folder into the binary.
    return _language_flags(*args, **kwargs) + [f'-DBUILD_PATH="{os.getcwd()}"']


compiler.language_flags = language_flags
'''


def test_a_leaked_build_path_is_named(cache, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(REPO / "examples" / "hello", project,
                    ignore=shutil.ignore_patterns("build", "SHA256SUMS", "build-manifest.json"))
    main_c = project / "src" / "main.c"
    main_c.write_text(main_c.read_text()
                      + "\n#ifdef BUILD_PATH\nconst char build_path[] = BUILD_PATH;\n#endif\n")
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(LEAK)
    work = tmp_path / "work"
    proc = repro_check("--release", str(project / "release.toml"), "--work", str(work), "--json",
                       cache=cache, env={"PYTHONPATH": str(inject)})
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["verdict"] == "different"
    status = {a["path"]: a["status"] for a in report["artifacts"]}
    assert status["hello/Hello-1.0.0-unsigned.tar"] == "different"
    assert status["hello/Hello-1.0.0.dmg"] == "different"
    # The cause first (the binary in the tarball), said in words, with the leak named.
    first = report["first"]
    assert first.startswith("the build path leaks into hello/Hello-1.0.0-unsigned.tar:"), first
    assert "Hello.app/Contents/MacOS/Hello" in first and "section __TEXT," in first
    a, b = report["builds"]
    assert a["project"] in first and b["project"] in first
    assert "hello/Hello-1.0.0.dmg" in report["leaks"]
    tar = next(x for x in report["artifacts"] if x["path"].endswith(".tar"))
    members = [d["member"] for d in tar["detail"]["tar"]["data"]]
    # The binary, and the tarball's own manifest that records its hash.
    assert members == ["Hello.app/Contents/MacOS/Hello", "build-manifest.json"]
    dmg = next(x for x in report["artifacts"] if x["path"].endswith(".dmg"))
    assert "Hello.app/Contents/MacOS/Hello" in dmg["first"]
    # The work folder is kept for a failed check, and the text form says where.
    assert (work / "a").is_dir()
    text = repro_check("--release", str(project / "release.toml"), "--work",
                       str(tmp_path / "work2"), cache=cache, env={"PYTHONPATH": str(inject)})
    assert text.returncode == 1
    assert "not reproducible: the build path leaks into hello/Hello-1.0.0-unsigned.tar" \
        in text.stdout
    assert "the two builds are kept in" in text.stdout


def test_bad_input_is_one_line_and_exit_2(cache, tmp_path):
    proc = repro_check("--release", str(tmp_path / "missing.toml"), cache=cache)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "missing.toml: no such release configuration" in proc.stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    proc = repro_check("--release", "examples/hello/release.toml", "--work", str(busy),
                       cache=cache)
    assert proc.returncode == 2 and "must be empty or absent" in proc.stderr
    assert (busy / "x").read_text() == "x"


def test_a_variation_that_cannot_be_made_says_why(tmp_path, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(repro_runs.shutil, "which",
                        lambda name: None if name == "faketime" else real_which(name))
    runs = repro_runs.plan(REPO / "examples/hello/release.toml", tmp_path / "w",
                           cache=tmp_path / "cache")
    clock = next(v for v in runs.variations if v.name == "clock")
    assert not clock.varied and clock.reason == "faketime is not installed"
    assert not any("faketime" in part for part in runs.runs[1].command)
    runs = repro_runs.plan(REPO / "examples/hello/release.toml", tmp_path / "w2",
                           cache=tmp_path / "cache", clock=False, user=False)
    assert {v.name: v.reason for v in runs.variations if not v.varied} == \
        {"clock": "turned off (--no-clock)", "user": "turned off (--no-user)"}


def test_the_copies_differ_in_order_and_mtimes_only(tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    for name in ("a", "b", "d/c"):
        (src / name).write_text(name)
    (src / "build").mkdir()                       # outputs are never copied
    (src / "build" / "junk").write_text("x")
    os.symlink("a", src / "link")
    repro_runs.copy_project(src, tmp_path / "A", reverse=False, mtime_base=None)
    repro_runs.copy_project(src, tmp_path / "B", reverse=True, mtime_base=1000000000)
    for side in ("A", "B"):
        root = tmp_path / side
        assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == \
            ["a", "b", "d", "d/c", "link"]
        assert (root / "d/c").read_text() == "d/c" and os.readlink(root / "link") == "a"
    assert (tmp_path / "B" / "a").stat().st_mtime != (tmp_path / "A" / "a").stat().st_mtime
    assert (tmp_path / "B" / "a").stat().st_mtime < 1100000000


def verify_rebuild(sums: Path, release: Path, build_dir: Path, cache: Path
                   ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", "verify", "--against", str(sums),
                           "--rebuild", str(release), str(build_dir)], capture_output=True,
                          text=True, cwd=REPO, timeout=900,
                          env={**os.environ, "REPRODMG_CACHE": str(cache)})


def test_verify_rebuilds_and_compares_with_the_published_sums(cache, tmp_path):
    published = REPO / "examples/hello/SHA256SUMS"
    proc = verify_rebuild(published, REPO / "examples/hello/release.toml", tmp_path / "b1", cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Hello-1.0.0.dmg: same" in proc.stdout
    assert (tmp_path / "b1" / "hello" / "Hello-1.0.0.dmg").is_file()
    # Sums that promise other bytes: exit 1, the artifact named.
    other = tmp_path / "other"
    other.mkdir()
    lines = published.read_text().splitlines()
    lines = [("0" * 64 + line[64:]) if line.endswith(".tar") else line for line in lines]
    (other / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    proc = verify_rebuild(other / "SHA256SUMS", REPO / "examples/hello/release.toml",
                          tmp_path / "b2", cache)
    assert proc.returncode == 1 and "Hello-1.0.0-unsigned.tar: different" in proc.stdout
    # A release that does not build: exit 1, one line naming the log.
    broken = tmp_path / "broken"
    shutil.copytree(REPO / "examples/hello", broken,
                    ignore=shutil.ignore_patterns("build"))
    (broken / "src" / "main.c").write_text("this is not C\n")
    proc = verify_rebuild(published, broken / "release.toml", tmp_path / "b3", cache)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "the rebuild failed" in proc.stderr and "rebuild.log" in proc.stderr
