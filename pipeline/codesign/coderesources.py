"""_CodeSignature/CodeResources: the seal over a bundle's non-code files.

An XML plist with four keys (docs/formats.md §3.4):
  files   - version-1 seal: SHA-1 of each file matched by ``rules``;
  files2  - version-2 seal: {hash2: SHA-256} per file matched by ``rules2``,
            {cdhash, requirement} for nested code, {symlink: target};
  rules, rules2 - the rule sets themselves (Apple's defaults for apps).
Paths are relative to ``Contents/``.  A rule is a regular expression with
flags: ``omit`` (not sealed), ``exclude`` (not sealed, not descended),
``optional`` (may be missing), ``nested`` (sealed as code); the matching
rule with the highest weight wins (weight defaults to 1), as in Apple's
ResourceBuilder (Security framework, resources.cpp).
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import CorruptError
from .ruleregex import RulePattern, RuleSyntaxError

# Apple's default rule sets for an application bundle, exactly as codesign
# writes them (checked byte for byte against the corpus's CodeResources).
DEFAULT_RULES: dict = {
    "^Resources/": True,
    "^Resources/.*\\.lproj/": {"optional": True, "weight": 1000.0},
    "^Resources/.*\\.lproj/locversion.plist$": {"omit": True, "weight": 1100.0},
    "^Resources/Base\\.lproj/": {"weight": 1010.0},
    "^version.plist$": True,
}
DEFAULT_RULES2: dict = {
    ".*\\.dSYM($|/)": {"weight": 11.0},
    "^(.*/)?\\.DS_Store$": {"omit": True, "weight": 2000.0},
    "^(Frameworks|SharedFrameworks|PlugIns|Plug-ins|XPCServices|Helpers|MacOS|"
    "Library/(Automator|Spotlight|LoginItems))/": {"nested": True, "weight": 10.0},
    "^.*": True,
    "^Info\\.plist$": {"omit": True, "weight": 20.0},
    "^PkgInfo$": {"omit": True, "weight": 20.0},
    "^Resources/": {"weight": 20.0},
    "^Resources/.*\\.lproj/": {"optional": True, "weight": 1000.0},
    "^Resources/.*\\.lproj/locversion.plist$": {"omit": True, "weight": 1100.0},
    "^Resources/Base\\.lproj/": {"weight": 1010.0},
    "^[^/]+$": {"nested": True, "weight": 10.0},
    "^embedded\\.provisionprofile$": {"weight": 20.0},
    "^version\\.plist$": {"weight": 20.0},
}

# Bundle folders that hold nested code and are sealed by cdhash.
BUNDLE_SUFFIXES = (".app", ".framework", ".xpc", ".appex", ".bundle", ".plugin", ".kext")


@dataclass(frozen=True)
class Rule:
    pattern: str
    regex: RulePattern
    weight: float
    omit: bool = False
    exclude: bool = False
    optional: bool = False
    nested: bool = False


def compile_rules(rules: dict, path: str | os.PathLike | None = None) -> list[Rule]:
    """Rules from a CodeResources ``rules``/``rules2`` dictionary; ``path``
    (the CodeResources file) names the culprit when a rule is malformed."""
    out = []
    if not isinstance(rules, dict):
        raise CorruptError(path, "CodeResources rules", f"a {type(rules).__name__}, not a dictionary")
    for pattern in rules:
        if not isinstance(pattern, str):
            raise CorruptError(path, "CodeResources rules", f"the key {pattern!r} is not a string")
    for pattern in sorted(rules):
        value = rules[pattern]
        spec = value if isinstance(value, dict) else {}
        if value is False:
            spec = {"omit": True}
        try:
            # Apple's small regex dialect, matched without backtracking: a
            # hostile rule cannot make matching run for ever.
            regex = RulePattern(pattern)
        except RuleSyntaxError as exc:
            raise CorruptError(path, f"CodeResources rule {pattern[:80]!r}",
                               f"not a rule pattern: {exc}") from None
        weight = spec.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise CorruptError(path, f"CodeResources rule {pattern!r}.weight",
                               f"{weight!r} is not a number")
        out.append(Rule(pattern, regex, float(weight), bool(spec.get("omit")),
                        bool(spec.get("exclude")), bool(spec.get("optional")),
                        bool(spec.get("nested"))))
    return out


def match_rule(rules: list[Rule], relpath: str) -> Rule | None:
    best = None
    for rule in rules:
        if rule.regex.search(relpath) and (best is None or rule.weight > best.weight):
            best = rule
    return best


@dataclass
class ResourceItem:
    relpath: str
    kind: str              # "file", "symlink", "nested"
    path: Path
    optional: bool = False


def scan(contents: Path, rules: list[Rule], skip: set[str]) -> list[ResourceItem]:
    """Sorted walk of ``contents``; what ``rules`` seal, and how."""
    items: list[ResourceItem] = []

    def walk(folder: Path, prefix: str) -> None:
        for name in sorted(os.listdir(folder)):
            path = folder / name
            rel = prefix + name
            if rel in skip or rel == "_CodeSignature" or rel == "CodeResources":
                continue
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode):
                rule = match_rule(rules, rel + "/")
                if rule is not None and rule.exclude:
                    continue
                if rule is not None and rule.nested and name.endswith(BUNDLE_SUFFIXES):
                    items.append(ResourceItem(rel, "nested", path, rule.optional))
                    continue
                walk(path, rel + "/")
                continue
            rule = match_rule(rules, rel)
            if rule is None or rule.omit or rule.exclude:
                continue
            if stat.S_ISLNK(st.st_mode):
                items.append(ResourceItem(rel, "symlink", path, rule.optional))
            elif rule.nested and _is_code(path):
                items.append(ResourceItem(rel, "nested", path, rule.optional))
            else:
                items.append(ResourceItem(rel, "file", path, rule.optional))

    walk(contents, "")
    return items


def _is_code(path: Path) -> bool:
    from ..macho import is_macho
    with open(path, "rb") as fh:
        return is_macho(fh.read(8))


def _file_hash(path: Path, name: str) -> bytes:
    h = hashlib.new(name)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


NestedInfo = Callable[[Path], "tuple[bytes, str]"]    # path -> (cdhash, requirement text)


def build_code_resources(contents: Path, main_executable: str | None,
                         nested: NestedInfo | None = None, rules: dict | None = None,
                         rules2: dict | None = None) -> bytes:
    """The CodeResources plist for the bundle whose ``Contents/`` is ``contents``.

    ``main_executable`` is relative to ``contents`` (e.g. "MacOS/App");
    ``nested`` gives (cdhash, designated requirement) of nested code, which
    must already be signed.
    """
    rules = DEFAULT_RULES if rules is None else rules
    rules2 = DEFAULT_RULES2 if rules2 is None else rules2
    skip = {main_executable} if main_executable else set()
    files: dict = {}
    for item in scan(contents, compile_rules(rules), skip):
        if item.kind == "symlink":
            digest = hashlib.sha1(os.readlink(item.path).encode()).digest()
        elif item.kind == "file":
            digest = _file_hash(item.path, "sha1")
        else:
            continue       # version-1 seals know no nested code
        files[item.relpath] = {"hash": digest, "optional": True} if item.optional else digest
    files2: dict = {}
    for item in scan(contents, compile_rules(rules2), skip):
        if item.kind == "symlink":
            entry: dict = {"symlink": os.readlink(item.path)}
        elif item.kind == "nested":
            if nested is None:
                raise CorruptError(item.path, "nested code", "sign nested code before its bundle")
            cdhash, requirement = nested(item.path)
            entry = {"cdhash": cdhash, "requirement": requirement}
        else:
            entry = {"hash2": _file_hash(item.path, "sha256")}
        if item.optional:
            entry["optional"] = True
        files2[item.relpath] = entry
    return dumps({"files": files, "files2": files2, "rules": rules, "rules2": rules2})


def dumps(plist: dict) -> bytes:
    """plistlib's XML, with reals written as CFPropertyList does ("1000",
    not "1000.0"), so the output matches codesign's byte for byte."""
    xml = plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=True)
    return re.sub(rb"<real>(-?\d+)\.0</real>", rb"<real>\1</real>", xml)


