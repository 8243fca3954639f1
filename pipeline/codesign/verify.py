"""Verify embedded code signatures, per file and per architecture.

For each Mach-O slice: every CodeDirectory's code-page hashes up to
codeLimit, its special slots (Info.plist -1, Requirements -2, CodeResources
-3, Entitlements -5, DER entitlements -7), and a CMS signature if there is
one (messageDigest over the CodeDirectory, the CDHashes attributes, the
signature with the leaf certificate, and optionally the chain to given root
certificates).  For a bundle, the CodeResources seal over its other files.

``verify_path`` returns a report and never raises for a bad signature:
failures are collected (a hostile file's CorruptError becomes a failure of
that file), so a command can show all of them; ``report.raise_for_failure()``
raises ``VerificationError`` with the first one.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import CorruptError, InputError, ReprodmgError, UnsupportedError, VerificationError
from ..macho import MachOSlice, read_macho
from . import blobs
from .bundle import BundleParts, bundle_parts, macho_files, owning_bundle, relative_name
from .cms import verify_cms
from .coderesources import check_code_resources, sealed_as_data


@dataclass
class SliceReport:
    arch: str
    kind: str = "unsigned"            # unsigned | linker-signed | adhoc | cms
    identifier: str | None = None
    team_id: str | None = None
    cd_version: str | None = None
    flags: str | None = None
    hash_type: str | None = None
    code_slots: int = 0
    code_limit: int = 0
    cdhash: str | None = None
    signer: str | None = None
    signing_time: str | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class FileReport:
    path: str
    slices: list[SliceReport] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    bundle: str | None = None     # the bundle whose main executable this is

    @property
    def ok(self) -> bool:
        return not self.failures and all(s.ok for s in self.slices)


@dataclass
class VerifyReport:
    path: str
    files: list[FileReport] = field(default_factory=list)
    ticket: str | None = None      # a stapled notarization ticket (Contents/CodeResources)
    ticket_failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.files) and all(f.ok for f in self.files) and not self.ticket_failures

    @property
    def failures(self) -> list[str]:
        out = [] if self.files else [f"{self.path}: no Mach-O code found"]
        out += self.ticket_failures
        for f in self.files:
            out += [f"{f.path}: {msg}" for msg in f.failures]
            for s in f.slices:
                out += [f"{f.path} ({s.arch}): {msg}" for msg in s.failures]
        return out

    def to_json(self) -> dict:
        return {
            "path": self.path, "ok": self.ok, "failures": self.failures, "ticket": self.ticket,
            "files": [{"path": f.path, "ok": f.ok, "failures": f.failures, "bundle": f.bundle,
                       "slices": [dict(asdict(s), ok=s.ok) for s in f.slices]}
                      for f in self.files],
        }

    def raise_for_failure(self) -> None:
        failures = self.failures
        if failures:
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            raise VerificationError(f"{self.path}: {failures[0]}{more}")


def _bundle_folder(parts: BundleParts, executable: Path) -> Path:
    """The bundle's folder, spelled from the path the user gave."""
    depth = len(parts.main_rel.split("/")) + (1 if parts.contents.name == "Contents" else 0)
    folder = executable
    for _ in range(depth):
        folder = folder.parent
    return folder


def _read(path: Path | None) -> bytes | None:
    if path is None or not path.is_file():
        return None
    return path.read_bytes()


