"""Faults (issue 18 §2): `kill -9` at several points of `dmg create`,
`sig apply`, `sdk build` and a doit build never leaves an output under its
final name half-written, and the next run gives the same bytes; a full disk
(RLIMIT_FSIZE: the file system refuses to grow the output, as a full one
does, without needing privileges) is one error naming the output with
nothing left behind; two builders sharing one REPRODMG_CACHE at the same
time both succeed with the same bytes."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import PIN, REPO, SIGNAPPLE_CORPUS
from pipeline.jsonfile import sha256_file

ENV = {**os.environ, "REPRODMG_PROGRESS": "0"}


def _tree(root: Path, megabytes: int = 24) -> Path:
    # Compressible but not trivially: each file its own pattern.
    for i in range(megabytes):
        (root / f"d{i % 4}").mkdir(parents=True, exist_ok=True)
        block = bytes((i * 7 + j * 13) % 251 for j in range(4096))
        (root / f"d{i % 4}" / f"f{i}.bin").write_bytes(block * 256)
    return root


def _run_killed(argv: list[str], after: float, cwd: Path = REPO, env=None) -> int | None:
    """Start ``argv``, SIGKILL it ``after`` seconds in; its exit status, or
    None when it had already finished."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env or ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(after)
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return None


def _timed(argv: list[str], cwd: Path = REPO, env=None) -> float:
    start = time.monotonic()
    subprocess.run(argv, cwd=cwd, env=env or ENV, check=True, capture_output=True)
    return time.monotonic() - start


def _kill_points(total: float) -> list[float]:
    return [max(0.02, total * f) for f in (0.1, 0.35, 0.6, 0.85)]


def test_dmg_create_killed_leaves_nothing_half_written(tmp_path):
    src = _tree(tmp_path / "src")
    ref = tmp_path / "ref.dmg"
    create = [sys.executable, "-m", "pipeline", "dmg", "create", str(src), "--epoch", "0",
              "--format", "UDBZ", "-o"]
    total = _timed(create + [str(ref)])
    reference = sha256_file(ref)
    for i, after in enumerate(_kill_points(total)):
        out = tmp_path / f"out{i}.dmg"
        status = _run_killed(create + [str(out)], after)
        if status is None:
            # Killed: the final name holds nothing (or the whole image).
            assert not out.exists() or sha256_file(out) == reference, after
        subprocess.run(create + [str(out)], cwd=REPO, env=ENV, check=True, capture_output=True)
        assert sha256_file(out) == reference


def test_sig_apply_killed_then_rerun(tmp_path):
    signed, unsigned = SIGNAPPLE_CORPUS / "signed", SIGNAPPLE_CORPUS / "unsigned"
    sig = tmp_path / "sig.tar"
    subprocess.run([sys.executable, "-m", "pipeline", "sig", "detach", str(signed), "-o", str(sig)],
                   cwd=REPO, env=ENV, check=True, capture_output=True)
    apply = [sys.executable, "-m", "pipeline", "sig", "apply", str(unsigned), str(sig), "-o"]
    ref = tmp_path / "ref.app"
    total = _timed(apply + [str(ref)])
    exe = "Contents/MacOS/signapple-test"
    for i, after in enumerate(_kill_points(total)):
        out = tmp_path / f"out{i}.app"
        _run_killed(apply + [str(out)], after)
        # Whenever it was killed, the final name holds the whole app or nothing.
        if out.exists():
            assert sha256_file(out / exe) == sha256_file(ref / exe)
            assert sha256_file(out / "Contents/_CodeSignature/CodeResources") == \
                sha256_file(ref / "Contents/_CodeSignature/CodeResources")
        # `sig apply` never overwrites an app: the next run writes a new one.
        again = tmp_path / f"again{i}.app"
        subprocess.run(apply + [str(again)], cwd=REPO, env=ENV, check=True, capture_output=True)
        assert sha256_file(again / exe) == sha256_file(ref / exe)


def test_sdk_build_killed_then_rerun(tmp_path, cache):
    build = [sys.executable, "-m", "pipeline", "sdk", "build", "--pin", str(PIN), "--cache",
             str(cache), "-o"]
    env = ENV
    ref = tmp_path / "ref.tar"
    total = _timed(build + [str(ref)], env=env)
    reference = sha256_file(ref)
    for i, after in enumerate(_kill_points(total)[:2]):
        out = tmp_path / f"out{i}.tar"
        if _run_killed(build + [str(out)], after, env=env) is None:
            assert not out.exists() or sha256_file(out) == reference
        subprocess.run(build + [str(out)], cwd=REPO, env=env, check=True, capture_output=True)
        assert sha256_file(out) == reference


