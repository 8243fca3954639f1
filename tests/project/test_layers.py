"""The package's layers, enforced: formats know nothing of build policy, the
CLI or doit; a format uses another only through its public package API;
shared modules depend on nothing above them."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.build.code_inputs import PACKAGE_ROOT, ImportGraph

FORMATS = ("hfs", "udif", "macho", "codesign", "pkg", "picture")
# Small modules every layer may use.
SHARED = ("errors", "atomic", "imagesource", "codecs", "tarball", "patchfile", "textescape", "versions",
          "binstruct", "jsonfile", "safedest", "fsprobe")
# What the edges (CLI, doit) resolve and hand down: never imported by a format.
EDGE_ONLY = ("epoch", "progress")


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    head = parts[1]
    if head in FORMATS:
        return "format"
    if head in SHARED:
        return "shared"
    if head in ("build", "diff", "cli", "bench", "fuzz"):
        return head
    if head == "__main__":
        return "cli"
    if head in EDGE_ONLY:
        return "edge"
    raise AssertionError(f"{module}: not in any layer; add it to one in tests/test_layers.py")


def layer_violations(graph: ImportGraph) -> list[str]:
    """``importer -> imported: rule`` for every import that breaks the layering."""
    found = []
    for module in graph.modules():
        layer = _layer(module)
        own = module.split(".")[:2]
        for imported in sorted(graph.direct_imports(module)):
            top = imported.split(".")[0]
            if top == "doit" and layer in ("format", "shared", "diff"):
                found.append(f"{module} -> {imported}: only build stages and front ends use doit")
                continue
            if top != "pipeline" or len(imported.split(".")) == 1:
                continue
            target = _layer(imported)
            parts = imported.split(".")
            if layer in ("format", "shared") and target in ("build", "diff", "cli", "bench", "fuzz", "edge"):
                found.append(f"{module} -> {imported}: a {layer} module must not use "
                             f"{target} code (pass values in from the edge)")
            elif layer == "shared" and target == "format":
                found.append(f"{module} -> {imported}: a shared module must not use a format")
            elif (layer == "format" and target == "format" and parts[:2] != own
                  and len(parts) > 2):
                found.append(f"{module} -> {imported}: another format's internals "
                             f"(use pipeline.{parts[1]}'s public API)")
            elif layer in ("build", "diff") and target in ("cli", "bench", "fuzz"):
                found.append(f"{module} -> {imported}: {layer} must not use {target}")
            elif layer == "build" and target == "diff" or layer == "diff" and target == "build":
                found.append(f"{module} -> {imported}: build stages and diff are independent")
    return found


def test_the_package_keeps_its_layers():
    assert layer_violations(ImportGraph()) == []


def test_a_forbidden_import_is_caught(tmp_path: Path):
    # The check can fail: the same tree with one format reaching up into the
    # build layer, one into another format's internals, and one using doit.
    root = tmp_path / "pipeline"
    shutil.copytree(PACKAGE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "hfs" / "writer.py").write_text((root / "hfs" / "writer.py").read_text()
                                            + "\nfrom ..build.config import load\n")
    (root / "macho" / "file.py").write_text((root / "macho" / "file.py").read_text()
                                            + "\ndef _late():\n    from ..udif.koly import Koly\n")
    (root / "udif" / "reader.py").write_text((root / "udif" / "reader.py").read_text()
                                             + "\nimport doit\n")
    found = layer_violations(ImportGraph(root))
    assert found == [
        "pipeline.hfs.writer -> pipeline.build.config: a format module must not use build code "
        "(pass values in from the edge)",
        "pipeline.macho.file -> pipeline.udif.koly: another format's internals "
        "(use pipeline.udif's public API)",
        "pipeline.udif.reader -> doit: only build stages and front ends use doit",
    ]


def test_every_package_folder_is_a_regular_package():
    # A folder without __init__.py is a namespace package: setuptools'
    # find_packages leaves it out of the wheel and the editable install maps
    # it nowhere ("cannot import name ... (unknown location)" on a fresh
    # machine), while a checkout on sys.path hides the problem.
    from setuptools import find_packages
    folders = sorted({p.parent for p in PACKAGE_ROOT.rglob("*.py")
                      if "__pycache__" not in p.parts})
    missing = [str(f.relative_to(PACKAGE_ROOT.parent)) for f in folders
               if not (f / "__init__.py").is_file()]
    assert missing == []
    found = set(find_packages(str(PACKAGE_ROOT.parent), include=["pipeline*"]))
    assert {".".join(f.relative_to(PACKAGE_ROOT.parent).parts) for f in folders} <= found
