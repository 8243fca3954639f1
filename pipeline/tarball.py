"""Deterministic tarballs, and safe reading of tarballs from other people.

Writing: entries sorted by path, mtime the caller's epoch, uid/gid 0 with empty owner names, modes normalised to 0755
(folders, executables) and 0644 (other files), PAX format, uncompressed -
a compressed tarball would hash differently under zlib and zlib-ng.

Reading: SDK tarballs and signature tarballs come from outside the build,
so every member is checked before anything touches the disk: no absolute
names, no '..', no links that leave the destination, no devices, no
duplicate names, and bounded member and total sizes.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import stat
import tarfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, Mapping

from .atomic import atomic_output
from .safedest import SafeDestination
from .errors import CorruptError, InputError

DEFAULT_MAX_MEMBER = 4 << 30      # 4 GiB: more than any SDK file
DEFAULT_MAX_TOTAL = 32 << 30
DEFAULT_MAX_MEMBERS = 1_000_000
_COPY_BUFFER = 1 << 20


# --------------------------------------------------------------------------
# Writing


@dataclass(frozen=True)
class _Entry:
    name: str
    kind: str                 # "dir", "file", "symlink"
    source: Path | bytes | None = None
    executable: bool = False
    link_target: str = ""


def _normalised_info(entry: _Entry, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.name)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    elif entry.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.mode = 0o777
        info.linkname = entry.link_target
    else:
        info.type = tarfile.REGTYPE
        info.mode = 0o755 if entry.executable else 0o644
    return info


def _write_entries(entries: Iterable[_Entry], out_path: str | os.PathLike,
                   mtime: int) -> None:
    when = int(mtime)
    ordered = sorted(entries, key=lambda e: e.name)
    with atomic_output(out_path) as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT,
                          encoding="utf-8") as tar:
            for entry in ordered:
                info = _normalised_info(entry, when)
                if entry.kind != "file":
                    tar.addfile(info)
                elif isinstance(entry.source, bytes):
                    info.size = len(entry.source)
                    tar.addfile(info, io.BytesIO(entry.source))
                else:
                    with open(entry.source, "rb") as fh:
                        info.size = os.fstat(fh.fileno()).st_size
                        tar.addfile(info, fh)


def _walk_tree(src: Path, prefix: str) -> list[_Entry]:
    if not src.is_dir():
        raise InputError(f"{src}: not a directory")
    entries: list[_Entry] = []
    if prefix:
        entries.append(_Entry(prefix, "dir"))
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(src)
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            arcname = posixpath.join(prefix, *rel_dir.parts, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                entries.append(_Entry(arcname, "symlink", link_target=os.readlink(path)))
            elif stat.S_ISDIR(st.st_mode):
                entries.append(_Entry(arcname, "dir"))
            elif stat.S_ISREG(st.st_mode):
                entries.append(_Entry(arcname, "file", path,
                                      executable=bool(st.st_mode & 0o111)))
            else:
                raise InputError(f"{path}: not a file, folder or symbolic link")
    return entries


def pack_tree(src_dir: str | os.PathLike, out_path: str | os.PathLike, *,
              prefix: str = "", mtime: int = 0) -> None:
    """Write ``src_dir``'s contents as a deterministic tarball.

    Members are named ``prefix/relative/path`` (``prefix`` may be empty).
    Symbolic links are stored as links; hard links are stored as copies.
    """
    _write_entries(_walk_tree(Path(src_dir), prefix.strip("/")), out_path, mtime)


@dataclass(frozen=True)
class SymlinkMember:
    """A ``pack_members`` value stored as a symbolic link to ``target``."""
    target: str


def pack_members(members: Mapping[str, bytes | Path | SymlinkMember], out_path: str | os.PathLike,
                 *, mtime: int = 0, executable: Iterable[str] = ()) -> None:
    """Write a deterministic tarball of named byte strings, files or links.

    Parent folders are added implicitly so extraction recreates them.
    """
    execs = set(executable)
    entries: dict[str, _Entry] = {}
    for name, source in members.items():
        clean = _check_name(name, str(out_path))
        if isinstance(source, SymlinkMember):
            entries[clean] = _Entry(clean, "symlink", link_target=source.target)
        else:
            entries[clean] = _Entry(clean, "file",
                                    source if isinstance(source, bytes) else Path(source),
                                    executable=clean in execs)
        parent = posixpath.dirname(clean)
        while parent and parent not in entries:
            entries[parent] = _Entry(parent, "dir")
            parent = posixpath.dirname(parent)
    _write_entries(entries.values(), out_path, mtime)


# --------------------------------------------------------------------------
# Reading


def _check_name(name: str, archive: str) -> str:
    """Return the normalised member name, or raise naming the member."""
    if not name or "\0" in name:
        raise InputError(f"{archive}: member {name!r}: empty name or NUL byte")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise InputError(f"{archive}: member {name!r}: absolute path refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(f"{archive}: member {name!r}: '..' in path refused")
    if not parts:
        raise InputError(f"{archive}: member {name!r}: names no path")
    return "/".join(parts)


# Linux's limit on symbolic links followed while resolving one path.
_MAX_LINK_HOPS = 40


def _link_stays_inside(member_name: str, links: Mapping[str, str]) -> bool:
    """Whether symlink ``member_name`` resolves inside the destination once
    every symlink in the archive (``links``: name -> target) exists.

    Counting '..' in the target alone is not enough: "sub/s2 -> ..",
    "lnk -> sub/s2" and "x -> lnk/.." are each harmless lexically, but x
    ends up above the destination.  So the target is resolved the way the
    kernel will, following the archive's own links (names not in ``links``
    are folders or files and cannot lead anywhere else).
    """
    parts = member_name.split("/")[:-1]
    pending = list(reversed(links[member_name].split("/")))
    if links[member_name].startswith("/"):
        return False
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return False
            parts.pop()
            continue
        parts.append(part)
        target = links.get("/".join(parts))
        if target is not None:
            hops += 1
            if hops > _MAX_LINK_HOPS or target.startswith("/"):
                return False      # a loop (ELOOP) or an absolute target
            parts.pop()
            pending.extend(reversed(target.split("/")))
    return True


def _open_tar(path: str | os.PathLike) -> tarfile.TarFile:
    try:
        # Plain "r:" only: a compressed tarball is not what the pins describe.
        return tarfile.open(path, mode="r:", encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (tarfile.TarError, UnicodeError, EOFError, OSError) as exc:
        raise CorruptError(path, "tar header", f"not an uncompressed tar archive ({exc})") from None


def _checked_members(tar: tarfile.TarFile, archive: str, max_member: int,
                     max_total: int, max_members: int) -> list[tuple[str, tarfile.TarInfo]]:
    kinds: dict[str, str] = {}     # name -> "file", "hardlink", "symlink" or "dir"
    folders: set[str] = set()      # every parent path of a member
    total = 0
    out = []
    try:
        for info in tar:
            if len(out) >= max_members:
                raise InputError(f"{archive}: member {info.name!r}: more than {max_members} "
                                 "members")
            name = _check_name(info.name, archive)
            if name in kinds:
                raise InputError(f"{archive}: member {name!r} appears twice")
            # A name cannot be both a folder and something else: extraction
            # would fail half-way (mkdir under a file, symlink over a folder).
            if name in folders and not info.isdir():
                raise InputError(f"{archive}: member {name!r}: an earlier member uses it "
                                 "as a folder")
            parent = posixpath.dirname(name)
            while parent and parent not in folders:
                if kinds.get(parent) in ("file", "hardlink"):
                    raise InputError(f"{archive}: member {name!r}: {parent!r} is an earlier "
                                     "member that is not a folder")
                folders.add(parent)
                parent = posixpath.dirname(parent)
            kinds[name] = ("file" if info.isreg() else "symlink" if info.issym() else
                           "hardlink" if info.islnk() else "dir")
            if info.isreg():
                if info.size > max_member:
                    raise InputError(f"{archive}: member {name!r}: {info.size} bytes "
                                     f"exceeds the limit of {max_member}")
                total += info.size
                if total > max_total:
                    raise InputError(f"{archive}: members exceed {max_total} bytes in total")
            elif info.issym():
                pass                   # checked below, once every link is known
            elif info.islnk():
                if kinds.get(_check_name(info.linkname, archive)) != "file":
                    raise InputError(f"{archive}: member {name!r}: hard link to "
                                     f"{info.linkname!r}, which is not an earlier regular file")
            elif not info.isdir():
                raise InputError(f"{archive}: member {name!r}: device, FIFO or other "
                                 "special file refused")
            out.append((name, info))
    except (tarfile.TarError, EOFError, UnicodeError) as exc:
        raise CorruptError(archive, "tar member list", str(exc)) from None
    links = {name: info.linkname for name, info in out if info.issym()}
    for name, target in links.items():
        if not _link_stays_inside(name, links):
            raise InputError(f"{archive}: member {name!r}: symbolic link to {target!r} "
                             "leaves the destination")
    return out


def check_members(tar_path: str | os.PathLike, *, max_member: int = DEFAULT_MAX_MEMBER,
                  max_total: int = DEFAULT_MAX_TOTAL,
                  max_members: int = DEFAULT_MAX_MEMBERS) -> list[str]:
    """Run every check ``safe_extract`` runs, without extracting; returns the member names."""
    archive = os.fspath(tar_path)
    with _open_tar(archive) as tar:
        return [name for name, _ in _checked_members(tar, archive, max_member, max_total,
                                                     max_members)]


def safe_extract(tar_path: str | os.PathLike, dest: str | os.PathLike, *,
                 max_member: int = DEFAULT_MAX_MEMBER, max_total: int = DEFAULT_MAX_TOTAL,
                 max_members: int = DEFAULT_MAX_MEMBERS) -> list[str]:
    """Extract every member into ``dest`` (which must not exist yet).

    All members are checked before the first byte is written. Modes are
    normalised (0755/0644), times are not restored: the caller decides them.
    Returns the member names in archive order.
    """
    archive = os.fspath(tar_path)
    root = Path(dest)
    if root.exists():
        raise InputError(f"{root}: destination already exists")
    with _open_tar(archive) as tar:
        members = _checked_members(tar, archive, max_member, max_total, max_members)
        name = ""

        def outside(rel: str) -> Exception:
            return InputError(f"{archive}: member {rel!r}: its folder resolves "
                              "outside the destination through a symbolic link")
        try:
            # Checks above cannot foresee everything the file system refuses
            # (a link to a file used as a folder): SafeDestination leaves no
            # partial tree.
            with SafeDestination(root, outside, must_not_exist=True) as out:
                for name, info in members:
                    out.makedirs(posixpath.dirname(name))
                    if info.isdir():
                        os.chmod(out.mkdir(name, 0o755, exist_ok=True), 0o755)
                    elif info.issym():
                        out.symlink(name, info.linkname)
                    elif info.islnk():
                        out.hard_link(name, out.target(_check_name(info.linkname, archive)))
                    else:
                        src = tar.extractfile(info)
                        assert src is not None
                        mode = 0o755 if info.mode & 0o111 else 0o644
                        with out.new_file(name, mode) as fh:
                            remaining = info.size
                            while remaining:
                                chunk = src.read(min(_COPY_BUFFER, remaining))
                                if not chunk:
                                    raise CorruptError(archive, f"member {name!r}",
                                                       "truncated data")
                                fh.write(chunk)
                                remaining -= len(chunk)
                        os.chmod(out.target(name), mode)
        except OSError as exc:
            raise InputError(f"{archive}: member {name!r}: cannot extract into {root}: "
                             f"{exc.strerror or exc}") from None
    return [name for name, _ in members]


def read_members(tar_path: str | os.PathLike, *, max_member: int = 64 << 20,
                 max_total: int = 1 << 30, max_members: int = 100_000) -> dict[str, bytes]:
    """Return the regular files of a small tarball as ``{name: bytes}``.

    Folders are skipped; links and special files are refused (signature
    tarballs hold only plain files).
    """
    archive = os.fspath(tar_path)
    out: dict[str, bytes] = {}
    with _open_tar(archive) as tar:
        for name, info in _checked_members(tar, archive, max_member, max_total, max_members):
            if info.isdir():
                continue
            if not info.isreg():
                raise InputError(f"{archive}: member {name!r}: only regular files are allowed here")
            src = tar.extractfile(info)
            assert src is not None
            data = src.read()
            if len(data) != info.size:
                raise CorruptError(archive, f"member {name!r}", "truncated data")
            out[name] = data
    return out


# --------------------------------------------------------------------------
# Compressed tarballs from other people, read once from start to end

DECOMPRESSORS = {".tar.gz": gzip.open, ".tgz": gzip.open, ".tar.bz2": bz2.open,
                 ".tar.xz": lzma.open, ".txz": lzma.open}


def open_decompressed(path: str | os.PathLike) -> IO[bytes]:
    """The decompressed bytes of ``path`` by its suffix (a plain file as is)."""
    name = os.fspath(path)
    opener = next((fn for ext, fn in DECOMPRESSORS.items() if name.endswith(ext)), None)
    return opener(name, "rb") if opener else open(name, "rb")


@contextmanager
def stream_members(path: str | os.PathLike) -> Iterator[tarfile.TarFile]:
    """A tarball read as a stream (members in order, no seeking), then
    checked to its end: tarfile alone takes a compressed stream cut between
    two members for a shorter archive, so the rest of the decompressed
    stream is read and a missing end of stream is a CorruptError."""
    archive = os.fspath(path)
    try:
        with open_decompressed(path) as raw:
            with tarfile.open(fileobj=raw, mode="r|", encoding="utf-8") as tar:
                yield tar
            while raw.read(1 << 20):
                pass
    except (tarfile.TarError, EOFError, lzma.LZMAError, gzip.BadGzipFile, UnicodeError,
            ValueError) as exc:
        raise CorruptError(archive, "tar stream", str(exc) or type(exc).__name__) from None
    except OSError as exc:
        if exc.errno is not None:
            raise
        raise CorruptError(archive, "compressed stream", str(exc)) from None
