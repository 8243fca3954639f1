"""Unified diffs (``diff -u`` / ``git diff``), parsed and applied in pure
Python, strictly: every hunk's context and removed lines must be found, at
the stated line or shifted by a whole offset, never with fuzz.  A hunk
that does not apply is an error naming the patch, the file and the hunk.

Format (GNU diffutils manual, "Unified Format"): header lines ``--- a/path``
and ``+++ b/path``, then hunks ``@@ -l,s +l,s @@`` whose lines start with
``' '`` (context), ``'-'`` (removed) or ``'+'`` (added); ``\\ No newline at
end of file`` marks the previous line as unterminated.  ``/dev/null`` as
the old name creates a file.  Paths lose their first component (``-p1``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorruptError, InputError

_HUNK_RE = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
MAX_PATCH = 16 << 20
MAX_OFFSET = 200          # lines a hunk may have moved (patch(1) searches similarly)


@dataclass
class Hunk:
    number: int                    # 1-based within its file
    header: str                    # the "@@ ... @@" line
    old_start: int
    old: list[bytes] = field(default_factory=list)   # context and removed lines
    new: list[bytes] = field(default_factory=list)   # context and added lines


@dataclass
class FilePatch:
    old_path: str | None           # None: the file is created
    new_path: str
    hunks: list[Hunk] = field(default_factory=list)


def _strip(name: bytes, where: str) -> str | None:
    text = name.split(b"\t")[0].decode("utf-8", "strict").strip()
    if text == "/dev/null":
        return None
    parts = text.split("/", 1)
    path = parts[1] if len(parts) == 2 else parts[0]
    if not path or path.startswith("/") or ".." in path.split("/"):
        raise CorruptError(where, "file name", f"{text!r} leaves the source tree")
    return path


def parse(data: bytes, where: str) -> list[FilePatch]:
    """The file patches of one unified diff; anything before the first
    ``---`` header (a patch's description) is ignored."""
    lines = data.splitlines(keepends=True)
    files: list[FilePatch] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not (line.startswith(b"--- ") and i + 1 < len(lines) and lines[i + 1].startswith(b"+++ ")):
            i += 1
            continue
        old = _strip(line[4:], where)
        new = _strip(lines[i + 1][4:], where)
        if new is None:
            raise CorruptError(where, f"line {i + 2}", "deleting files is not supported")
        current = FilePatch(old, new)
        files.append(current)
        i += 2
        while i < len(lines) and lines[i].startswith(b"@@"):
            match = _HUNK_RE.match(lines[i])
            if match is None:
                raise CorruptError(where, f"line {i + 1}", "malformed hunk header")
            old_len = int(match.group(2) or 1)
            new_len = int(match.group(4) or 1)
            hunk = Hunk(len(current.hunks) + 1, lines[i].decode("utf-8", "replace").strip(),
                        int(match.group(1)))
            i += 1
            while len(hunk.old) < old_len or len(hunk.new) < new_len:
                if i >= len(lines):
                    raise CorruptError(where, f"hunk {hunk.header}", "ends early")
                body, tag = lines[i][1:], lines[i][:1]
                if tag == b" " or lines[i] in (b"\n", b"\r\n"):
                    body = body if tag == b" " else lines[i]
                    hunk.old.append(body)
                    hunk.new.append(body)
                elif tag == b"-":
                    hunk.old.append(body)
                elif tag == b"+":
                    hunk.new.append(body)
                else:
                    raise CorruptError(where, f"line {i + 1}", "not a hunk line")
                i += 1
                if i < len(lines) and lines[i].startswith(b"\\"):
                    # "\ No newline at end of file": the line before has no newline.
                    for side in (hunk.old, hunk.new):
                        if side and side[-1].endswith(b"\n"):
                            side[-1] = side[-1][:-1]
                    i += 1
            current.hunks.append(hunk)
    if not files:
        raise CorruptError(where, "patch", "no file headers (--- / +++)")
    return files


def _find(lines: list[bytes], block: list[bytes], start: int) -> int | None:
    """Where ``block`` occurs nearest to ``start`` (0-based), within MAX_OFFSET."""
    for delta in range(MAX_OFFSET + 1):
        for at in (start + delta, start - delta) if delta else (start,):
            if 0 <= at <= len(lines) - len(block) and lines[at:at + len(block)] == block:
                return at
    return None


def apply_to_tree(patch_path: str | os.PathLike, root: str | os.PathLike) -> list[str]:
    """Apply the patch file to the tree at ``root`` (``-p1``); returns the
    changed paths.  Nothing is written unless every hunk of every file applies."""
    patch_path, root = Path(patch_path), Path(root)
    where = os.fspath(patch_path)
    if patch_path.stat().st_size > MAX_PATCH:
        raise InputError(f"{where}: larger than {MAX_PATCH >> 20} MiB")
    results: dict[Path, bytes] = {}
    for fp in parse(patch_path.read_bytes(), where):
        target = root / fp.new_path
        if fp.old_path is None:
            if target.exists():
                raise InputError(f"{where}: creates {fp.new_path}, which already exists")
            lines: list[bytes] = []
        else:
            source = root / fp.old_path
            if not source.is_file() or source.is_symlink():
                raise InputError(f"{where}: {fp.old_path}: no such file in the source tree")
            lines = results.get(source, source.read_bytes()).splitlines(keepends=True)
        # Earlier hunks' added-minus-removed lines and the offset they were
        # found at move where the next hunk is expected.
        drift = 0
        for hunk in fp.hunks:
            expected = max(hunk.old_start - 1, 0) + drift
            at = _find(lines, hunk.old, expected)
            if at is None:
                raise InputError(f"{where}: hunk {hunk.number} ({hunk.header}) of "
                                 f"{fp.new_path} does not apply")
            lines[at:at + len(hunk.old)] = hunk.new
            drift += (at - expected) + len(hunk.new) - len(hunk.old)
        results[target] = b"".join(lines)
    for target, data in sorted(results.items()):
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = os.stat(target).st_mode & 0o777 if target.exists() else 0o644
        target.write_bytes(data)
        os.chmod(target, mode)
    return sorted(p.relative_to(root).as_posix() for p in results)
