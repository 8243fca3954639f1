"""Generated source trees for the HFS+ tests ("the name zoo").

``make_zoo`` writes a tree to disk and returns what every reader must see:
{posix path: Expect}.  Contents come from a seeded generator, so the tree is
the same every time; ``reverse`` creates it in the opposite order.
"""

from __future__ import annotations

import os
import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Expect:
    kind: str                 # "file", "dir", "symlink"
    mode: int                 # permission bits as the volume should store them
    data: bytes = b""
    target: str = ""
    link_group: str | None = None


def nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


# Names every HFS+ writer must get right; each lives in its own folder where
# two of them would fold to the same key.
ZOO_NAMES = [
    "café",                                 # precomposed é
    "cafe\u0301 decomposed",                # already decomposed
    "한국어 파일",                            # Hangul syllables (decomposed to jamo)
    "emoji 😀🎉",                            # astral characters: surrogate pairs
    "a:b:c",                                # ':' is stored as '/'
    "Ω ohm \u2126",                          # U+2126 stays: never decomposed range
    "spaces and (parens) [x]",
    "x" * 255,                              # 255 UTF-16 units
    "é" * 80,                               # 160 units once decomposed (240 bytes NFD)
    ".hidden",
    "UPPER lower",
    "ﬁ ligature",                           # compatibility, not canonical: kept
    "Zeichen ÄÖÜß",
]


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write with the process umask applied, as a build tool would."""
    umask = os.umask(0)
    os.umask(umask)
    path.write_bytes(data)
    os.chmod(path, (0o777 if mode & 0o111 else 0o666) & ~umask)


def make_zoo(root: Path, *, folders: int = 200, files_per_folder: int = 10,
             big_files: tuple[int, ...] = (3 * 1024 * 1024, 5 * 1024 * 1024 + 1),
             reverse: bool = False, mtime: int | None = None,
             seed: int = 1234) -> dict[str, Expect]:
    rng = random.Random(seed)
    plan: list[tuple[str, Expect]] = []

    def add(path: str, exp: Expect) -> None:
        plan.append((path, exp))

    # Many folders of small files.
    for d in range(folders):
        group = f"bulk/g{d // 20:02d}/d{d:03d}"
        add(group, Expect("dir", 0o755))
        for f in range(files_per_folder):
            n = rng.randrange(0, 300)
            exe = f % 7 == 3
            add(f"{group}/file{f:02d}{'.sh' if exe else '.txt'}",
                Expect("file", 0o755 if exe else 0o644, rng.randbytes(n)))
    # The name zoo, each name in its own folder (as a file and as a folder).
    for i, name in enumerate(ZOO_NAMES):
        add(f"zoo/n{i:02d}", Expect("dir", 0o755))
        add(f"zoo/n{i:02d}/{name}", Expect("file", 0o644, name.encode() * 3))
        add(f"zoo/d{i:02d}", Expect("dir", 0o755))
        add(f"zoo/d{i:02d}/{name}", Expect("dir", 0o755))
    # Deep nesting.
    deep = "deep"
    for level in range(40):
        deep += f"/l{level}"
        add(deep, Expect("dir", 0o755))
    add(deep + "/bottom.txt", Expect("file", 0o644, b"bottom\n"))
    # Empty and large files, executable bits.
    add("files", Expect("dir", 0o755))
    add("files/empty", Expect("file", 0o644, b""))
    add("files/empty-exec", Expect("file", 0o755, b""))
    for i, size in enumerate(big_files):
        add(f"files/big{i}.bin", Expect("file", 0o644, rng.randbytes(size)))
    add("files/tool", Expect("file", 0o755, b"#!/bin/sh\necho hi\n"))
    # Symlinks of every kind.
    add("links", Expect("dir", 0o755))
    add("links/to-file", Expect("symlink", 0o755, target="../files/tool"))
    add("links/to-folder", Expect("symlink", 0o755, target="../zoo"))
    add("links/dangling", Expect("symlink", 0o755, target="does/not/exist"))
    add("links/absolute", Expect("symlink", 0o755, target="/Applications"))
    add("links/unicode-target", Expect("symlink", 0o755, target="../zoo/n00/café"))
    # Hard links: a pair and a triple across folders.
    add("hard", Expect("dir", 0o755))
    add("hard/a", Expect("dir", 0o755))
    pair = rng.randbytes(5000)
    triple = b"three names, one file\n"
    add("hard/pair-1", Expect("file", 0o644, pair, link_group="pair"))
    add("hard/a/pair-2", Expect("file", 0o644, pair, link_group="pair"))
    add("hard/triple-1", Expect("file", 0o755, triple, link_group="triple"))
    add("hard/a/triple-2", Expect("file", 0o755, triple, link_group="triple"))
    add("links/triple-3", Expect("file", 0o755, triple, link_group="triple"))

    # Create: folders first (parents before children), then the rest.
    ordered = sorted(plan, key=lambda p: (p[1].kind != "dir", p[0].count("/"), p[0]),
                     reverse=False)
    dirs = [p for p in ordered if p[1].kind == "dir"]
    others = [p for p in ordered if p[1].kind != "dir"]
    if reverse:
        others.reverse()
    first_of_group: dict[str, Path] = {}
    root.mkdir(parents=True, exist_ok=True)
    for path, exp in dirs:
        (root / path).mkdir(parents=True, exist_ok=True)
    for path, exp in others:
        p = root / path
        if exp.kind == "symlink":
            os.symlink(exp.target, p)
        elif exp.link_group and exp.link_group in first_of_group:
            os.link(first_of_group[exp.link_group], p)
        else:
            _write(p, exp.data, exp.mode)
            if exp.link_group:
                first_of_group[exp.link_group] = p
    if mtime is not None:
        for path, _ in plan:
            os.utime(root / path, (mtime, mtime), follow_symlinks=False)
    return dict(plan)
