"""Provider "source" (issue 12 §1/§3) wired into the release: the
configuration selects recipes, the graph builds their trees before the
toolchain stage, the built tools stand in for Debian's, and the manifests
say which recipe built what.

The real recipes take minutes (marker ``toolchain_source``,
tests/stages/test_source_examples.py); here a small recipe "builds" its
linker by copying Debian's lld, so the graph's wiring is checked in seconds
and the app's bytes must come out the same as the published build's.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from helpers import REPO, run_doit
from pipeline.build import config, source_toolchain, toolchain
from pipeline.build.graph import ReleaseGraph, find_recipe
from pipeline.build.paths import BuildPaths
from pipeline.errors import InputError
from pipeline.jsonfile import sha256_file

from test_build import copy_project, executed, HELLO_ONLY

DEBIAN_LLD = Path("/usr/lib/llvm-19/bin/lld")

RECIPE = '''name = "copied-lld"
host_tools = ["cp"]
steps = [["cp", "{debian_lld}", "{{build}}/ld64.lld"]]

[[sources]]
file = "copied-lld-1.tar"
sha256 = "{sha}"

[extract]
paths = ["README"]

[install]
"bin/ld64.lld" = "{{build}}/ld64.lld"
'''


def _source_archive(cache: Path) -> str:
    cache.mkdir(parents=True, exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("README")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"empty\n"))
    (cache / "copied-lld-1.tar").write_bytes(raw.getvalue())
    return sha256_file(cache / "copied-lld-1.tar")


def _source_project(root: Path, cache: Path) -> Path:
    """hello, its release configuration selecting provider "source" with the
    project's own recipe in patches/copied-lld/ beside the configuration."""
    project = copy_project(root)
    recipe = project / "examples" / "hello" / "patches" / "copied-lld" / "recipe.toml"
    recipe.parent.mkdir(parents=True)
    recipe.write_text(RECIPE.format(debian_lld=DEBIAN_LLD, sha=_source_archive(cache)))
    release = project / "examples" / "hello" / "release.toml"
    release.write_text(release.read_text().replace(
        '[toolchain]\nprovider = "llvm"',
        '[toolchain]\nprovider = "source"\nrecipes = ["copied-lld"]'))
    assert 'provider = "source"' in release.read_text()
    return project


def _release(tmp_path: Path, toolchain_table: str) -> Path:
    """hello's configuration (in a copy of its folder) with another [toolchain]."""
    folder = tmp_path / "hello"
    if not folder.exists():
        shutil.copytree(REPO / "examples/hello", folder)
    text = (REPO / "examples/hello/release.toml").read_text()
    start = text.index("[toolchain]")
    end = text.index("\n[", start + 1)
    (folder / "release.toml").write_text(text[:start] + toolchain_table + text[end:])
    return folder / "release.toml"


def test_configuration_selects_recipes(tmp_path):
    cfg = config.load(_release(tmp_path, '[toolchain]\nprovider = "source"\n'))
    assert cfg.toolchain_provider == "source"
    assert cfg.toolchain_recipes == config.DEFAULT_SOURCE_RECIPES == ("lld", "binutils")
    cfg = config.load(_release(tmp_path, '[toolchain]\nprovider = "source"\nrecipes = ["lld"]\n'))
    assert cfg.toolchain_recipes == ("lld",)
    assert config.load(REPO / "examples/hello/release.toml").toolchain_recipes == ()


