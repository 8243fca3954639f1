"""reprodmg installed as a wheel builds a user's own project (issue 11 §1).

The wheel is built from this checkout by pip, installed into a folder of
its own and imported from there (never from the checkout); the user project
is examples/standalone (release.toml, main.c, AppIcon.icns) copied to a
folder outside the checkout.  Oracles: the checkout's own dodo.py building
the same project must give the same bytes, and sha256sum -c.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
from helpers import CACHE, require_tool, run_doit

EXAMPLE = REPO / "examples" / "standalone"


def test_package_list_names_every_package_folder():
    declared = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
                   ["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts)
             for p in (REPO / "pipeline").rglob("__init__.py")}
    assert found <= declared, f"add to pyproject.toml's packages: {sorted(found - declared)}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory, cache) -> Path:
    """The wheel, built by pip from the checkout and installed into its own folder."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--disable-pip-version-check", "-w", str(root / "dist"), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    wheel = next((root / "dist").glob("reprodmg-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "pipeline/resources/templates/Info.plist.j2" in names
    assert "pipeline/resources/sdk/MacOSX-zig-0.17.1.toml" in names
    # Every recipe with its patches and support files (provider "source").
    shipped = {n.removeprefix("pipeline/resources/patches/") for n in names
               if n.startswith("pipeline/resources/patches/")}
    expected = {p.relative_to(REPO / "patches").as_posix() for p in (REPO / "patches").rglob("*")
                if p.is_file() and p.name != "README.md"}
    assert shipped == expected
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--disable-pip-version-check", "--target", str(root / "site"), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    return root / "site"


def _user_env(site: Path) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
           "LANG": "C.UTF-8", "PYTHONPATH": str(site), "REPRODMG_CACHE": str(CACHE),
           "CI": "true"}
    return env


def test_user_project_builds_from_the_installed_wheel(installed, tmp_path):
    user = tmp_path / "my-app"
    shutil.copytree(EXAMPLE, user)
    env = _user_env(installed)
    where = subprocess.run([sys.executable, "-c", "import pipeline; print(pipeline.__file__)"],
                           cwd=user, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(installed)), "the test must use the installed copy"
    first = subprocess.run([sys.executable, "-m", "pipeline", "build", "release.toml"], cwd=user,
                           env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    out = user / "build" / "standalone"
    assert (out / "Standalone.app" / "Contents" / "Resources" / "AppIcon.icns").is_file()
    check = subprocess.run([require_tool("sha256sum"), "-c", "SHA256SUMS"], cwd=out,
                           capture_output=True, text=True)
    assert check.returncode == 0 and "Standalone-1.0.0.dmg: OK" in check.stdout
    # doit's state is the user's too: nothing changed, nothing runs.
    again = subprocess.run([sys.executable, "-m", "pipeline", "build", "release.toml"],
                           cwd=user, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0
    assert [line for line in again.stdout.splitlines() if line.startswith(".")] == []
    # The same project built by the checkout's dodo.py, elsewhere: the same bytes.
    project = tmp_path / "checkout-copy"
    project.mkdir()
    shutil.copy2(REPO / "dodo.py", project / "dodo.py")
    shutil.copytree(REPO / "sdk", project / "sdk")
    shutil.copytree(EXAMPLE, project / "examples" / "standalone")
    proc = run_doit(project, "release=examples/standalone/release.toml", cache=CACHE,
                    umask=0o077, tz="Asia/Tokyo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = project / "build" / "standalone" / "SHA256SUMS"
    assert theirs.read_text() == (out / "SHA256SUMS").read_text()


def test_build_of_a_bad_configuration_is_one_line(installed, tmp_path):
    user = tmp_path / "bad"
    shutil.copytree(EXAMPLE, user)
    text = (user / "release.toml").read_text().replace('name = "MacOSX-zig-0.17.1"',
                                                       'name = "MacOSX-none"')
    (user / "release.toml").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "build", "release.toml"],
                          cwd=user, env=_user_env(installed), capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "SDK MacOSX-none: no pin file; looked for" in proc.stderr
    assert not (user / "build").exists()
