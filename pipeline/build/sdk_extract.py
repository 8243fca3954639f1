"""The SDK tarball a release pins, made from Apple's download on Linux.

Inputs: an Xcode ``.xip`` (xar -> pbzx -> cpio), a Command Line Tools or
SDK ``.pkg`` (xar -> Payload: pbzx or gzip cpio), a ``.dmg`` holding such
packages (UDIF -> HFS+ -> .pkg; HFS+-compressed files are decompressed;
an APFS volume is named and refused), or an extracted ``Xcode.app``.  Archives are streamed: only the files the tarball
needs (the SDKs' ``usr/include``, ``usr/lib``, ``System/Library/Frameworks``,
their version files, Xcode's ``version.plist`` and the toolchain's libc++
headers) are written, into a private staging folder beside the output,
which is removed afterwards; the rest of the download only passes through.

Output: the tarball Bitcoin Core's ``contrib/macdeploy/gen-sdk.py`` makes
from the same Xcode, byte for byte, so that hashes published for either
tool can be checked with the other:

- name ``Xcode-<CFBundleShortVersionString>-<ProductBuildVersion>-extracted-
  SDK-with-libcxx-headers`` (from ``Contents/version.plist``), used as the
  tarball's file name (``.tar``) and as its one top folder;
- members: the SDK's ``usr/include``, ``usr/lib``,
  ``System/Library/Frameworks``, in that order, each walked depth first
  with every folder's entries sorted by name (Python's ``tarfile.add``),
  leaving out names ending in ``.swiftmodule`` or ``.modulemap`` (and what
  is under them); hard links to a file already stored become link members;
- metadata: mtime 0, uid/gid 0, no owner names, mode 0755 when the owner
  may execute (folders, programs, symbolic links) else 0644; PAX format,
  uncompressed.

When the SDK has no ``usr/include/c++/v1``, the toolchain's libc++ headers
are appended under that name (what older gen-sdk.py versions always did).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import plistlib
import posixpath
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Callable, Iterator

from ..errors import CorruptError, InputError
from ..pkg import ChunkStream, decode_pbzx, is_pbzx, is_xar, read_cpio, XarArchive
from ..atomic import atomic_output
from ..safedest import SafeDestination

XCODE_SDKS = "Contents/Developer/Platforms/MacOSX.platform/Developer/SDKs"
XCODE_LIBCXX = "Contents/Developer/Toolchains/XcodeDefault.xctoolchain/usr/include/c++/v1"
CLT_ROOT = "Library/Developer/CommandLineTools"
CLT_SDKS = f"{CLT_ROOT}/SDKs"
CLT_LIBCXX = f"{CLT_ROOT}/usr/include/c++/v1"
# What gen-sdk.py packs from an SDK, in its order.
SDK_PARTS = ("usr/include", "usr/lib", "System/Library/Frameworks")
SDK_INFO = ("System/Library/CoreServices/SystemVersion.plist", "SDKSettings.json",
            "SDKSettings.plist")
LEFT_OUT_SUFFIXES = (".swiftmodule", ".modulemap")
MAX_PLIST = 1 << 20

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FoundSdk:
    name: str                 # "MacOSX.sdk", "MacOSX14.0.sdk"
    path: Path                # the folder (a link resolved)
    link_to: str | None       # "MacOSX.sdk" when ``name`` is a symbolic link
    version: str              # ProductVersion of SystemVersion.plist (or SDKSettings)
    build: str                # ProductBuildVersion ("" when unknown)
    has_libcxx: bool          # usr/include/c++/v1 present

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "link_to": self.link_to, "version": self.version,
                "build": self.build, "has_libcxx_headers": self.has_libcxx}


@dataclass
class Source:
    """Where the SDKs are: a folder laid out as in the download."""
    kind: str                 # "xcode" or "clt"
    root: Path                # Xcode.app, or the folder holding Library/Developer/...
    version: str
    build: str
    input: str
    sdks: list[FoundSdk] = field(default_factory=list)

    @property
    def libcxx(self) -> Path:
        return self.root / (XCODE_LIBCXX if self.kind == "xcode" else CLT_LIBCXX)

    @property
    def out_name(self) -> str:
        if self.kind == "xcode":
            return f"Xcode-{self.version}-{self.build}-extracted-SDK-with-libcxx-headers"
        return f"CommandLineTools-{self.version}-extracted-SDK-with-libcxx-headers"


def _read_plist(path: Path, what: str) -> dict:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path}: {what}: not found") from None
    if size > MAX_PLIST:
        raise InputError(f"{path}: {what}: larger than {MAX_PLIST} bytes")
    try:
        data = plistlib.loads(path.read_bytes())
    except Exception as exc:      # plistlib raises expat's, struct's, ValueError...
        raise CorruptError(path, what, f"not a property list: {exc}") from None
    if not isinstance(data, dict):
        raise CorruptError(path, what, "not a dictionary")
    return data


def _string(data: dict, key: str, path: Path, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or "/" in value or value.startswith("."):
        raise CorruptError(path, f"{what} {key}", f"{value!r}: not a version string")
    return value


def _sdk_info(folder: Path) -> tuple[str, str]:
    system = folder / SDK_INFO[0]
    if system.is_file():
        data = _read_plist(system, "SystemVersion.plist")
        return (_string(data, "ProductVersion", system, "SystemVersion.plist"),
                str(data.get("ProductBuildVersion") or ""))
    settings = folder / "SDKSettings.json"
    if settings.is_file():
        import json
        try:
            version = json.loads(settings.read_text(encoding="utf-8"))["Version"]
        except (ValueError, KeyError, TypeError):
            raise CorruptError(settings, "SDKSettings.json Version", "missing") from None
        return str(version), ""
    return "", ""


def find_sdks(sdks_dir: Path) -> list[FoundSdk]:
    """Every ``*.sdk`` in a platform's SDKs folder, links included, by name."""
    found = []
    if not sdks_dir.is_dir():
        return found
    for entry in sorted(os.listdir(sdks_dir)):
        path = sdks_dir / entry
        if not entry.endswith(".sdk") or not path.is_dir():
            continue
        link_to = os.readlink(path) if path.is_symlink() else None
        version, build = _sdk_info(path)
        found.append(FoundSdk(entry, path, link_to, version, build,
                              (path / "usr/include/c++/v1").is_dir()))
    return found