@pytest.mark.parametrize("table, problem", [
    ('[toolchain]\nprovider = "llvm"\nrecipes = ["lld"]\n', "toolchain.recipes"),
    ('[toolchain]\nprovider = "source"\nrecipes = []\n', "toolchain.recipes"),
    ('[toolchain]\nprovider = "source"\nrecipes = ["lld", "lld"]\n', "toolchain.recipes"),
    ('[toolchain]\nprovider = "source"\nrecipes = ["../lld"]\n', "toolchain.recipes[0]"),
    ('[toolchain]\nprovider = "cctools"\n', "toolchain.provider"),
])
def test_bad_toolchain_tables_name_the_key(tmp_path, table, problem):
    with pytest.raises(InputError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        config.load(_release(tmp_path, table))


def test_shipped_recipes_are_found_and_a_missing_one_is_named(tmp_path):
    assert find_recipe("lld", [tmp_path, REPO / "patches"]) == REPO / "patches/lld/recipe.toml"
    for name in config.DEFAULT_SOURCE_RECIPES:
        source_toolchain.load_recipe(find_recipe(name, [REPO / "patches"]))
    with pytest.raises(InputError, match="'nope'.*nope/recipe.toml"):
        find_recipe("nope", [tmp_path, REPO / "patches"])


def _fake_tree(root: Path, name: str, roles: dict[str, Path]) -> toolchain.BuiltTree:
    tree = root / f"{name}-0123456789abcdef"
    installed = {}
    for role, binary in roles.items():
        (tree / "bin").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(binary, tree / "bin" / role)
        (tree / "bin" / role).chmod(0o755)
        installed[f"bin/{role}"] = sha256_file(tree / "bin" / role)
    (tree / "toolchain.json").write_text(json.dumps(
        {"recipe": {"name": name, "sha256": "0" * 64}, "installed": installed}))
    return toolchain.BuiltTree(tree, tuple(sorted(installed)))


def test_built_tools_stand_in_for_debians_and_the_manifest_says_so(tmp_path):
    tree = _fake_tree(tmp_path, "copied-lld", {"ld64.lld": DEBIAN_LLD})
    debian = toolchain.resolve("llvm", 19)
    built = toolchain.resolve("source", 19, built=[tree])
    assert built["ld64.lld"] == str(tree.path / "bin/ld64.lld")
    assert built["clang"] == debian["clang"] and built["llvm-lipo"] == debian["llvm-lipo"]
    data = built.to_json()
    assert data["provider"] == "source"
    assert data["tools"]["ld64.lld"]["command"] == "copied-lld-0123456789abcdef/bin/ld64.lld"
    assert data["tools"]["ld64.lld"]["sha256"] == sha256_file(DEBIAN_LLD)
    assert data["built_from_source"]["copied-lld"]["installed"] == {
        "bin/ld64.lld": sha256_file(DEBIAN_LLD)}
    assert str(tmp_path) not in json.dumps(data)
    # Everything else is Debian's, recorded the same way.
    assert {k: v for k, v in data["tools"].items() if k != "ld64.lld"} == \
        {k: v for k, v in debian.to_json()["tools"].items() if k != "ld64.lld"}


def test_source_provider_refusals(tmp_path):
    one = _fake_tree(tmp_path / "a", "one", {"ld64.lld": DEBIAN_LLD})
    two = _fake_tree(tmp_path / "b", "two", {"ld64.lld": DEBIAN_LLD})
    with pytest.raises(InputError, match="two recipes install ld64.lld"):
        toolchain.locate("source", 19, built=[one, two])
    with pytest.raises(InputError, match="needs at least one recipe"):
        toolchain.locate("source", 19)
    with pytest.raises(InputError, match="takes no recipes"):
        toolchain.locate("llvm", 19, built=[one])
    clang = _fake_tree(tmp_path / "c", "cc", {"clang": DEBIAN_LLD})
    with pytest.raises(InputError, match="compiler stays Debian's clang"):
        toolchain.locate("source", 19, built=[clang])
    unbuilt = toolchain.BuiltTree(tmp_path / "later-0000", ("bin/ld64.lld",))
    assert toolchain.locate("source", 19, built=[unbuilt])["ld64.lld"] == \
        str(tmp_path / "later-0000/bin/ld64.lld")
    with pytest.raises(InputError, match="not built yet"):
        toolchain.resolve("source", 19, built=[unbuilt])


def _sums_of(path: Path) -> dict[str, str]:
    return dict(reversed(line.split("  ", 1)) for line in path.read_text().splitlines())


def test_graph_builds_the_recipe_first_and_the_app_is_unchanged(tmp_path, cache):
    """The whole graph with provider "source": the recipe's task runs before
    the toolchain stage, the app and DMG are the published build's bytes
    (the linker is the same file), only the records of the toolchain differ,
    and a second run does nothing."""
    project = _source_project(tmp_path / "proj", cache)
    first = run_doit(project, HELLO_ONLY, cache=cache)
    assert first.returncode == 0, first.stdout + first.stderr
    ran = executed(first)
    assert "toolchain_source:copied-lld" in ran and "toolchain" in ran

    paths = BuildPaths.for_release(project / "build",
                                   config.load(project / "examples/hello/release.toml"))
    built = _sums_of(paths.sums)
    published = _sums_of(REPO / "examples/hello/SHA256SUMS")
    dmg = paths.dmg.name
    assert built[dmg] == published[dmg]
    record = json.loads(paths.toolchain_json.read_text())
    assert record["provider"] == "source"
    assert set(record["built_from_source"]) == {"copied-lld"}
    assert record["tools"]["ld64.lld"]["command"].startswith("copied-lld-")

    again = run_doit(project, HELLO_ONLY, cache=cache)
    assert again.returncode == 0, again.stdout + again.stderr
    assert executed(again) == set()

    # A changed recipe (or patch) is a new key: its tree is built again and
    # the toolchain record follows; the app's bytes do not move.
    recipe = project / "examples/hello/patches/copied-lld/recipe.toml"
    recipe.write_text(recipe.read_text() + "# changed\n")
    third = run_doit(project, HELLO_ONLY, cache=cache)
    assert third.returncode == 0, third.stdout + third.stderr
    assert {"toolchain_source:copied-lld", "toolchain"} <= executed(third)
    assert json.loads(paths.toolchain_json.read_text()) != record
    assert _sums_of(paths.sums)[dmg] == published[dmg]


def test_graph_names_a_missing_recipe(tmp_path):
    release = _release(tmp_path, '[toolchain]\nprovider = "source"\nrecipes = ["absent"]\n')
    with pytest.raises(InputError, match="'absent'"):
        ReleaseGraph(release, build=tmp_path / "build")
