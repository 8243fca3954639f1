"""Toolchains from pinned sources with patches (issue 12 §1 machinery), on a
small fixture: a source archive made here, a recipe, two patches.

Oracles: GNU patch applies the same patches to the same tree (our applier
must agree byte for byte); the built program's output shows both patches
applied in order; sha256 of installed trees across two caches.
"""

from __future__ import annotations

import difflib
import gzip
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from helpers import require_tool
from pipeline import patchfile
from pipeline.build import source_toolchain
from pipeline.errors import InputError, VerificationError
from pipeline.jsonfile import sha256_file

HELLO = b'''#include <stdio.h>

int main(void) {
    printf("hello\\n");
    return 0;
}
'''
PATCH_1 = b'''Say more.  (What: the greeting; why: the test needs a visible change.)
--- a/src/hello.c
+++ b/src/hello.c
@@ -3,4 +3,4 @@
 int main(void) {
-    printf("hello\\n");
+    printf("hello, patched\\n");
     return 0;
 }
'''
# Its context is 0001's result: it only applies after 0001.
PATCH_2 = b'''--- a/src/hello.c
+++ b/src/hello.c
@@ -4,3 +4,3 @@
-    printf("hello, patched\\n");
-    return 0;
+    printf("hello, patched twice\\n");
+    return 7;
 }
'''
RECIPE = '''name = "hello-tool"
host_tools = ["clang-19"]
steps = [["clang-19", "-O2", "-o", "{{build}}/hello", "{{src}}/src/hello.c"]]

[[sources]]
file = "proj-1.0.tar.gz"
sha256 = "{sha}"

[extract]
strip = 1
paths = ["src"]

[install]
"bin/hello" = "{{build}}/hello"
'''