def folder_source(folder: Path, input_name: str | None = None) -> Source:
    """An extracted Xcode.app, or a folder holding Library/Developer/CommandLineTools."""
    name = input_name or os.fspath(folder)
    if (folder / "Contents" / "version.plist").is_file():
        data = _read_plist(folder / "Contents/version.plist", "Xcode version.plist")
        plist = folder / "Contents/version.plist"
        return Source("xcode", folder,
                      _string(data, "CFBundleShortVersionString", plist, "version.plist"),
                      _string(data, "ProductBuildVersion", plist, "version.plist"), name,
                      find_sdks(folder / XCODE_SDKS))
    if (folder / CLT_SDKS).is_dir():
        sdks = find_sdks(folder / CLT_SDKS)
        version = next((s.version for s in sdks if s.link_to is None and s.version), "")
        return Source("clt", folder, version or "unknown", "", name, sdks)
    raise InputError(f"{name}: neither an Xcode.app (no Contents/version.plist) nor a "
                     f"Command Line Tools folder (no {CLT_SDKS})")


# ---------------------------------------------------------------------------
# Streaming archives into the staging folder


def _link_leaves(archive: str | os.PathLike, name: str, parent: str, target: str) -> None:
    """Refuse a symbolic link at ``parent/...`` whose target is absolute or
    climbs out of the tree."""
    resolved = posixpath.normpath(posixpath.join(parent, target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise CorruptError(archive, name, f"symbolic link to {target!r} leaves the tree")


def _wanted_xcode(rel: str) -> bool:
    """Inside an Xcode.app: what the SDK tarball needs."""
    if rel == "Contents/version.plist":
        return True
    if rel == XCODE_LIBCXX or rel.startswith(XCODE_LIBCXX + "/"):
        return True
    return _wanted_sdk(rel, XCODE_SDKS)


def _wanted_clt(rel: str) -> bool:
    return rel == CLT_LIBCXX or rel.startswith(CLT_LIBCXX + "/") or _wanted_sdk(rel, CLT_SDKS)


def _wanted_sdk(rel: str, sdks: str) -> bool:
    if not rel.startswith(sdks + "/"):
        return False
    parts = rel[len(sdks) + 1:].split("/", 1)
    if not parts[0].endswith(".sdk"):
        return False
    if len(parts) == 1:
        return True                       # the SDK folder (or the link to it)
    inner = parts[1]
    return inner in SDK_INFO or any(inner == p or inner.startswith(p + "/") for p in SDK_PARTS)


class _Stager:
    """cpio entries -> the staging folder: only wanted names, folders made
    as needed, links kept inside, hard links as hard links, permission
    bits as archived (folders' applied last, so their contents can be
    written first)."""

    def __init__(self, dest: SafeDestination, archive: str) -> None:
        self.dest = dest
        self.archive = archive
        self.by_inode: dict[tuple[int, int], str] = {}
        self.dir_modes: dict[str, int] = {}
        self.files = 0

    def _outside(self, name: str) -> CorruptError:
        return CorruptError(self.archive, f"cpio entry {name!r}", "leaves the extraction folder")

    def add(self, entry, data, rel: str) -> None:
        name = entry.name
        if rel.startswith("/") or ".." in rel.split("/") or "\\" in rel:
            raise self._outside(name)
        parent = posixpath.dirname(rel)
        if parent:
            self.dest.makedirs(parent)
        key = (entry.dev, entry.ino)
        if entry.is_dir:
            self.dest.mkdir(rel, 0o700, exist_ok=True)
            self.dir_modes[rel] = stat.S_IMODE(entry.mode)
        elif entry.is_symlink:
            target = entry.link_target or ""
            _link_leaves(self.archive, f"cpio entry {name!r}", parent, target)
            self.dest.symlink(rel, target)
        elif entry.is_file:
            first = self.by_inode.get(key) if entry.nlink > 1 else None
            if first is not None:
                self.dest.hard_link(rel, self.dest.target(first))
                if entry.size:               # newc: the data comes with the last link
                    self._write_into(first, data)
                return
            with self.dest.new_file(rel) as out:
                shutil.copyfileobj(data, out, 1 << 20)
            os.chmod(self.dest.target(rel), stat.S_IMODE(entry.mode))
            if entry.nlink > 1:
                self.by_inode[key] = rel
            self.files += 1
        else:
            raise CorruptError(self.archive, f"cpio entry {name!r}",
                               f"file type {stat.S_IFMT(entry.mode):#o} is not a file, folder "
                               "or link")

    def add_unwanted(self, entry, data) -> None:
        """A hard link outside the subset may carry the data of one inside (newc)."""
        first = self.by_inode.get((entry.dev, entry.ino)) if entry.nlink > 1 else None
        if first is not None and entry.size:
            self._write_into(first, data)

    def _write_into(self, rel: str, data) -> None:
        path = self.dest.target(rel)
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        os.chmod(path, mode | 0o600)
        with open(path, "r+b") as out:
            out.truncate(0)
            shutil.copyfileobj(data, out, 1 << 20)
        os.chmod(path, mode)

    def finish(self) -> None:
        for rel in sorted(self.dir_modes, key=lambda r: -r.count("/")):
            os.chmod(self.dest.target(rel), self.dir_modes[rel] | 0o700)


def _stage_cpio(stream, archive: str, dest: SafeDestination,
                route: Callable[[str], str | None]) -> int:
    """Write the wanted entries of a cpio stream; ``route(name)`` gives the
    path in the staging folder, or None for an entry that is not needed."""
    stager = _Stager(dest, archive)
    for entry, data in read_cpio(stream, archive):
        name = entry.name.rstrip("/")
        if not name or name == ".":
            continue
        if name.startswith("/") or ".." in name.split("/"):
            raise CorruptError(archive, f"cpio entry {entry.name!r}",
                               "absolute name or '..': leaves the tree", entry.offset)
        rel = route(name)
        if rel is None:
            stager.add_unwanted(entry, data)
        else:
            stager.add(entry, data, rel)
    stager.finish()
    return stager.files


def _xip_route(name: str) -> str | None:
    app, _, rest = name.partition("/")
    if not app.endswith(".app") or not rest or not _wanted_xcode(rest):
        return None
    return f"Xcode.app/{rest}"


def _clt_route(name: str) -> str | None:
    return f"CLT/{name}" if _wanted_clt(name) else None


def _payload_stream(pieces: Iterator[bytes], archive: str) -> BinaryIO:
    """A payload's cpio bytes: pbzx, gzip or plain cpio, told apart by magic."""
    raw = ChunkStream(pieces)
    head = raw.read(4)
    again = ChunkStream(_prepend(head, raw))
    if is_pbzx(head):
        return ChunkStream(decode_pbzx(again, archive))
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=again, mode="rb")   # reads in bounded pieces
    return again


def _prepend(head: bytes, rest: ChunkStream) -> Iterator[bytes]:
    yield head
    while True:
        piece = rest.read(1 << 20)
        if not piece:
            return
        yield piece


def _xar_progress(label: str, total: int, progress: Progress | None):
    if progress is None:
        return None
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        progress(label, done[0], total)
    return advance


def _stage_xip(xar: XarArchive, dest: SafeDestination, progress: Progress | None) -> None:
    try:
        content = xar.member("Content")
    except CorruptError:
        raise InputError(f"{xar.name}: a xar archive without a Content member: not an "
                         "Xcode .xip") from None
    advance = _xar_progress(f"reading {Path(xar.name).name}", content.length, progress)
    stream = _payload_stream(xar.read(content, advance), xar.name)
    try:
        _stage_cpio(stream, f"{xar.name} (Content)", dest, _xip_route)
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        raise CorruptError(xar.name, "Content", f"payload: {exc}") from None


def _stage_pkg(xar: XarArchive, dest: SafeDestination, progress: Progress | None) -> int:
    """Every Payload of a (product or component) package; returns how many
    carried SDK files."""
    payloads = [m for m in xar.members if m.path == "Payload" or m.path.endswith("/Payload")]
    if not payloads:
        raise InputError(f"{xar.name}: a xar archive without a Payload: not an installer .pkg")
    total = sum(m.length for m in payloads)
    advance = _xar_progress(f"reading {Path(xar.name).name}", total, progress)
    used = 0
    for member in payloads:
        stream = _payload_stream(xar.read(member, advance), xar.name)
        try:
            files = _stage_cpio(stream, f"{xar.name} ({member.path})", dest, _clt_route)
        except (EOFError, OSError, gzip.BadGzipFile) as exc:
            raise CorruptError(xar.name, member.path, f"payload: {exc}") from None
        used += bool(files)
    return used


def _pkg_version(xar: XarArchive) -> str:
    """The version of the package that carried the SDK (PackageInfo)."""
    from xml.etree import ElementTree
    versions = []
    for member in xar.members:
        if member.path == "PackageInfo" or member.path.endswith("/PackageInfo"):
            if member.size > MAX_PLIST:
                continue
            try:
                root = ElementTree.fromstring(b"".join(xar.read(member)))
            except ElementTree.ParseError:
                continue
            ident, version = root.get("identifier") or "", root.get("version") or ""
            if version:
                versions.append(("SDK" not in ident.upper(), version))
    return sorted(versions)[0][1] if versions else "unknown"


@contextlib.contextmanager
def open_source(input_path: str | os.PathLike, work_dir: str | os.PathLike,
                progress: Progress | None = None) -> Iterator[Source]:
    """The SDKs of ``input_path`` (a folder, .xip, .pkg or .dmg), staged under
    ``work_dir`` when it is an archive; the staging folder is removed when
    the context ends, whatever happens."""
    path = Path(input_path)
    if path.is_dir():
        yield folder_source(path)
        return
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or folder") from None
    is_dmg = not is_xar(head) and _is_udif(path)
    if not is_xar(head) and not is_dmg:
        raise InputError(f"{path}: not a .xip, .pkg (xar) or .dmg (UDIF), nor a folder")
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".reprodmg-sdk-", dir=work_dir))
    try:
        dest = SafeDestination(staging / "tree", lambda rel: CorruptError(
            path, f"entry {rel!r}", "leaves the extraction folder"))
        with dest:
            if is_dmg:
                version = _stage_dmg(path, dest, progress)
                source = (folder_source(staging / "tree" / "Xcode.app", os.fspath(path))
                          if version is None else _clt_source(staging, path, version))
            else:
                with open(path, "rb") as f:
                    xar = XarArchive(f, os.fspath(path))
                    if any(m.path == "Content" for m in xar.members):
                        _stage_xip(xar, dest, progress)
                        source = folder_source(staging / "tree" / "Xcode.app", os.fspath(path))
                    else:
                        _stage_pkg(xar, dest, progress)
                        source = _clt_source(staging, path, _pkg_version(xar))
        yield source
    finally:
        _remove(staging)