def load(data: bytes, path: str | os.PathLike) -> dict:
    try:
        plist = plistlib.loads(data)
    except Exception as exc:
        raise CorruptError(path, "CodeResources", f"not a property list ({exc})") from None
    if not isinstance(plist, dict):
        raise CorruptError(path, "CodeResources", "top level is not a dictionary")
    return plist


def check_code_resources(contents: Path, data: bytes, main_executable: str | None,
                         nested_cdhashes: Callable[[Path], set[bytes]],
                         path_for_errors: str) -> list[str]:
    """Compare the recorded files2 seal with the bundle on disk.

    Returns failures such as "Resources/a.txt: modified", "...: missing",
    "...: added (not sealed)".
    """
    plist = load(data, path_for_errors)
    recorded = plist.get("files2")
    rules2 = plist.get("rules2")
    if not isinstance(recorded, dict) or not isinstance(rules2, dict):
        return ["CodeResources has no files2/rules2 (version-1 seals are not checked)"]
    skip = {main_executable} if main_executable else set()
    found = {item.relpath: item
             for item in scan(contents, compile_rules(rules2, path_for_errors), skip)}
    failures = []
    for rel in sorted(set(recorded) | set(found)):
        entry = recorded.get(rel)
        item = found.get(rel)
        if entry is None:
            failures.append(f"{rel}: added (not sealed by CodeResources)")
            continue
        if not isinstance(entry, dict):
            entry = {"hash": entry}
        if item is None:
            if not entry.get("optional"):
                failures.append(f"{rel}: missing")
            continue
        if "symlink" in entry:
            ok = item.kind == "symlink" and os.readlink(item.path) == entry["symlink"]
        elif "cdhash" in entry:
            # Universal nested code is sealed by one slice's cdhash.
            ok = isinstance(entry["cdhash"], bytes) and \
                entry["cdhash"] in nested_cdhashes(item.path)
        elif "hash2" in entry:
            ok = item.kind != "symlink" and os.path.isfile(item.path) and \
                _file_hash(item.path, "sha256") == entry["hash2"]
        elif "hash" in entry:
            ok = item.kind != "symlink" and os.path.isfile(item.path) and \
                _file_hash(item.path, "sha1") == entry["hash"]
        else:
            ok = False
        if not ok:
            failures.append(f"{rel}: modified")
    return failures


def sealed_as_data(root: Path) -> set[Path]:
    """Files under ``root`` that a bundle's CodeResources seals by their hash
    (``hash``/``hash2`` entries), not as nested code: a Mach-O file among
    them (a PowerPC template, a helper never signed) is data to that seal,
    and is checked as data, never as code."""
    out: set[Path] = set()
    for seal in sorted(root.rglob("_CodeSignature/CodeResources")) if root.is_dir() else []:
        contents = seal.parent.parent
        try:
            recorded = load(seal.read_bytes(), seal).get("files2")
        except (CorruptError, OSError):
            continue              # the seal's own check reports it
        if not isinstance(recorded, dict):
            continue
        for rel, entry in recorded.items():
            if isinstance(entry, bytes) or (isinstance(entry, dict) and "cdhash" not in entry
                                            and ("hash2" in entry or "hash" in entry)):
                out.add(contents / rel)
    return out
