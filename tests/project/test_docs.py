"""The repository's own documentation: the two commands CI runs, its size,
links that resolve, and no pointer to notes outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ci_runs_exactly_the_test_command_in_the_readme():
    readme = (REPO / "README.md").read_text()
    commands = [line.strip() for line in readme.splitlines()
                if line.startswith("    bash .ci/setup && ")]
    assert commands == ["bash .ci/setup && .venv/bin/doit -f dodo.py",
                        "bash .ci/setup && .venv/bin/python -m pytest -q"]
    run = (REPO / ".ci" / "run").read_text().splitlines()
    assert commands[1] in run


def test_readme_is_short_and_its_links_resolve():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) < 120
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)\)", doc.read_text()):
            if "://" not in target:
                assert (doc.parent / target).exists(), (doc.name, target)


def test_nothing_points_outside_the_repository():
    # The team's private background notes are not part of the project: the
    # project says things in its own words (docs/).
    outside = re.compile(r"FORMATS\.md|ARCHITECTURE\.md|STYLE\.md|shared/design|design notes")
    files = [p for p in REPO.rglob("*")
             if p.is_file() and p.suffix in (".py", ".md", ".toml", ".j2", ".txt", "")
             and not any(part in (".git", ".venv", "build", "__pycache__", ".pytest_cache",
                                  ".hypothesis") or part.endswith(".egg-info")
                         for part in p.relative_to(REPO).parts)]
    assert len(files) > 50
    found = [f"{p.relative_to(REPO)}:{n}" for p in files if p != Path(__file__)
             for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
             if outside.search(line)]
    assert found == []


def test_every_test_file_is_collected():
    # pytest silently skips folders it does not recurse into (a folder named
    # "build" is one): every test file must be collected.
    import subprocess
    import sys
    # -m "": marked tests that the default run deselects count as collected.
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
                           "no:cacheprovider", "-m", ""], cwd=REPO, capture_output=True,
                          text=True)
    collected = {line.split("::", 1)[0] for line in proc.stdout.splitlines() if "::" in line}
    files = {str(p.relative_to(REPO)) for p in (REPO / "tests").rglob("test_*.py")}
    assert files - collected == set()