def verify_slice(sl: MachOSlice, info_plist: bytes | None = None,
                 code_resources: bytes | None = None,
                 anchors: list[bytes] | None = None, apple_root: bool = False) -> SliceReport:
    """Verify one slice; ``info_plist``/``code_resources`` are the bytes
    special slots -1 and -3 must seal (None: the code has no bundle)."""
    rep = SliceReport(sl.arch)
    cs = sl.code_signature
    if cs is None:
        rep.failures.append("not signed (no LC_CODE_SIGNATURE)")
        return rep
    ctx = blobs.BlobContext(sl.path, sl.arch, sl.file_offset + cs.dataoff)
    signature = sl.read(cs.dataoff, cs.datasize)
    try:
        superblob = blobs.SuperBlob.parse(signature, ctx)
        cds = [(slot, blob, blobs.CodeDirectory.parse(blob, ctx))
               for slot, blob in superblob.code_directories()]
    except CorruptError as exc:
        if not any(signature):
            rep.failures.append(f"not signed (LC_CODE_SIGNATURE reserves {cs.datasize} zero bytes)")
            return rep
        where = exc.where.removeprefix(sl.arch + " ")
        rep.failures.append(f"{where}: {exc.problem}" + (
            f" (offset {exc.offset:#x})" if exc.offset is not None else ""))
        return rep
    if not cds or cds[0][0] != blobs.CSSLOT_CODEDIRECTORY:
        rep.failures.append("SuperBlob has no CodeDirectory in slot 0")
        return rep
    primary = cds[0][2]
    rep.identifier = primary.identifier
    rep.team_id = primary.team_id
    rep.cd_version = f"{primary.version:#x}"
    rep.flags = f"{primary.flags:#x}"
    rep.hash_type = blobs.HASH_TYPES[primary.hash_type][0] + (
        "-truncated" if primary.hash_type == blobs.CS_HASHTYPE_SHA256_TRUNCATED else "")
    rep.code_slots = len(primary.code_hashes)
    rep.code_limit = primary.code_limit
    rep.cdhash = primary.cdhash().hex()
    _check_code(sl, cs.dataoff, [(slot, cd) for slot, _blob, cd in cds], rep)
    for slot, _blob, cd in cds:
        _check_special(superblob, slot, cd, info_plist, code_resources, rep)
    wrapper = superblob.get(blobs.CSSLOT_SIGNATURESLOT)
    cms_der = blobs.blob_payload(wrapper) if wrapper is not None else b""
    if cms_der:
        rep.kind = "cms"
        res = verify_cms(cms_der, [(slot, blob, blobs.HASH_TYPES[cd.hash_type][0])
                                   for slot, blob, cd in cds], anchors, apple_root)
        rep.signer = res.signer or None
        rep.signing_time = res.signing_time
        rep.failures += res.failures
    elif primary.flags & blobs.CS_ADHOC:
        rep.kind = "linker-signed" if primary.flags & blobs.CS_LINKER_SIGNED else "adhoc"
        if anchors is not None or apple_root:
            rep.failures.append("ad-hoc signature: no certificate chain to check")
    else:
        rep.failures.append("no CMS signature and the CodeDirectory is not ad-hoc")
    return rep


def _slot_label(slot: int) -> str:
    return "CodeDirectory" if slot == 0 else f"alternate CodeDirectory {slot:#x}"


