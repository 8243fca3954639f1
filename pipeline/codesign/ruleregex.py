"""The regular expressions of CodeResources rules, matched without
backtracking.

The rules come from the input (an app's ``_CodeSignature/CodeResources``, a
signer's tarball), so they are not handed to Python's ``re``: a rule like
``((.*)*)*`` would make its backtracking run for ever.  Apple's rules use a
small dialect, and only that is accepted: literals, ``.``, escapes
(``\\.``, ``\\/``, ``\\d``, ``\\w``, ``\\s``...), bracket classes (``[^/]``,
``[a-z]``), groups ``( )`` with ``|``, the quantifiers ``*``, ``+``, ``?``,
and the anchors ``^`` and ``$``.  The pattern becomes a Thompson NFA that is
simulated over the path, so a search costs at most (path length) x (NFA
states): bounded whatever the pattern.  Anything else (counted repeats,
back-references, look-arounds, flags) is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_PATTERN = 1024
MAX_STATES = 4096
_ESCAPE_CLASSES = {
    "d": (False, frozenset("0123456789"), ()),
    "w": (False, frozenset("_"), (("a", "z"), ("A", "Z"), ("0", "9"))),
    "s": (False, frozenset(" \t\n\r\f\v"), ()),
}


class RuleSyntaxError(ValueError):
    """A pattern outside the dialect (the message says where and why)."""


@dataclass
class _CharSet:
    negated: bool
    chars: frozenset
    ranges: tuple = ()
    any: bool = False          # '.': everything but a newline

    def matches(self, c: str) -> bool:
        if self.any:
            return c != "\n"
        hit = c in self.chars or any(lo <= c <= hi for lo, hi in self.ranges)
        return hit != self.negated


@dataclass
class _State:
    kind: str                  # "char", "split", "bol", "eol", "match"
    test: _CharSet | None = None
    out: list[int] = field(default_factory=list)


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.states: list[_State] = []

    def fail(self, why: str) -> RuleSyntaxError:
        return RuleSyntaxError(f"at offset {self.i}: {why}")

    def new(self, kind: str, test: _CharSet | None = None) -> int:
        if len(self.states) >= MAX_STATES:
            raise self.fail(f"more than {MAX_STATES} states")
        self.states.append(_State(kind, test))
        return len(self.states) - 1

    # Fragments are (start state, list of dangling (state, slot) to patch).
    def parse(self) -> int:
        start, dangling = self.alternation()
        if self.i != len(self.p):
            raise self.fail(f"unexpected {self.p[self.i]!r}")
        end = self.new("match")
        self.patch(dangling, end)
        return start

    def patch(self, dangling, target: int) -> None:
        for state, slot in dangling:
            outs = self.states[state].out
            while len(outs) <= slot:
                outs.append(-1)
            outs[slot] = target

    def alternation(self):
        branches = [self.sequence()]
        while self.i < len(self.p) and self.p[self.i] == "|":
            self.i += 1
            branches.append(self.sequence())
        if len(branches) == 1:
            return branches[0]
        # A chain of splits, one per branch.
        start, dangling = branches[-1]
        for b_start, b_dangling in reversed(branches[:-1]):
            split = self.new("split")
            self.states[split].out = [b_start, start]
            start, dangling = split, b_dangling + dangling
        return start, dangling

    def sequence(self):
        frags = []
        while self.i < len(self.p) and self.p[self.i] not in "|)":
            frags.append(self.quantified())
        if not frags:
            # An empty branch: a split that goes straight on.
            s = self.new("split")
            return s, [(s, 0)]
        start, dangling = frags[0]
        for f_start, f_dangling in frags[1:]:
            self.patch(dangling, f_start)
            dangling = f_dangling
        return start, dangling

    def quantified(self):
        atom_start, atom_dangling = self.atom()
        if self.i < len(self.p) and self.p[self.i] in "*+?":
            q = self.p[self.i]
            self.i += 1
            if self.i < len(self.p) and self.p[self.i] in "*+?":
                raise self.fail("lazy or possessive quantifiers are not in the dialect")
            split = self.new("split")
            if q == "*":
                self.states[split].out = [atom_start]
                self.patch(atom_dangling, split)
                return split, [(split, 1)]
            if q == "+":
                self.states[split].out = [atom_start]
                self.patch(atom_dangling, split)
                return atom_start, [(split, 1)]
            self.states[split].out = [atom_start]
            return split, atom_dangling + [(split, 1)]
        if self.i < len(self.p) and self.p[self.i] == "{":
            raise self.fail("counted repetition {m,n} is not in the dialect")
        return atom_start, atom_dangling

    def atom(self):
        c = self.p[self.i]
        if c == "(":
            self.i += 1
            if self.p.startswith("?", self.i):
                raise self.fail("(?...) groups (flags, look-arounds, names) are not in the dialect")
            frag = self.alternation()
            if self.i >= len(self.p) or self.p[self.i] != ")":
                raise self.fail("unclosed group")
            self.i += 1
            return frag
        if c in "*+?{":
            raise self.fail(f"nothing to repeat before {c!r}")
        if c == "^" or c == "$":
            self.i += 1
            s = self.new("bol" if c == "^" else "eol")
            return s, [(s, 0)]
        self.i += 1
        if c == ".":
            test = _CharSet(False, frozenset(), (), True)
        elif c == "[":
            test = self.bracket()
        elif c == "\\":
            test = self.escape()
        else:
            test = _CharSet(False, frozenset(c))
        s = self.new("char", test)
        return s, [(s, 0)]

    def escape(self) -> _CharSet:
        if self.i >= len(self.p):
            raise self.fail("a trailing backslash")
        c = self.p[self.i]
        self.i += 1
        if c.isdigit():
            raise self.fail("back-references are not in the dialect")
        if c in _ESCAPE_CLASSES:
            negated, chars, ranges = _ESCAPE_CLASSES[c]
            return _CharSet(negated, chars, ranges)
        if c.upper() in _ESCAPE_CLASSES and c.isupper():
            _n, chars, ranges = _ESCAPE_CLASSES[c.lower()]
            return _CharSet(True, chars, ranges)
        if c.isalnum():
            raise self.fail(f"the escape \\{c} is not in the dialect")
        return _CharSet(False, frozenset(c))

    def bracket(self) -> _CharSet:
        negated = self.p.startswith("^", self.i)
        if negated:
            self.i += 1
        chars: set[str] = set()
        ranges = []
        first = True
        while True:
            if self.i >= len(self.p):
                raise self.fail("unclosed [ ]")
            c = self.p[self.i]
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            self.i += 1
            if c == "\\":
                if self.i >= len(self.p):
                    raise self.fail("a trailing backslash")
                c = self.p[self.i]
                self.i += 1
            if self.p.startswith("-", self.i) and self.i + 1 < len(self.p) and \
                    self.p[self.i + 1] != "]":
                hi = self.p[self.i + 1]
                self.i += 2
                if hi < c:
                    raise self.fail(f"the range {c}-{hi} runs backwards")
                ranges.append((c, hi))
            else:
                chars.add(c)
        return _CharSet(negated, frozenset(chars), tuple(ranges))


class RulePattern:
    """A compiled rule; ``search`` is ``re.search`` for the dialect."""

    def __init__(self, pattern: str) -> None:
        if not isinstance(pattern, str):
            raise RuleSyntaxError(f"a rule must be a string, not {type(pattern).__name__}")
        if len(pattern) > MAX_PATTERN:
            raise RuleSyntaxError(f"{len(pattern)} characters, more than {MAX_PATTERN}")
        self.pattern = pattern
        parser = _Parser(pattern)
        self._start = parser.parse()
        self._states = parser.states

    def _closure(self, seeds: list[int], pos: int, end: int, into: set[int]) -> None:
        stack = list(seeds)
        while stack:
            s = stack.pop()
            if s < 0 or s in into:
                continue
            into.add(s)
            st = self._states[s]
            if st.kind == "split":
                stack.extend(st.out)
            elif st.kind == "bol" and pos == 0 or st.kind == "eol" and pos == end:
                stack.extend(st.out)

    def search(self, text: str) -> bool:
        end = len(text)
        current: set[int] = set()
        for pos in range(end + 1):
            # Unanchored search: a match may start at any position.
            self._closure([self._start], pos, end, current)
            if any(self._states[s].kind == "match" for s in current):
                return True
            if pos == end:
                break
            c = text[pos]
            following = [st.out[0] for s in current
                         for st in (self._states[s],) if st.kind == "char" and st.test.matches(c)]
            current = set()
            self._closure(following, pos + 1, end, current)
        return False