def _clt_source(staging: Path, path: Path, version: str) -> Source:
    if not (staging / "tree" / "CLT" / CLT_SDKS).is_dir():
        raise InputError(f"{path}: no package in it installs {CLT_SDKS}/*.sdk")
    source = folder_source(staging / "tree" / "CLT", os.fspath(path))
    if version != "unknown":
        source.version = version
    return source


def _stage_dmg(path: Path, dest: SafeDestination, progress: Progress | None) -> str | None:
    """A Command Line Tools disk image (every .pkg at the top of its HFS+
    volume) or an older Xcode's (an Xcode .app at the top), read through the
    UDIF and HFS+ readers; files stored with HFS+ compression are
    decompressed as they are read.  Returns the packages' version, or None
    for an Xcode image (staged as Xcode.app)."""
    from ..hfs import HFSReader
    from ..udif import open_udif
    with open_udif(path) as image:
        part = image.data_partition()
        # An APFS volume is named as such by the reader (UnsupportedError).
        reader = HFSReader(image.partition_source(part.index), f"{path}: {part.label}")
        entries = list(reader.entries())
        apps = sorted(e.path for e in entries if e.kind == "dir" and e.path.endswith(".app")
                      and "/" not in e.path and any(x.path == f"{e.path}/Contents/version.plist"
                                                    for x in entries))
        if apps:
            _stage_volume_app(reader, entries, apps[0], dest)
            return None
        packages = [e for e in entries if e.kind == "file" and e.path.endswith(".pkg")
                    and "/" not in e.path]
        if not packages:
            raise InputError(f"{path}: no .pkg or Xcode .app at the top of the volume "
                             f"{reader.volume_name!r}")
        versions = []
        for entry in packages:
            with io.BufferedReader(reader.open(entry), 1 << 20) as stream:
                xar = XarArchive(stream, f"{path}: {entry.path}")
                if _stage_pkg(xar, dest, progress):
                    versions.append(_pkg_version(xar))
        return versions[0] if versions else "unknown"


