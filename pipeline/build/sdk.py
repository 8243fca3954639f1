"""macOS SDKs: pins, hash checks, safe extraction, packing, and the demo SDK recipe.

An SDK tarball is used only after its SHA-256 equals the pin in
``sdk/<name>.toml``; the check runs before a single member is read, so a
tampered tarball never reaches the disk.  Extraction goes through
``pipeline.tarball.safe_extract`` (no absolute names, no ``..``, no links
leaving the destination) into a temporary folder renamed into place.

Demo SDK ("ziglang-wheel" recipe): the ``ziglang`` wheel on PyPI carries
Apple's libc headers (``lib/libc/include/any-darwin-any``) and a text stub
of libSystem (``lib/libc/darwin/libSystem.tbd``).  That is enough to compile
and link C programs for macOS without anything from Apple.  The stub needs
one normalisation before ld64.lld 19 accepts it; see ``normalise_tbd``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .. import tarball
from ..errors import CorruptError, InputError, VerificationError
from ..jsonfile import canonical_json, require_sha256, sha256_file
from ..progress import Progress
from . import debsource
from .debsource import SourceTarball
from .tomlfile import Table, read_toml

_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")


# --------------------------------------------------------------------------
# Pins


@dataclass(frozen=True)
class WheelOrigin:
    """Where the demo SDK comes from: one exact wheel file on PyPI."""
    package: str
    version: str
    filename: str
    platform: str
    sha256: str


@dataclass(frozen=True)
class SdkPin:
    name: str
    sha256: str
    root: str                  # the SDK folder inside the tarball, e.g. "MacOSX.sdk"
    sdk_version: str
    description: str
    recipe: str | None         # "ziglang-wheel", or None for an SDK supplied by the user
    origin: WheelOrigin | None
    path: Path
    libcxx: SourceTarball | None = None   # [origin.libcxx]: libc++ from LLVM's sources

    @property
    def tarball_name(self) -> str:
        return f"{self.name}.tar"


# Names that reach a file name in the cache or pip's command line: no
# folders, no leading '-' (an option to pip).
_PLAIN_RE = re.compile(r"^[A-Za-z0-9_.+][A-Za-z0-9_.+-]*$")


def _plain(table: Table, key: str, what: str, suffix: str = "") -> str:
    value = table.get(key, str)
    if not _PLAIN_RE.match(value) or value in (".", "..") or not value.endswith(suffix):
        raise table.error(key, f"{value!r}: not {what}")
    return value


def load_pin(path: str | os.PathLike) -> SdkPin:
    """Read one ``sdk/<name>.toml`` pin."""
    origin_name = os.fspath(path)
    top = Table(read_toml(path, "SDK pin"), "", origin_name,
                ("name", "sha256", "root", "sdk_version", "description", "origin"))
    name = top.get("name", str)
    if not _NAME_RE.match(name):
        raise top.error("name", f"{name!r} is not a plain file name")
    sha = top.sha256("sha256")
    root = top.get("root", str)
    # A folder name: MacOSX.sdk, or the extracted-SDK tarballs' own top
    # folder (Xcode-15.0-15A240d-extracted-SDK-with-libcxx-headers).
    if not root or "/" in root or root.startswith(".") or not _PLAIN_RE.match(root):
        raise top.error("root", f"{root!r} should be a folder name like MacOSX.sdk")
    sdk_version = top.get("sdk_version", str)
    description = top.get("description", str, default="")
    recipe = None
    wheel = None
    libcxx = None
    if "origin" in top.data:
        org = top.table("origin", ("recipe", "package", "version", "wheel", "platform",
                                   "wheel_sha256", "libcxx"))
        recipe = org.get("recipe", str)
        if recipe != "ziglang-wheel":
            raise org.error("recipe", f"{recipe!r}: only 'ziglang-wheel' is known")
        wheel_sha = org.sha256("wheel_sha256")
        wheel = WheelOrigin(_plain(org, "package", "a package name"),
                            _plain(org, "version", "a version"),
                            _plain(org, "wheel", "a wheel file name", ".whl"),
                            _plain(org, "platform", "a platform tag"),
                            wheel_sha)
        if "libcxx" in org.data:
            lib = org.table("libcxx", ("source_package", "source_version", "orig", "orig_sha256"))
            version = lib.get("source_version", str)
            if not re.match(r"^[0-9A-Za-z.+~:-]+$", version):
                raise lib.error("source_version", f"{version!r}: not a Debian version")
            libcxx = SourceTarball(_plain(lib, "source_package", "a source package name"),
                                   version, _plain(lib, "orig", "a tarball file name"),
                                   lib.sha256("orig_sha256"))
            lib.finish()
        org.finish()
    top.finish()
    return SdkPin(name, sha, root, sdk_version, description, recipe, wheel, Path(path), libcxx)


def find_pin(pins_dirs: Sequence[str | os.PathLike], name: str,
             sha256: str | None = None) -> SdkPin:
    """The pin ``<name>.toml`` in the first of ``pins_dirs`` that has one (a
    project's own ``sdk/`` before the shipped pins); with ``sha256``, it must
    agree with the caller."""
    if not _NAME_RE.match(name):
        raise InputError(f"SDK name {name!r} is not a plain file name")
    candidates = [Path(d) / f"{name}.toml" for d in pins_dirs]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise InputError(f"SDK {name}: no pin file; looked for "
                         + ", ".join(os.fspath(c) for c in candidates))
    pin = load_pin(found)
    if pin.name != name:
        raise InputError(f"{pin.path}: name: {pin.name!r} does not match the file name")
    if sha256 is not None and sha256 != pin.sha256:
        raise VerificationError(f"SDK {name}: the release configuration pins sha256 {sha256} "
                                f"but {pin.path} pins {pin.sha256}")
    return pin


# --------------------------------------------------------------------------
# Checking and extracting


def verify_tarball(tar_path: str | os.PathLike, expected_sha256: str) -> str:
    """Hash the tarball; refuse it, naming both hashes, if it is not the pinned one."""
    return require_sha256(tar_path, expected_sha256, "SDK tarball refused before extraction")


def extract(tar_path: str | os.PathLike, expected_sha256: str, dest: str | os.PathLike) -> Path:
    """Verify, then safely extract into ``dest`` (replaced as a whole, never half-written)."""
    verify_tarball(tar_path, expected_sha256)
    final = Path(dest)
    tmp = final.with_name(final.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tarball.safe_extract(tar_path, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def pack(sdk_dir: str | os.PathLike, out_path: str | os.PathLike) -> str:
    """``reprodmg sdk pack``: a deterministic tarball of an SDK folder; returns its sha256.

    Members are ``<folder name>/...``, sorted, mtime 0, uid/gid 0, no owner
    names, modes 0755/0644, PAX, uncompressed (compressed tarballs hash
    differently under zlib and zlib-ng).
    """
    src = Path(sdk_dir)
    if not src.is_dir():
        raise InputError(f"{sdk_dir}: not a folder")
    name = src.resolve().name
    tarball.pack_tree(src, out_path, prefix=name, mtime=0)
    return sha256_file(out_path)


# --------------------------------------------------------------------------
# The demo SDK recipe (ziglang wheel -> MacOSX.sdk tarball)

_WHEEL_INCLUDE = "ziglang/lib/libc/include/any-darwin-any/"
_WHEEL_TBD = "ziglang/lib/libc/darwin/libSystem.tbd"
_WHEEL_SETTINGS = "ziglang/lib/libc/darwin/SDKSettings.json"
_MAX_WHEEL_MEMBER = 64 << 20

_TBD_TARGETS_RE = re.compile(r"targets:(\s*)\[([^\]]*)\]")


def normalise_tbd(text: str) -> str:
    """Make zig's libSystem.tbd loadable by ld64.lld 19.

    The stub lists ``arm64e.x1-macos`` / ``arm64e.x1-maccatalyst`` targets
    (a sub-architecture newer than LLVM 19's TextAPI reader, which fails the
    whole file with "unknown architecture") and describes the arm64 side
    only as ``arm64e``, so an ``arm64`` link finds no symbols.  In every
    ``targets: [...]`` list this drops ``arm64e.x1-*`` and renames
    ``arm64e-<platform>`` to ``arm64-<platform>`` (dropping duplicates).
    Plain arm64 and arm64e share the userspace ABI of the C library, so the
    exported symbol lists apply unchanged; nothing else in the file changes.
    """
    def fix(match: re.Match) -> str:
        out: list[str] = []
        for item in (s.strip() for s in match.group(2).split(",")):
            if not item:
                continue
            arch, _, platform = item.partition("-")
            if arch.startswith("arm64e."):
                continue
            if arch == "arm64e":
                item = f"arm64-{platform}"
            if item not in out:
                out.append(item)
        return f"targets:{match.group(1)}[ {', '.join(out)} ]"
    return _TBD_TARGETS_RE.sub(fix, text)


def sdk_settings(version: str) -> bytes:
    """SDKSettings.json that clang 19 accepts.

    zig ships ``{"Version": ...}`` only, which clang rejects ("SDK settings
    were ignored"); clang then cannot put the SDK version into
    LC_BUILD_VERSION.  These are the keys Apple's SDKs carry for macOS.
    """
    settings = {
        "CanonicalName": f"macosx{version}",
        "DisplayName": f"macOS {version}",
        "MaximumDeploymentTarget": f"{version}.99",
        "Version": version,
    }
    return canonical_json(settings)


def _wheel_sdk_version(zf: zipfile.ZipFile, wheel: str) -> str:
    try:
        data = json.loads(zf.read(_WHEEL_SETTINGS))
        version = data["Version"]
    except (KeyError, ValueError) as exc:
        raise CorruptError(wheel, _WHEEL_SETTINGS, f"no SDK Version ({exc})") from None
    if not isinstance(version, str) or not re.match(r"^[0-9]+(\.[0-9]+){0,2}$", version):
        raise CorruptError(wheel, _WHEEL_SETTINGS, f"bad Version {version!r}")
    return version


def sdk_members_from_wheel(wheel_path: str | os.PathLike, root: str = "MacOSX.sdk") -> tuple[dict[str, bytes], str]:
    """The minimal SDK's files, ``{tar member name: bytes}``, and its SDK version."""
    wheel = os.fspath(wheel_path)
    members: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            version = _wheel_sdk_version(zf, wheel)
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                if info.is_dir() or not info.filename.startswith(_WHEEL_INCLUDE):
                    continue
                if info.file_size > _MAX_WHEEL_MEMBER:
                    raise CorruptError(wheel, info.filename, f"{info.file_size} bytes is implausible")
                rel = info.filename[len(_WHEEL_INCLUDE):]
                if rel.startswith("/") or ".." in rel.split("/"):
                    raise CorruptError(wheel, info.filename, "member name leaves the include folder")
                members[f"{root}/usr/include/{rel}"] = zf.read(info)
            try:
                tbd = zf.read(_WHEEL_TBD).decode("utf-8")
            except KeyError:
                raise CorruptError(wheel, _WHEEL_TBD, "missing from the wheel") from None
    except zipfile.BadZipFile as exc:
        raise CorruptError(wheel, "zip central directory", str(exc)) from None
    if not any(name.endswith("/stdio.h") for name in members):
        raise CorruptError(wheel, _WHEEL_INCLUDE, "no libc headers (stdio.h) found")
    members[f"{root}/usr/lib/libSystem.tbd"] = normalise_tbd(tbd).encode("utf-8")
    members[f"{root}/SDKSettings.json"] = sdk_settings(version)
    return members, version


def build_from_wheel(wheel_path: str | os.PathLike, origin: WheelOrigin,
                     out_path: str | os.PathLike, root: str = "MacOSX.sdk",
                     libcxx_source: str | os.PathLike | None = None) -> str:
    """The recipe: pinned wheel (and, with ``libcxx_source``, libc++ from the
    LLVM source tarball) -> deterministic SDK tarball; returns its sha256."""
    actual = sha256_file(wheel_path)
    if actual != origin.sha256:
        raise VerificationError(f"{wheel_path}: wheel refused: expected sha256 {origin.sha256}, "
                                f"actual sha256 {actual}")
    members, _version = sdk_members_from_wheel(wheel_path, root)
    if libcxx_source is not None:
        from .libcxx import sdk_members as libcxx_members
        members.update(libcxx_members(libcxx_source, root))
    tarball.pack_members(members, out_path, mtime=0)
    return sha256_file(out_path)


def fetch_wheel(origin: WheelOrigin, cache_dir: str | os.PathLike) -> Path:
    """The pinned wheel in ``cache_dir``, downloaded with pip if absent; always hash-checked.

    pip downloads into a private folder inside the cache and the wheel gets
    its final name only once its hash matches: pip copies the file into
    ``-d`` non-atomically, so an interrupted run would otherwise leave a
    truncated wheel under the final name, refused by every later run.
    """
    cache = Path(cache_dir)
    wheel = cache / origin.filename
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".download-", dir=cache) as private:
            downloaded = _pip_download(origin, Path(private))
            require_sha256(downloaded, origin.sha256, "downloaded wheel refused")
            os.replace(downloaded, wheel)
        return wheel
    require_sha256(wheel, origin.sha256, "wheel refused (delete it to download it again)")
    return wheel


def _pip_download(origin: WheelOrigin, dest: Path) -> Path:
    # --platform/--python-version pick the same wheel file on any host;
    # pip may not verify a hash given this way, so the caller checks it.
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--platform", origin.platform,
           "--python-version", "3.11", "--implementation", "py",
           "-d", os.fspath(dest), f"{origin.package}=={origin.version}"]
    # ~100 MB: on a terminal pip's own progress bar is shown; in CI and
    # pipes its output is kept for the error message only.
    on_terminal = Progress(f"download {origin.filename}").enabled
    proc = subprocess.run(cmd, capture_output=not on_terminal, text=True, check=False)
    downloaded = dest / origin.filename
    if proc.returncode != 0 or not downloaded.exists():
        tail = ((proc.stderr or proc.stdout or "").strip().splitlines() or ["(see above)"])[-3:]
        raise InputError(f"cannot download {origin.filename} with pip: " + " / ".join(tail))
    return downloaded