def _project(dest: Path) -> Path:
    shutil.copytree(REPO / "examples" / "hello", dest,
                    ignore=shutil.ignore_patterns("build"))
    return dest


def test_doit_build_killed_then_rerun(tmp_path, cache):
    project = _project(tmp_path / "ref")
    env = {**ENV, "REPRODMG_CACHE": str(cache)}
    build = [sys.executable, "-m", "pipeline", "build", "--build-dir"]
    total = _timed(build + [str(project / "build"), str(project / "release.toml")], env=env)
    reference = (project / "build" / "hello" / "SHA256SUMS").read_text()
    assert reference == (REPO / "examples/hello/SHA256SUMS").read_text()
    for i, after in enumerate(_kill_points(total)):
        p = _project(tmp_path / f"p{i}")
        argv = build + [str(p / "build"), str(p / "release.toml")]
        _run_killed(argv, after, env=env)
        for name in ("Hello-1.0.0.dmg", "Hello-1.0.0-unsigned.tar", "SHA256SUMS"):
            f = p / "build" / "hello" / name
            assert not f.exists() or name == "SHA256SUMS" or f.stat().st_size > 0
        subprocess.run(argv, cwd=REPO, env=env, check=True, capture_output=True)
        assert (p / "build" / "hello" / "SHA256SUMS").read_text() == reference
        check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=p / "build" / "hello",
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout


def _small_fsize():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # EFBIG instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))


@pytest.mark.parametrize("fmt", ["UDZO", "UDSP", "UDSB"])
def test_a_full_disk_is_one_error_and_nothing_left(tmp_path, fmt):
    import random
    src = tmp_path / "src"
    src.mkdir()
    for i in range(8):                       # incompressible: the image outgrows the limit
        (src / f"r{i}.bin").write_bytes(random.Random(i).randbytes(1 << 20))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "x.dmg"
    proc = subprocess.run([sys.executable, "-m", "pipeline", "dmg", "create", str(src), "-o",
                           str(out), "--format", fmt], cwd=REPO, env=ENV, capture_output=True,
                          text=True, preexec_fn=_small_fsize, timeout=300)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "x.dmg" in proc.stderr
    assert list(out_dir.iterdir()) == []


def test_two_builders_share_one_cache(tmp_path, cache):
    shared = tmp_path / "cache"
    shutil.copytree(cache, shared, ignore=shutil.ignore_patterns("*.failed.log"))
    env = {**ENV, "REPRODMG_CACHE": str(shared)}
    procs = []
    for name in ("a", "b"):
        p = _project(tmp_path / name)
        procs.append((p, subprocess.Popen(
            [sys.executable, "-m", "pipeline", "build", "--build-dir", str(p / "build"),
             str(p / "release.toml")], cwd=REPO, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)))
    for p, proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    sums = [(p / "build" / "hello" / "SHA256SUMS").read_text() for p, _ in procs]
    assert sums[0] == sums[1] == (REPO / "examples/hello/SHA256SUMS").read_text()


def test_a_full_disk_under_the_writers_temporary_files_is_one_error(tmp_path):
    """Past SPILL_RECORDS the HFS+ writer keeps its catalog objects and
    forks in temporary files: when they cannot grow, the error names them
    and no output appears (thresholds lowered so a small tree spills)."""
    src = tmp_path / "src"
    for i in range(3_000):
        folder = src / f"d{i // 1000}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file-{i:05d}.txt").write_bytes(b"x")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = ("import sys; from pipeline.hfs import spill; spill.SPILL_RECORDS = 10; "
            "spill.SPILL_BYTES = 0; from pipeline.cli import main; sys.exit(main())")
    proc = subprocess.run([sys.executable, "-c", code, "dmg", "create", str(src), "-o",
                           str(out_dir / "x.dmg")], cwd=REPO, env=ENV, capture_output=True,
                          text=True, preexec_fn=_small_fsize, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "temporary file for the" in proc.stderr, proc.stderr
    assert list(out_dir.iterdir()) == []