def _stage_volume_app(reader, entries, app: str, dest: SafeDestination) -> None:
    """The SDK subset of ``app`` on an HFS+ volume, as Xcode.app in staging."""
    first_of_inode: dict[int, str] = {}
    for entry in entries:
        if not entry.path.startswith(app + "/"):
            continue
        rest = entry.path[len(app) + 1:]
        if not _wanted_xcode(rest):
            continue
        rel = f"Xcode.app/{rest}"
        parent = posixpath.dirname(rel)
        dest.makedirs(parent)
        if entry.kind == "dir":
            dest.mkdir(rel, 0o755, exist_ok=True)
        elif entry.kind == "symlink":
            target = entry.link_target or ""
            _link_leaves(reader.name, f"catalog record {entry.path!r}", parent, target)
            dest.symlink(rel, target)
        else:
            inode = entry.hardlink_inode
            if inode is not None and inode in first_of_inode:
                dest.hard_link(rel, dest.target(first_of_inode[inode]))
                continue
            with reader.open(entry) as src, dest.new_file(rel) as out:
                shutil.copyfileobj(src, out, 1 << 20)
            os.chmod(dest.target(rel), stat.S_IMODE(entry.mode))
            if inode is not None:
                first_of_inode[inode] = rel


def _is_udif(path: Path) -> bool:
    try:
        size = path.stat().st_size
        if size < 512:
            return False
        with open(path, "rb") as f:
            f.seek(size - 512)
            return f.read(4) == b"koly"
    except OSError:
        return False