def _check_code(sl: MachOSlice, dataoff: int, cds: list[tuple[int, blobs.CodeDirectory]],
                rep: SliceReport) -> None:
    """Every CodeDirectory's code-slot hashes against the slice, read once
    for all of them a window at a time."""
    checked = []
    for slot, cd in cds:
        label = _slot_label(slot)
        if cd.code_limit != dataoff:
            rep.failures.append(f"{label}: codeLimit {cd.code_limit:#x} is not the signature "
                                f"offset {dataoff:#x} (signature made for another layout)")
            if cd.code_limit > sl.size:
                continue
        want_slots = -(-cd.code_limit // cd.page_size)
        if len(cd.code_hashes) != want_slots:
            rep.failures.append(f"{label}: {len(cd.code_hashes)} code slots, codeLimit "
                                f"{cd.code_limit:#x} needs {want_slots}")
        checked.append((label, cd, blobs.PageHasher(cd)))
    if not checked:
        return
    for chunk in sl.chunks(0, max(cd.code_limit for _label, cd, _h in checked)):
        for _label, _cd, hasher in checked:
            hasher.update(chunk)
    for label, cd, hasher in checked:
        bad = [i for i, (have, want) in enumerate(zip(cd.code_hashes, hasher.digests()))
               if have != want]
        if bad:
            more = f" ({len(bad)} pages differ)" if len(bad) > 1 else ""
            rep.failures.append(f"{label}: code page {bad[0]} (offset {bad[0] * cd.page_size:#x}) "
                                f"hash mismatch{more}")


_SPECIAL_BLOB_SLOTS = (blobs.CSSLOT_REQUIREMENTS, blobs.CSSLOT_ENTITLEMENTS, blobs.CSSLOT_DER_ENTITLEMENTS)


def _check_special(superblob: blobs.SuperBlob, slot: int, cd: blobs.CodeDirectory,
                   info_plist: bytes | None, code_resources: bytes | None,
                   rep: SliceReport) -> None:
    label = _slot_label(slot)
    zero = bytes(cd.hash_size)
    for n in range(1, max(cd.n_special_slots, max(_SPECIAL_BLOB_SLOTS)) + 1):
        recorded = cd.special_hashes.get(n, zero) if n <= cd.n_special_slots else None
        name = blobs.SPECIAL_SLOT_NAMES.get(n, "?")
        if n == blobs.CSSLOT_INFOSLOT:
            data = info_plist
        elif n == blobs.CSSLOT_RESOURCEDIR:
            data = code_resources
        elif n in _SPECIAL_BLOB_SLOTS:
            data = superblob.get(n)
        else:
            continue
        if recorded is None or recorded == zero:
            if data is not None and n in _SPECIAL_BLOB_SLOTS:
                rep.failures.append(f"{label}: special slot -{n} ({name}) is not sealed but the "
                                    "signature carries that blob")
            continue
        if data is None:
            rep.failures.append(f"{label}: special slot -{n} ({name}) is sealed but there is no "
                                f"{name} to check")
        elif cd.hash(data) != recorded:
            rep.failures.append(f"{label}: special slot -{n} ({name}) hash mismatch")


def verify_file(path: Path, rel: str, parts: BundleParts | None,
                anchors: list[bytes] | None = None, apple_root: bool = False) -> FileReport:
    rep = FileReport(rel)
    try:
        macho = read_macho(path)
    except (CorruptError, UnsupportedError) as exc:
        rep.failures.append(str(exc))
        return rep
    info = _read(parts.info_plist) if parts else None
    resources = _read(parts.code_resources) if parts else None
    for sl in macho.slices:
        try:
            # Outside a bundle, a tool's own __info_plist section is its Info.plist.
            slice_info = info if parts else sl.embedded_info_plist()
        except CorruptError as exc:
            rep.slices.append(SliceReport(sl.arch, failures=[str(exc)]))
            continue
        try:
            rep.slices.append(verify_slice(sl, slice_info, resources, anchors, apple_root))
        except UnsupportedError as exc:
            rep.slices.append(SliceReport(sl.arch, failures=[str(exc)]))
    return rep


def _all_cdhashes(path: Path) -> set[bytes]:
    """The cdhash of every CodeDirectory (primary and alternates) of every slice."""
    out = set()
    try:
        for sl in read_macho(path).slices:
            sig = sl.signature_bytes()
            if sig:
                for _slot, cd in blobs.SuperBlob.parse(sig).code_directories():
                    out.add(blobs.CodeDirectory.parse(cd).cdhash())
    except ReprodmgError:
        pass
    return out


def nested_cdhashes(path: Path) -> set[bytes]:
    """cdhashes of nested code (a Mach-O file, or a bundle's main executable):
    an outer seal may record any of them.  Developer ID frameworks carry a
    SHA-1 primary and a SHA-256 alternate, and the seal names the SHA-256 one."""
    if path.is_dir():
        path = bundle_parts(path).main_executable
        if path is None:
            return set()
    return _all_cdhashes(path)


def verify_path(path: str | os.PathLike, anchors: list[bytes] | None = None,
                apple_root: bool = False) -> VerifyReport:
    """Verify a bundle (every Mach-O inside it and its CodeResources) or one file.

    ``anchors`` (DER root certificates) and ``apple_root`` (Apple Root CA,
    pinned by fingerprint) additionally require the CMS chain to end there.
    """
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root}: no such file or folder")
    report = VerifyReport(os.fspath(path))
    bundle_reports: dict[Path, FileReport] = {}
    data_files = sealed_as_data(root)
    for file in macho_files(root):
        if file in data_files:
            continue              # checked by its hash with the seal below
        if root.is_dir():
            parts = owning_bundle(file, root)
        else:
            # A main executable given by path: its bundle (Info.plist, the
            # seal) is found upwards, as codesign does.
            absolute = Path(os.path.abspath(file))
            parts = owning_bundle(absolute, Path(absolute.anchor))
        fr = verify_file(file, relative_name(file, root), parts, anchors, apple_root)
        report.files.append(fr)
        if parts is not None:
            bundle_reports[parts.contents] = fr
            if not root.is_dir():
                fr.bundle = os.fspath(_bundle_folder(parts, Path(path)))
    for contents, fr in bundle_reports.items():
        parts = bundle_parts(contents.parent if contents.name == "Contents" else contents)
        data = _read(parts.code_resources)
        if data is None:
            continue      # special slot -3 already reports a sealed but missing file
        try:
            fr.failures += [f"CodeResources: {m}" for m in check_code_resources(
                parts.contents, data, parts.main_rel, nested_cdhashes,
                os.fspath(parts.code_resources))]
        except CorruptError as exc:
            fr.failures.append(str(exc))
    _check_ticket(root, report)
    return report


STAPLED_TICKET = "Contents/CodeResources"


def _check_ticket(root: Path, report: VerifyReport) -> None:
    """A ticket stapled to an app (``Contents/CodeResources``, as stapler
    writes it) must list the cdhash of the app's code."""
    ticket_path = root / STAPLED_TICKET
    if not root.is_dir() or not ticket_path.is_file() or ticket_path.is_symlink():
        return
    ticket = ticket_path.read_bytes()
    cdhashes = {s.cdhash for f in report.files for s in f.slices if s.cdhash}
    if any(bytes.fromhex(h) in ticket for h in cdhashes):
        report.ticket = "stapled (lists the app's cdhash)"
    else:
        report.ticket = "stapled"
        report.ticket_failures.append(f"{STAPLED_TICKET}: the stapled ticket lists none of the "
                                      "app's cdhashes (a ticket for another build?)")