def build_tarball(pin: SdkPin, cache_dir: str | os.PathLike, out_path: str | os.PathLike) -> str:
    """Run the pin's recipe: fetch its pinned inputs into ``cache_dir`` (the
    wheel with pip, the LLVM source with apt-get), write the tarball, return
    its sha256 (the caller compares it with the pin)."""
    if pin.origin is None:
        raise InputError(f"{pin.path}: this SDK has no recipe (no [origin] table)")
    wheel = fetch_wheel(pin.origin, cache_dir)
    llvm_source = debsource.fetch(pin.libcxx, cache_dir) if pin.libcxx else None
    return build_from_wheel(wheel, pin.origin, out_path, pin.root, llvm_source)


def obtain_tarball(pin: SdkPin, cache_dir: str | os.PathLike) -> Path:
    """The pinned SDK tarball in ``cache_dir``: reused if its hash matches, else made by its recipe.

    A user-supplied SDK (no recipe) must be placed in the cache as
    ``<name>.tar``; either way the hash is checked against the pin.
    """
    cache = Path(cache_dir)
    tar_path = cache / pin.tarball_name
    if tar_path.exists():
        try:
            verify_tarball(tar_path, pin.sha256)
        except VerificationError as exc:
            if pin.recipe is None:
                raise
            # Never replaced silently (it may be evidence of tampering), but
            # the way out is one command.
            raise VerificationError(f"{exc}; delete it to make it again from the recipe "
                                    f"in {pin.path}") from None
        return tar_path
    if pin.recipe is None or pin.origin is None:
        raise InputError(f"{pin.path}: SDK {pin.name} has no recipe; put its tarball at {tar_path}")
    build_tarball(pin, cache, tar_path)
    try:
        verify_tarball(tar_path, pin.sha256)
    except VerificationError:
        # Keep the evidence but out of the way of the next run's reuse check.
        os.replace(tar_path, tar_path.with_name(tar_path.name + ".mismatch"))
        raise
    return tar_path


def prepare(pin: SdkPin, cache_dir: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """The sdk stage: obtain the pinned tarball, check it, extract it to ``dest``.

    Returns the SDK root (``dest/<pin.root>``) and writes ``dest/sdk.json``
    (name, sha256, version) last, as the stage's completion stamp.
    """
    from ..jsonfile import write_json

    tar_path = obtain_tarball(pin, cache_dir)
    out = Path(dest)
    stamp = out / "sdk.json"
    stamp.unlink(missing_ok=True)
    extract(tar_path, pin.sha256, out / "contents")
    root = out / "contents" / pin.root
    if not root.is_dir():
        raise InputError(f"{tar_path}: has no top-level folder {pin.root!r} (pin {pin.path})")
    write_json(stamp, {"name": pin.name, "sha256": pin.sha256, "root": pin.root,
                       "sdk_version": pin.sdk_version})
    return root