def _archive(path: Path) -> str:
    """The same bytes every time (gzip's header time is fixed)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in (("proj-1.0/src/hello.c", HELLO), ("proj-1.0/README", b"readme\n"),
                           ("proj-1.0/unrelated/big.bin", b"\0" * 4096)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with gzip.GzipFile(path, "wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return sha256_file(path)


def _setup(root: Path, *, sha: str | None = None, patches=(("0001-say-more.patch", PATCH_1),
                                                            ("0002-exit-7.patch", PATCH_2))):
    cache = root / "cache"
    cache.mkdir(parents=True)
    real = _archive(cache / "proj-1.0.tar.gz")
    recipe_dir = root / "patches" / "hello-tool"
    recipe_dir.mkdir(parents=True)
    (recipe_dir / "recipe.toml").write_text(RECIPE.format(sha=sha or real))
    for name, data in patches:
        (recipe_dir / name).write_bytes(data)
    return source_toolchain.load_recipe(recipe_dir / "recipe.toml"), cache


def test_patches_apply_in_order_and_the_manifest_records_everything(tmp_path):
    recipe, cache = _setup(tmp_path)
    installed = source_toolchain.provide(recipe, cache)
    run = subprocess.run([str(installed / "bin" / "hello")], capture_output=True, text=True)
    assert (run.stdout, run.returncode) == ("hello, patched twice\n", 7)
    manifest = json.loads((installed / "toolchain.json").read_text())
    assert manifest["sources"] == {"proj-1.0.tar.gz": sha256_file(cache / "proj-1.0.tar.gz")}
    assert list(manifest["patches"]) == ["0001-say-more.patch", "0002-exit-7.patch"]
    assert manifest["installed"] == {"bin/hello": sha256_file(installed / "bin" / "hello")}
    assert manifest["recipe"]["sha256"] == sha256_file(recipe.path)
    assert "clang-19" in manifest["host_tools"]
    assert not any(p.name.startswith(".") for p in installed.parent.iterdir())   # no work left


def test_second_run_does_nothing_and_a_changed_patch_rebuilds(tmp_path, monkeypatch):
    recipe, cache = _setup(tmp_path)
    first = source_toolchain.provide(recipe, cache)
    # Up to date: no step may run (a build would need subprocess to start cc).
    monkeypatch.setattr(source_toolchain, "_extract",
                        lambda *a: pytest.fail("rebuilt although nothing changed"))
    assert source_toolchain.provide(recipe, cache) == first
    monkeypatch.undo()
    patch = recipe.patches_dir / "0002-exit-7.patch"
    patch.write_bytes(PATCH_2.replace(b"return 7;", b"return 8;"))
    second = source_toolchain.provide(recipe, cache)
    assert second != first
    assert subprocess.run([str(second / "bin" / "hello")]).returncode == 8


def test_hash_mismatch_is_refused_before_extraction(tmp_path, monkeypatch):
    recipe, cache = _setup(tmp_path, sha="0" * 64)
    monkeypatch.setattr(source_toolchain, "_extract", lambda *a: pytest.fail("read it"))
    with pytest.raises(VerificationError, match="proj-1.0.tar.gz: source archive refused "
                                                "before extraction: expected sha256 0000"):
        source_toolchain.provide(recipe, cache)


def test_a_patch_that_does_not_apply_names_patch_and_hunk(tmp_path):
    # 0002 before 0001: its context does not exist yet.
    recipe, cache = _setup(tmp_path, patches=(("0001-exit-7.patch", PATCH_2),
                                              ("0002-say-more.patch", PATCH_1)))
    with pytest.raises(InputError, match=r"0001-exit-7\.patch: hunk 1 \(@@ -4,3 \+4,3 @@\) of "
                                         r"src/hello\.c does not apply"):
        source_toolchain.provide(recipe, cache)
    assert not (cache / "toolchains").exists() or not any(
        (cache / "toolchains").glob("hello-tool-*/toolchain.json"))


def test_two_builds_install_identical_trees(tmp_path):
    a = source_toolchain.provide(*_setup(tmp_path / "a"))
    b = source_toolchain.provide(*_setup(tmp_path / "elsewhere" / "b"))
    assert a.name == b.name
    for rel in ("bin/hello", "toolchain.json"):
        assert sha256_file(a / rel) == sha256_file(b / rel), rel


def test_badly_named_patches_are_refused(tmp_path):
    recipe, cache = _setup(tmp_path, patches=(("fix.patch", PATCH_1),))
    with pytest.raises(InputError, match="fix.patch: patch names are NNNN-what.patch"):
        source_toolchain.provide(recipe, cache)


def test_our_patch_applier_agrees_with_gnu_patch(tmp_path):
    for name in ("ours", "gnu"):
        (tmp_path / name / "src").mkdir(parents=True)
        (tmp_path / name / "src" / "hello.c").write_bytes(HELLO)
    for data in (PATCH_1, PATCH_2):
        (tmp_path / "p.patch").write_bytes(data)
        patchfile.apply_to_tree(tmp_path / "p.patch", tmp_path / "ours")
        subprocess.run([require_tool("patch"), "-p1", "-s", "-i", str(tmp_path / "p.patch")],
                       cwd=tmp_path / "gnu", check=True)
    assert (tmp_path / "ours/src/hello.c").read_bytes() == (tmp_path / "gnu/src/hello.c").read_bytes()


lines = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "int x;\n", "}\n", "\n"]), max_size=40)


@settings(max_examples=150, deadline=None)
@given(old=lines, new=lines)
def test_any_unified_diff_takes_old_to_new(tmp_path_factory, old, new):
    root = tmp_path_factory.mktemp("prop")
    (root / "t").mkdir()
    (root / "t" / "f.txt").write_text("".join(old))
    diff = "".join(difflib.unified_diff(old, new, "a/f.txt", "b/f.txt"))
    if not diff:
        return
    (root / "p.patch").write_text(diff)
    patchfile.apply_to_tree(root / "p.patch", root / "t")
    assert (root / "t" / "f.txt").read_text() == "".join(new)


def test_command_line(tmp_path, capsys):
    from pipeline.cli import main as cli_main
    recipe, cache = _setup(tmp_path)
    assert cli_main(["toolchain", "build", "--recipe", str(recipe.path), "--cache", str(cache),
                     "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (Path(out["location"]) / "bin" / "hello").is_file()
    assert set(out["installed"]) == {"bin/hello"}
    assert list(out["patches"]) == ["0001-say-more.patch", "0002-exit-7.patch"]
    recipe.path.write_text("surprise = 1\n" + recipe.path.read_text())
    assert cli_main(["toolchain", "build", "--recipe", str(recipe.path), "--cache",
                     str(cache)]) == 2
    assert "recipe.toml: surprise: unknown key" in capsys.readouterr().err


def test_a_relative_cache_folder_works(tmp_path, monkeypatch):
    # The steps run in the build folder: the paths they are given must not
    # be relative to the caller's folder (`--cache build/cache` failed so).
    recipe, _ = _setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    installed = source_toolchain.provide(recipe, Path("cache"))
    assert installed.is_absolute() and (installed / "bin" / "hello").is_file()


def test_support_files_reach_the_steps_and_the_key(tmp_path):
    recipe, cache = _setup(tmp_path, patches=())
    folder = recipe.patches_dir
    (folder / "extra").mkdir()
    (folder / "extra" / "greeting.h").write_text('#define GREETING "from support"\n')
    text = recipe.path.read_text().replace(
        'steps = [["clang-19", "-O2",',
        'support = ["extra/greeting.h"]\nsteps = [["clang-19", "-O2", "-include", '
        '"{support}/extra/greeting.h",')
    recipe.path.write_text(text)
    recipe = source_toolchain.load_recipe(recipe.path)
    first = source_toolchain.provide(recipe, cache)
    manifest = json.loads((first / "toolchain.json").read_text())
    assert manifest["support"] == {"extra/greeting.h": sha256_file(folder / "extra/greeting.h")}
    (folder / "extra" / "greeting.h").write_text('#define GREETING "changed"\n')
    assert source_toolchain.provide(recipe, cache) != first
    recipe.path.write_text(text.replace('"extra/greeting.h"]', '"extra/absent.h"]', 1))
    with pytest.raises(InputError, match=r"support\[0\].*not a file beside the recipe"):
        source_toolchain.load_recipe(recipe.path)


def test_a_failing_step_keeps_its_whole_output(tmp_path):
    recipe, cache = _setup(tmp_path, patches=())
    recipe.path.write_text(recipe.path.read_text().replace("{src}/src/hello.c",
                                                           "{src}/src/absent.c"))
    with pytest.raises(InputError, match=r"failed \(exit 1; whole output in .*\.failed\.log\)"):
        source_toolchain.provide(source_toolchain.load_recipe(recipe.path), cache)
    log = next((cache / "toolchains").glob("hello-tool-*.failed.log")).read_text()
    assert "absent.c" in log and "no such file" in log.lower()
    assert not any(p.name.startswith(".") for p in (cache / "toolchains").iterdir())
