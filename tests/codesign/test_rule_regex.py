"""CodeResources rules matched without backtracking (issue 18 §1): Apple's
own rules and random patterns of the dialect match as Python's `re` matches
them; hostile rules (catastrophic nesting, counted repeats of 2^32,
non-string keys) finish at once or are refused naming the rule."""

from __future__ import annotations

import plistlib
import random
import re
import time

import pytest

from pipeline.codesign.coderesources import DEFAULT_RULES, check_code_resources
from pipeline.codesign.ruleregex import RulePattern, RuleSyntaxError
from pipeline.errors import CorruptError

PATHS = ["Resources/x", "Info.plist", "a/b/.DS_Store", ".DS_Store", "MacOS/App", "PkgInfo",
         "Resources/en.lproj/locversion.plist", "Resources/Base.lproj/Main.nib",
         "Library/Spotlight/x.mdimporter", "Frameworks/A.framework", "version.plist",
         "_MASReceipt/receipt", "embedded.provisionprofile", "", "x", "Resources"]


def test_apple_rules_match_as_re_does():
    patterns = list(DEFAULT_RULES) + [
        "^(Frameworks|SharedFrameworks|PlugIns|Plug-ins|XPCServices|Helpers|MacOS|"
        "Library/(Automator|Spotlight|LoginItems))/", "^.*\\.dSYM($|/)", "^[^/]+$",
        "^(.*/)?\\.DS_Store$", "^Resources/.*\\.lproj/locversion.plist$"]
    for p in patterns:
        ours, theirs = RulePattern(p), re.compile(p)
        for path in PATHS:
            assert ours.search(path) == bool(theirs.search(path)), (p, path)


def _random_pattern(rng: random.Random, depth: int = 0) -> str:
    out = ""
    for _ in range(rng.randint(1, 4)):
        k = rng.random()
        if k < 0.4:
            out += rng.choice(["a", "b", "/", "\\.", "."])
        elif k < 0.55 and depth < 2:
            out += f"({_random_pattern(rng, depth + 1)}|{_random_pattern(rng, depth + 1)})"
        elif k < 0.7:
            out += rng.choice(["[^/]", "[ab]", "[a-c]", "\\w", "\\d"])
        else:
            out += rng.choice("ab")
        if rng.random() < 0.3:
            out += rng.choice("*+?")
    return out


def test_random_dialect_patterns_match_as_re_does():
    rng = random.Random(18)
    for _ in range(1500):
        p = ("^" if rng.random() < 0.5 else "") + _random_pattern(rng) + \
            ("$" if rng.random() < 0.3 else "")
        ours, theirs = RulePattern(p), re.compile(p)
        for _ in range(8):
            s = "".join(rng.choice("ab/.-1_") for _ in range(rng.randint(0, 9)))
            assert ours.search(s) == bool(theirs.search(s)), (p, s)


@pytest.mark.parametrize("pattern", ["((((((((((.*)*)*)*)*)*)*)*)*)*)$x", "((a*)*)*b",
                                     "(a|a)*(a|a)*(a|a)*c", "(.*)*(.*)*(.*)*!"])
def test_catastrophic_patterns_finish_at_once(pattern):
    rule = RulePattern(pattern)
    start = time.monotonic()
    assert rule.search("a" * 4000) in (True, False)
    assert time.monotonic() - start < 1


@pytest.mark.parametrize("pattern, why", [
    ("x{4294967296}", "counted repetition"), ("(?i)x", "(?...) groups"),
    ("(a)\\1", "back-references"), ("a*?", "lazy or possessive"), ("[z-a]", "runs backwards"),
    ("(ab", "unclosed group"), ("[ab", "unclosed [ ]"), ("*a", "nothing to repeat"),
    ("x" * 2000, "more than 1024"),
])
def test_patterns_outside_the_dialect_are_refused(pattern, why):
    with pytest.raises(RuleSyntaxError, match=re.escape(why)):
        RulePattern(pattern)


def test_hostile_rules_through_code_resources(tmp_path):
    contents = tmp_path / "Contents"
    (contents / "Resources").mkdir(parents=True)
    (contents / "Resources" / ("a" * 200)).write_bytes(b"x")

    def check(rules2) -> list[str]:
        return check_code_resources(contents, plistlib.dumps({"files2": {}, "rules2": rules2},
                                                             fmt=plistlib.FMT_BINARY),
                                    None, lambda p: {b"h"}, "CR.plist")
    start = time.monotonic()
    assert check({"((((((((((.*)*)*)*)*)*)*)*)*)*)$!": True, "^": True})
    assert time.monotonic() - start < 2
    with pytest.raises(CorruptError, match=r"CR.plist: CodeResources rule 'x\{4294967296\}': "
                                           r"not a rule pattern: .*counted repetition"):
        check({"x{4294967296}": True})


def test_a_rules_key_that_is_not_a_string(tmp_path):
    # A binary property list can key a dictionary with an integer.
    contents = tmp_path / "Contents"
    contents.mkdir()
    with pytest.raises(CorruptError, match=r"CR.plist: CodeResources rules: the key 1 is not a "
                                           "string"):
        check_code_resources(contents, _binary_plist_with_int_key(), None, lambda p: set(),
                             "CR.plist")


def _binary_plist_with_int_key() -> bytes:
    # plistlib refuses to write non-string keys; build the binary plist by
    # hand: {"files2": {}, "rules2": {1: True}} (bplist00, 1-byte refs).
    objects = [
        b"\xd2\x01\x02\x03\x04",                   # 0: dict, 2 entries: keys 1,2 values 3,4
        b"\x56files2", b"\x56rules2",              # 1, 2: ASCII strings
        b"\xd0",                                   # 3: empty dict
        b"\xd1\x05\x06",                           # 4: dict, 1 entry: key 5 value 6
        b"\x10\x01",                               # 5: integer 1
        b"\x09",                                   # 6: true
    ]
    body = b"bplist00"
    offsets = []
    for obj in objects:
        offsets.append(len(body))
        body += obj
    table_at = len(body)
    body += bytes(offsets)
    trailer = bytes(6) + bytes([1, 1]) + len(objects).to_bytes(8, "big") + bytes(8) + \
        table_at.to_bytes(8, "big")
    return body + trailer
