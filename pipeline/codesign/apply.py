"""Re-attach detached signatures to an unsigned app, then verify.

For each ``<file>.<arch>sign`` member: the slice gets room for the
signature exactly where the signer's allocator put it (dataoff = the
CodeDirectory's codeLimit, datasize = the member's size; __LINKEDIT and
LC_CODE_SIGNATURE as codesign_allocate sets them), universal slices are
laid out again, the bytes are written, ``CodeResources`` files are copied,
and the result is verified.  The output appears only when all of that
succeeded.

Signature tarballs come from outside the build: every member is checked
(no absolute paths or '..', no links, only ``.<arch>sign`` and
``_CodeSignature/CodeResources`` members, for files and architectures that
exist, of bounded size) before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorruptError, InputError, VerificationError
from ..macho import read_macho
from ..tarball import read_members
from . import blobs
from .allocate import Allocation, plan_allocation
from .detach import SIGN_SUFFIX
from .verify import verify_path
from .writeout import SliceWriter, write_macho

# Apple's signatures are a few KiB to a few hundred KiB (hashes of 4 KiB
# pages: 1 GiB of code is 8 MiB of hashes).  Larger is refused.
MAX_SIGNATURE_SIZE = 16 << 20
MAX_CODE_RESOURCES_SIZE = 64 << 20


@dataclass
class _Plan:
    signatures: dict[str, dict[str, bytes]] = field(default_factory=dict)   # file -> arch -> blob
    resources: dict[str, bytes] = field(default_factory=dict)                # member -> bytes


def _plan(unsigned: Path, sig_tar: Path) -> _Plan:
    archive = os.fspath(sig_tar)
    members = read_members(sig_tar, max_member=max(MAX_SIGNATURE_SIZE, MAX_CODE_RESOURCES_SIZE))
    plan = _Plan()
    single = unsigned.is_file()
    for name, data in sorted(members.items()):
        if name == "Contents/CodeResources":        # a stapled notarization ticket
            if single or not (unsigned / "Contents").is_dir() or \
                    _has_symlink(unsigned, Path("Contents")):
                raise InputError(f"{archive}: member {name!r}: a stapled ticket, but {unsigned} "
                                 "is not an app bundle")
            if len(data) > MAX_CODE_RESOURCES_SIZE:
                raise InputError(f"{archive}: member {name!r}: {len(data)} bytes is too large")
            plan.resources[name] = data
            continue
        if name.endswith("/_CodeSignature/CodeResources") or name == "_CodeSignature/CodeResources":
            if single:
                raise InputError(f"{archive}: member {name!r}: CodeResources for a single file")
            bundle_dir = unsigned / name[:-len("/_CodeSignature/CodeResources")] \
                if "/" in name[:-len("_CodeSignature/CodeResources")] else unsigned
            if not bundle_dir.is_dir() or _has_symlink(unsigned, Path(name).parent):
                raise InputError(f"{archive}: member {name!r}: no such bundle folder in {unsigned}")
            if len(data) > MAX_CODE_RESOURCES_SIZE:
                raise InputError(f"{archive}: member {name!r}: {len(data)} bytes is too large")
            plan.resources[name] = data
            continue
        stem, dot, suffix = name.rpartition(".")
        if not dot or not suffix.endswith(SIGN_SUFFIX) or suffix == SIGN_SUFFIX:
            raise InputError(f"{archive}: member {name!r}: not a .<arch>sign signature or "
                             "_CodeSignature/CodeResources")
        arch = suffix[:-len(SIGN_SUFFIX)]
        if len(data) > MAX_SIGNATURE_SIZE:
            raise InputError(f"{archive}: member {name!r}: {len(data)} bytes exceeds the "
                             f"{MAX_SIGNATURE_SIZE}-byte limit for a signature")
        if single:
            # A bare file may have been renamed since signing; its members
            # must still all name one file, at the top level.
            if "/" in stem or any(s != stem for s in plan.signatures):
                raise InputError(f"{archive}: member {name!r}: {unsigned} is a single file, but "
                                 "the signatures name more than one file")
            target = unsigned
        else:
            target = unsigned / stem
            if _has_symlink(unsigned, Path(stem)) or not target.is_file():
                raise InputError(f"{archive}: member {name!r}: {stem} does not exist in "
                                 f"{unsigned} (or is not a regular file)")
        plan.signatures.setdefault(stem, {})[arch] = data
    if not plan.signatures:
        raise InputError(f"{archive}: no .<arch>sign members")
    return plan


def _has_symlink(root: Path, rel: Path) -> bool:
    path = root
    for part in rel.parts:
        path = path / part
        if path.is_symlink():
            return True
    return False


def attach_file(path: Path, signatures: dict[str, bytes], member_prefix: str,
                out: Path | None = None) -> None:
    """Write the Mach-O at ``path`` with ``signatures`` (arch -> blob)
    attached to ``out`` (default: in place, replacing it atomically), a
    window at a time.  Every check on the signatures happens before anything
    is written."""
    macho = read_macho(path)
    archs = [sl.arch for sl in macho.slices]
    for arch in sorted(set(signatures) - set(archs)):
        raise InputError(f"{member_prefix}.{arch}{SIGN_SUFFIX}: {path} has no {arch} slice "
                         f"(it has {', '.join(archs)})")
    missing = [a for a in archs if a not in signatures]
    if missing:
        raise InputError(f"{member_prefix}: no signature for the {', '.join(missing)} slice of "
                         f"{path}")
    writers = []
    for sl in macho.slices:
        blob = signatures[sl.arch]
        member = f"{member_prefix}.{sl.arch}{SIGN_SUFFIX}"
        ctx = blobs.BlobContext(member, sl.arch, 0)
        superblob = blobs.SuperBlob.parse(blob, ctx)
        primary = superblob.get(blobs.CSSLOT_CODEDIRECTORY)
        if primary is None:
            raise CorruptError(member, f"{sl.arch} SuperBlob", "no CodeDirectory in slot 0")
        cd = blobs.CodeDirectory.parse(primary, ctx)
        writers.append(_attached(plan_allocation(sl, len(blob), cd.code_limit), blob))
    write_macho(Path(out if out is not None else path), macho.fat, writers,
                mode=os.stat(path).st_mode & 0o7777)


def _attached(allocation: Allocation, blob: bytes) -> SliceWriter:
    def write(fh) -> None:
        for chunk in allocation.chunks():
            fh.write(chunk)
        fh.write(blob)
    return SliceWriter(allocation.size, write)


def apply(unsigned: Path, sig_tar: Path, out: Path) -> None:
    """Copy ``unsigned`` to ``out`` with the signatures of ``sig_tar``
    attached; raise VerificationError naming file, arch and the first
    failing page or slot if the result does not verify."""
    unsigned, sig_tar, out = Path(unsigned), Path(sig_tar), Path(out)
    if not unsigned.exists():
        raise InputError(f"{unsigned}: no such file or folder")
    if out.exists() or out.is_symlink():
        raise InputError(f"{out}: already exists (refusing to overwrite)")
    plan = _plan(unsigned, sig_tar)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists() or tmp.is_symlink():
        _remove(tmp)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        restore: list[tuple[Path, int]] = []
        if unsigned.is_file():
            shutil.copy2(unsigned, tmp)
        else:
            shutil.copytree(unsigned, tmp, symlinks=True)
        restore = _make_folders_writable(tmp)
        for stem, sigs in sorted(plan.signatures.items()):
            attach_file(tmp if unsigned.is_file() else tmp / stem, sigs, stem)
        for name, data in sorted(plan.resources.items()):
            target = tmp / name
            if not target.parent.is_dir():
                target.parent.mkdir()
                os.chmod(target.parent, 0o755)        # not the umask's choice
            if target.is_symlink() or target.exists():
                target.unlink()
            target.write_bytes(data)
            os.chmod(target, 0o644)
        for folder, mode in reversed(restore):
            os.chmod(folder, mode)
        report = verify_path(tmp)
        if not report.ok:
            failures = [f.replace(str(tmp), str(out)) for f in report.failures]
            raise VerificationError(f"{out}: signature does not fit {unsigned}: {failures[0]}"
                                    + (f" (and {len(failures) - 1} more)" if len(failures) > 1
                                       else ""))
        os.replace(tmp, out)
    except BaseException:
        _remove(tmp)
        raise


def _make_folders_writable(root: Path) -> list[tuple[Path, int]]:
    """copytree keeps read-only folder modes (a read-only input tree); open
    them for writing and return what to restore afterwards."""
    changed = []
    for dirpath, _dirnames, _filenames in os.walk(root):
        mode = os.stat(dirpath).st_mode & 0o7777
        if not mode & 0o200:
            os.chmod(dirpath, mode | 0o700)
            changed.append((Path(dirpath), mode))
    return changed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for dirpath, _dirnames, _filenames in os.walk(path):
            os.chmod(dirpath, 0o755)
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