def _remove(folder: Path) -> None:
    for dirpath, _dirs, _files in os.walk(folder):
        with contextlib.suppress(OSError):
            os.chmod(dirpath, 0o700)
    shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------
# The tarball


def _conventions(base: str) -> Callable[[tarfile.TarInfo], tarfile.TarInfo | None]:
    """gen-sdk.py's member rules (see the module docstring)."""
    def apply(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if info.name.endswith(LEFT_OUT_SUFFIXES):
            return None
        if info.name.startswith("./"):
            info.name = str(PurePosixPath(base, info.name))
        if info.linkname.startswith("./"):
            info.linkname = str(PurePosixPath(base, info.linkname))
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o755 if info.mode & 0o100 else 0o644
        return info
    return apply


def select_sdk(source: Source, name: str | None = None) -> FoundSdk:
    wanted = name or "MacOSX.sdk"
    for sdk in source.sdks:
        if sdk.name == wanted:
            return sdk
    have = ", ".join(s.name for s in source.sdks) or "none"
    raise InputError(f"{source.input}: no SDK {wanted!r} (found: {have})")


def write_tarball(source: Source, sdk: FoundSdk, out_dir: str | os.PathLike) -> tuple[Path, str]:
    """``<out_dir>/<name>.tar`` for ``sdk``; returns its path and sha256."""
    base = source.out_name
    missing = [p for p in SDK_PARTS if not (sdk.path / p).is_dir()]
    if missing:
        raise InputError(f"{source.input}: {sdk.name} has no {', '.join(missing)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{base}.tar"
    with atomic_output(final) as fp:
        with tarfile.open(mode="w", fileobj=fp, format=tarfile.PAX_FORMAT) as tar:
            rules = _conventions(base)
            for part in SDK_PARTS:
                tar.add(os.fspath(sdk.path / part), arcname=f"./{part}", filter=rules)
            if not sdk.has_libcxx and source.libcxx.is_dir():
                tar.add(os.fspath(source.libcxx), arcname="./",
                        filter=_conventions(f"{base}/usr/include/c++/v1"))
    digest = hashlib.sha256()
    with open(final, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            digest.update(piece)
    return final, digest.hexdigest()


def pin_text(source: Source, sdk: FoundSdk, sha256: str) -> str:
    """A ready-to-commit ``sdk/<name>.toml``."""
    what = (f"Xcode {source.version} ({source.build})" if source.kind == "xcode"
            else f"Command Line Tools {source.version}")
    sdk_build = f" ({sdk.build})" if sdk.build else ""
    return (f"# {sdk.name} {sdk.version}{sdk_build} from {what}, packed by `reprodmg sdk extract`\n"
            "# as Bitcoin Core's contrib/macdeploy/gen-sdk.py packs it.  Put the tarball\n"
            "# into $REPRODMG_CACHE: the build checks it against sha256 before reading it.\n"
            f'name = "{source.out_name}"\n'
            f'sha256 = "{sha256}"\n'
            f'root = "{source.out_name}"\n'
            f'sdk_version = "{sdk.version}"\n'
            f'description = "{sdk.name} {sdk.version} from {what}"\n')


def extract(input_path: str | os.PathLike, out_dir: str | os.PathLike, *,
            sdk_name: str | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """The whole command: stage, pick the SDK, write the tarball; a report."""
    with open_source(input_path, out_dir, progress) as source:
        sdk = select_sdk(source, sdk_name)
        path, sha = write_tarball(source, sdk, out_dir)
        return {"input": source.input, "kind": source.kind, "version": source.version,
                "build": source.build, "sdk": sdk.to_json(), "tarball": path.name,
                "sha256": sha, "libcxx_headers_added": not sdk.has_libcxx
                and source.libcxx.is_dir(), "pin": pin_text(source, sdk, sha)}


def list_sdks(input_path: str | os.PathLike, work_dir: str | os.PathLike, *,
              progress: Progress | None = None) -> dict[str, Any]:
    with open_source(input_path, work_dir, progress) as source:
        return {"input": source.input, "kind": source.kind, "version": source.version,
                "build": source.build, "sdks": [s.to_json() for s in source.sdks]}

