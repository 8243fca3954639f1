"""The Linux kernel's own hfsplus driver reads our volumes exactly.

fs/hfsplus is an HFS+ implementation nobody on this project wrote, and the
one every Linux machine mounts Mac disks with.  Each volume (the test's own
file: the kernel writes to it) is attached to a libguestfs appliance - a small Linux
VM under qemu, TCG so no /dev/kvm is needed - and ONE guestfish session per
volume (15-20 s, nearly all of it booting the appliance):

* mounts it read-only with ``nodecompose``, so names come back as stored, and tars the
  whole tree out (names, types, modes, owners, mtimes, contents, symlink
  targets, hard links), which the host compares with the generated tree;
* lstat()s every hard-link name, reads the Finder info and xattrs the
  kernel shows as ``osx.*`` attributes, and statvfs();
* remounts with the default options, where the kernel decomposes what it is
  asked for, and looks names up as a user types them: precomposed, and in
  another case (found on HFS+, not found on HFSX);
* writes a folder, a file and a hard link, remounts and lists again: the
  kernel's B-tree inserts must leave every old name in place; and the
  kernel log must hold no hfsplus complaint (it warns about, and refuses to
  write to, volumes that are dirty, locked or journaled, or whose B-tree
  headers it rejects).

Kernel limits, not writer bugs, which shape what is compared:
* names outside the BMP: fs/hfsplus/unicode.c (hfsplus_uni2asc) converts
  each UTF-16 unit on its own, so each half of a surrogate pair reads back
  as '?' and the name cannot be looked up again.  Such names are left out
  of the tar and checked by listing only ('??' per astral character proves
  the writer stored a surrogate pair).
* listxattr() fails with ENODATA on every entry without attributes once the
  volume has an attributes B-tree (fs/hfsplus/xattr.c), so tar --xattrs is
  unusable; attributes are read per entry.
* resource forks are unreachable (current kernels have no "file/rsrc").
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tarfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import require_tool
from hfs_trees import Expect, ZOO_NAMES, make_zoo
from pipeline.epoch import source_date_epoch
from pipeline.hfs.tree import FinderInfo
from pipeline.hfs.writer import HFSVolume, build_volume

EPOCH = source_date_epoch(1_700_000_000)    # SOURCE_DATE_EPOCH, if set, wins
GUESTFS_ENV = {"LIBGUESTFS_BACKEND": "direct", "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg"}
WRITTEN = "written-by-linux"

# Extra entries only an HFSX volume can hold: names equal but for case.
CASE_NAMES = ["Readme", "README", "readme", "\u00c9t\u00e9", "\u00e9t\u00e9"]


def _is_astral(ch: str) -> bool:
    return ord(ch) > 0xFFFF


def apple_decompose(name: str) -> str:
    """Canonical decomposition as HFS+ stores names (TN1150, "Unicode
    Subtleties"): characters in U+2000-U+2FFF, U+F900-U+FAFF and
    U+2F800-U+2FAFF are never decomposed (so U+2126 OHM SIGN stays, where
    Python's NFD would turn it into U+03A9)."""
    def kept(ch: str) -> bool:
        c = ord(ch)
        return 0x2000 <= c <= 0x2FFF or 0xF900 <= c <= 0xFAFF or 0x2F800 <= c <= 0x2FAFF
    out, run = [], []
    for ch in name:
        if kept(ch):
            out.append(unicodedata.normalize("NFD", "".join(run)))
            out.append(ch)
            run = []
        else:
            run.append(ch)
    out.append(unicodedata.normalize("NFD", "".join(run)))
    return "".join(out)


def kernel_name(path: str) -> str:
    """The name readdir() returns under ``nodecompose``: the stored
    decomposed form, with '?' for each half of a surrogate pair."""
    return "".join("??" if _is_astral(ch) else ch for ch in apple_decompose(path))


def _swap_ascii_case(path: str) -> str:
    # Only ASCII: Apple's case-folding table folds A-Z like everyone else,
    # while str.swapcase() would turn 'ß' into 'SS'.
    return "".join(ch.swapcase() if ch.isascii() else ch for ch in path)


def _q(arg: str) -> str:
    """A guestfish argument in double quotes."""
    assert '"' not in arg and "\\" not in arg and "\n" not in arg, arg
    return f'"{arg}"'


def _with_parents(expect: dict[str, Expect]) -> dict[str, Expect]:
    out = dict(expect)
    for path in expect:
        parts = path.split("/")
        for i in range(1, len(parts)):
            out.setdefault("/".join(parts[:i]), Expect("dir", 0o755))
    return out


class Session:
    """One guestfish script; ``mark(key)`` labels the output that follows.

    Every command after ``run`` carries guestfish's '-' prefix (go on after
    an error), so one failure still leaves the kernel log and the other
    answers to look at; the errors are kept in ``errors``.
    """

    def __init__(self) -> None:
        self.lines = ["run"]

    def add(self, *commands: str) -> None:
        self.lines.extend("-" + c for c in commands)

    def mark(self, key: str, command: str) -> None:
        assert "\n" not in key and " " not in key
        self.add(f"echo @@{key}", command)

    def run(self, image: Path) -> tuple[dict[str, list[str]], str]:
        guestfish = require_tool("guestfish")
        env = {**os.environ, **GUESTFS_ENV}
        proc = subprocess.run([guestfish, "--format=raw", "-a", str(image)],
                              input="\n".join(self.lines) + "\n", env=env,
                              capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 and "@@" not in proc.stdout:
            pytest.fail(f"guestfish failed on {image.name} (rc {proc.returncode}):\n"
                        f"{proc.stderr[-4000:]}")
        sections: dict[str, list[str]] = {}
        current: list[str] = []
        for line in proc.stdout.splitlines():
            if line.startswith("@@"):
                current = sections.setdefault(line[2:], [])
            else:
                current.append(line)
        return sections, proc.stderr


def _fields(lines: list[str]) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def _xattrs(lines: list[str]) -> dict[str, bytes]:
    """getxattrs output: attrname/attrval pairs, non-printables as \\xNN."""
    out, name = {}, None
    for line in lines:
        line = line.strip()
        if line.startswith("attrname: "):
            name = line[len("attrname: "):]
        elif line.startswith("attrval: "):
            raw = line[len("attrval: "):].encode("utf-8", "surrogateescape")
            out[name] = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), raw)
    return out


def _tree(tmp: Path, *, case_sensitive: bool) -> tuple[dict[str, Expect], list[str]]:
    """The zoo (smaller on HFSX, plus names equal but for case), with every
    folder listed, and the names make_zoo created as hard links."""
    src = tmp / "src"
    if case_sensitive:
        expect = make_zoo(src, folders=10, big_files=(2 * 1024 * 1024 + 3,), seed=99)
    else:
        expect = make_zoo(src, folders=20)
    link_paths = sorted(p for p, e in expect.items() if e.link_group)
    if case_sensitive:
        (src / "case").mkdir()
        expect["case"] = Expect("dir", 0o755)
        for i, name in enumerate(CASE_NAMES):
            data = f"{i}: {name}\n".encode()
            (src / "case" / name).write_bytes(data)
            os.chmod(src / "case" / name, 0o644)
            expect[f"case/{name}"] = Expect("file", 0o644, data)
        for exp in expect.values():          # stored as copies on this volume
            exp.link_group = None
    return _with_parents(expect), link_paths


FOLDER_FINDER = FinderInfo.for_folder(0x0400)                       # kHasCustomIcon
FILE_FINDER = FinderInfo.for_file(b"TEXT", b"ttxt", 0x4000)         # kIsInvisible


@dataclass
class KernelRead:
    """What one guestfish session saw of one volume."""
    case_sensitive: bool
    expect: dict[str, Expect]
    volume: HFSVolume
    image: Path
    out: dict[str, list[str]]            # guestfish output by mark, "errors": stderr
    tar_out: Path                        # the tree, read-only mount
    after_out: Path                      # the tree after the kernel's writes
    lookups: list[tuple[str, bool, list[str]]]   # (path as typed, found?, answer)
    astral: list[str]                    # paths whose last name is outside the BMP


def _kernel_session(tmp: Path, *, case_sensitive: bool) -> KernelRead:
    expect, link_paths = _tree(tmp, case_sensitive=case_sensitive)
    # Headroom, so that the kernel has room for its own writes at the end.
    volume = build_volume(tmp / "src", volname="Kernel HFSX" if case_sensitive else "Kernel HFS+",
                          case_sensitive=case_sensitive, epoch=EPOCH, headroom_bytes=1 << 20,
                          hard_links="copy" if case_sensitive else "link",
                          xattrs={"files/tool": {"com.example.tag": b"red"},
                                  "zoo": {"com.example.dir": b"\x00\x01"}},
                          finder_info={"files/tool": FILE_FINDER, "zoo": FOLDER_FINDER},
                          resource_forks={"files/tool": b"RSRC" * 3000})
    image = tmp / "vol.hfs"
    with open(image, "wb") as fh:
        volume.write_to(fh)

    tar_out, after_out = tmp / "tree.tar", tmp / "after.tar"
    s = Session()
    s.mark("label", "vfs-label /dev/sda")
    s.mark("type", "vfs-type /dev/sda")
    # Read-only first: a read-write mount may change the volume (the kernel
    # creates the hard-link folder when it is missing, growing the catalog).
    s.add("mount-options ro,nodecompose /dev/sda /")
    astral = sorted(p for p in expect if any(_is_astral(c) for c in p.rsplit("/", 1)[-1]))
    excludes = " ".join(kernel_name(p.rsplit("/", 1)[-1]).replace(" ", "?") for p in astral)
    tar_opts = f'numericowner:true {_q("excludes:" + excludes)}'
    s.add(f"tar-out / {_q(str(tar_out))} {tar_opts}")
    for parent in sorted({p.rsplit("/", 1)[0] for p in astral}):
        s.mark(f"ls:{parent}", f"ls {_q('/' + kernel_name(parent))}")
    for p in link_paths:
        s.mark(f"lstat:{p}", f"lstatns {_q('/' + p)}")
    s.mark("xattr:files/tool", "getxattrs /files/tool")
    s.mark("xattr:zoo", "getxattrs /zoo")
    s.mark("statvfs", "statvfs /")
    s.add("umount /", "mount /dev/sda /")

    # Lookups as a user types them (the kernel decomposes; HFS+ folds case).
    lookups: list[tuple[str, bool]] = []          # (path as typed, found?)
    zoo_files = [f"zoo/n{i:02d}/{n}" for i, n in enumerate(ZOO_NAMES)
                 if not any(_is_astral(c) for c in n)]
    for p in zoo_files + ["files/tool", "hard/a/pair-2", "bulk/g00/d001/file03.sh"]:
        lookups.append((p, True))
        if _swap_ascii_case(p) != p:
            lookups.append((_swap_ascii_case(p), not case_sensitive))
    for n, (typed, _found) in enumerate(lookups):
        s.mark(f"lookup{n}", f"is-file {_q('/' + typed)}")

    # The kernel writes: a folder, a file and a hard link to it.
    s.add(f"mkdir /{WRITTEN}", f'write /{WRITTEN}/new "written by the kernel"',
          f"ln /{WRITTEN}/new /{WRITTEN}/new-link", "umount /",
          "mount-options nodecompose /dev/sda /", f"tar-out / {_q(str(after_out))} {tar_opts}")
    s.mark("readback", f"cat /{WRITTEN}/new-link")
    s.add("umount /")
    s.mark("dmesg", "dmesg")
    out, errors = s.run(image)
    out["errors"] = errors.splitlines()
    lookup_results = [(typed, found, out[f"lookup{n}"])
                      for n, (typed, found) in enumerate(lookups)]
    return KernelRead(case_sensitive, expect, volume, image, out, tar_out, after_out,
                      lookup_results, astral)


@pytest.fixture(scope="module", params=[False, True], ids=["hfsplus", "hfsx"])
def kernel(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hfsx" if request.param else "hfsplus")
    return _kernel_session(tmp, case_sensitive=request.param)


def test_kernel_mounts_without_complaint(kernel):
    out, volume = kernel.out, kernel.volume
    assert out["label"] == ["Kernel HFSX" if kernel.case_sensitive else "Kernel HFS+"]
    assert out["type"] == ["hfsplus"]
    assert out["errors"] == []
    complaints = [line for line in out["dmesg"] if "hfs" in line.lower()]
    assert complaints == []
    st = _fields(out["statvfs"])
    assert int(st["blocks"]) * int(st["bsize"]) == kernel.image.stat().st_size == volume.size
    assert int(st["bfree"]) == volume.stats["free_blocks"]


def test_kernel_tree_matches_source(kernel):
    """Every name, type, mode, owner, mtime, size, content and symlink target
    the kernel reads equals the generated tree (hidden private folder not shown)."""
    want = {kernel_name(p): e for p, e in kernel.expect.items()
            if not any(p == a or p.startswith(a + "/") for a in kernel.astral)}
    seen: dict[str, tarfile.TarInfo] = {}
    data: dict[str, bytes] = {}
    with tarfile.open(kernel.tar_out) as tar:
        for m in tar:
            name = m.name.removeprefix("./")
            if name == ".":
                continue
            seen[name] = m
            if m.isreg():
                data[name] = tar.extractfile(m).read()
    assert sorted(seen) == sorted(want)
    for name, exp in want.items():
        m = seen[name]
        assert (m.uid, m.gid, m.mtime) == (0, 0, EPOCH), name
        assert m.mode & 0o7777 == exp.mode, name
        if exp.kind == "dir":
            assert m.isdir(), name
        elif exp.kind == "symlink":
            assert m.issym() and m.linkname == exp.target, name
        else:
            assert m.isreg() or m.islnk(), name
            target = m.linkname.removeprefix("./") if m.islnk() else name
            assert hashlib.sha256(data[target]).hexdigest() == \
                hashlib.sha256(exp.data).hexdigest(), name


def test_kernel_hard_links(kernel):
    """HFS+ hard links (link mode) come back as one inode with the right link
    count; copies (HFSX volume, copy mode) as separate single-link files."""
    expect = kernel.expect
    groups: dict[str, set[str]] = {}
    for p, e in expect.items():
        if e.link_group:
            groups.setdefault(e.link_group, set()).add(p)
    kernel_groups = [sorted(map(kernel_name, g)) for g in groups.values()]
    with tarfile.open(kernel.tar_out) as tar:
        tar_links = {m.name.removeprefix("./"): m.linkname.removeprefix("./")
                     for m in tar if m.islnk()}
    tar_groups = {}
    for name, first in tar_links.items():
        tar_groups.setdefault(first, {first}).add(name)
    assert sorted(map(sorted, tar_groups.values())) == sorted(kernel_groups)
    stats = {k.split(":", 1)[1]: _fields(v) for k, v in kernel.out.items()
             if k.startswith("lstat:")}
    assert stats, "no hard-link names were looked at"
    for p, st in stats.items():
        group = groups.get(expect[p].link_group or "", {p})
        assert int(st["st_nlink"]) == len(group), p
        assert {stats[q]["st_ino"] for q in group} == {st["st_ino"]}, p
    if not groups:
        assert len({st["st_ino"] for st in stats.values()}) == len(stats)


def test_kernel_astral_names_listed_as_surrogate_halves(kernel):
    assert kernel.astral
    for parent in {p.rsplit("/", 1)[0] for p in kernel.astral}:
        children = {kernel_name(p.rsplit("/", 1)[-1]) for p in kernel.expect
                    if p.rsplit("/", 1)[0] == parent and p != parent}
        assert sorted(kernel.out[f"ls:{parent}"]) == sorted(children)


def test_kernel_lookups_as_typed(kernel):
    """Precomposed names are found (the kernel decomposes them as Apple
    does, and must land on our stored keys); another ASCII case is found on
    HFS+ only, so the catalog is ordered by the right comparison."""
    wrong = [(typed, found, got) for typed, found, got in kernel.lookups
             if got != ["true" if found else "false"]]
    assert len(kernel.lookups) > 20 and wrong == []


def test_kernel_writes_leave_tree_intact(kernel):
    """After the kernel inserted a folder, a file and a hard link into our
    B-trees, every old name is still listed and the new file reads back."""
    with tarfile.open(kernel.tar_out) as before, tarfile.open(kernel.after_out) as after:
        old = sorted(m.name for m in before)
        now = sorted(m.name for m in after)
    new = [f"./{WRITTEN}", f"./{WRITTEN}/new", f"./{WRITTEN}/new-link"]
    assert now == sorted(old + new)
    assert kernel.out["readback"] == ["written by the kernel"]


def test_kernel_finder_info_and_xattrs(kernel):
    """The kernel shows Finder info and our xattrs as osx.* attributes
    (fs/hfsplus/xattr.c: names without a Linux namespace get "osx.")."""
    out = kernel.out
    assert _xattrs(out["xattr:files/tool"]) == {
        "osx.com.apple.FinderInfo": FILE_FINDER.raw, "osx.com.example.tag": b"red"}
    assert _xattrs(out["xattr:zoo"]) == {
        "osx.com.apple.FinderInfo": FOLDER_FINDER.raw, "osx.com.example.dir": b"\x00\x01"}
