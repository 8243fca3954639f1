"""Two builds' output folders, artifact by artifact (``reprodmg repro-check``).

Every artifact a release publishes (each ``<app>/SHA256SUMS`` under the
build folder) is hashed on both sides; for each that differs the comparison
goes down to the layer that explains it: disk images through
``diff_images``, tarballs member by member (header fields, then data, then
Mach-O for executables), JSON field by field, other files to the first
differing byte.  ``first`` says the most telling difference in plain words,
preferring the cause (a binary, a tarball member) over its consequences (the
manifest that lists the binary's hash); when a differing string holds one
of the builds' own paths, it says that the build path leaks.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CorruptError, InputError, ReprodmgError
from ..jsonfile import read_sha256sums, sha256_file
from .common import MAX_ITEMS, capped, field_diff, file_first_difference, streams_first_difference
from .images import diff_images
from .macho import MAX_MACHO_DIFF, compare_macho, read_if_macho, string_at

MAX_JSON = 16 << 20
TAR_FIELDS = ("type", "mode", "uid", "gid", "uname", "gname", "mtime", "linkname", "size",
              "pax_headers")
# Which differing artifact explains the others best: binaries first, the
# manifests that record their hashes last.
_ORDER = {".tar": 0, ".dmg": 1, ".json": 3}


@dataclass
class ArtifactComparison:
    path: str                         # relative to the build folder
    status: str                       # "same", "different", "only in A", "only in B"
    sha256: list[str | None]
    first: str | None = None          # the difference in plain words
    detail: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "status": self.status, "sha256": self.sha256}
        if self.first is not None:
            out["first"] = self.first
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass
class OutputsReport:
    artifacts: list[ArtifactComparison] = field(default_factory=list)
    first: str | None = None
    leaks: list[str] = field(default_factory=list)   # paths that hold a build path

    @property
    def same(self) -> bool:
        return bool(self.artifacts) and all(a.status == "same" for a in self.artifacts)

    def to_json(self) -> dict[str, Any]:
        return {"same": self.same, "first": self.first, "leaks": self.leaks,
                "artifacts": [a.to_json() for a in self.artifacts]}


def published_artifacts(build_dir: Path) -> dict[str, str]:
    """``{relative path: sha256 listed}`` of every release under ``build_dir``,
    the SHA256SUMS files themselves included."""
    out = {}
    for sums in sorted(build_dir.glob("*/SHA256SUMS")):
        folder = sums.parent.name
        out[f"{folder}/SHA256SUMS"] = ""
        for name, digest in read_sha256sums(sums).items():
            out[f"{folder}/{name}"] = digest
    return out


def compare_outputs(dir_a: Path, dir_b: Path, *, roots: tuple[list[str], list[str]] = ([], [])
                    ) -> OutputsReport:
    """Compare the published artifacts of two build folders; ``roots`` are
    each build's own paths (project and output folders), to recognise a
    leaked build path."""
    listed_a, listed_b = published_artifacts(dir_a), published_artifacts(dir_b)
    if not listed_a and not listed_b:
        raise InputError(f"{dir_a}, {dir_b}: neither holds a <release>/SHA256SUMS")
    report = OutputsReport()
    for rel in sorted(set(listed_a) | set(listed_b)):
        pa, pb = dir_a / rel, dir_b / rel
        ha = sha256_file(pa) if pa.is_file() else None
        hb = sha256_file(pb) if pb.is_file() else None
        if ha is None or hb is None:
            status = "only in B" if ha is None else "only in A"
            report.artifacts.append(ArtifactComparison(rel, status, [ha, hb],
                                                       f"{rel}: {status}"))
            continue
        if ha == hb:
            report.artifacts.append(ArtifactComparison(rel, "same", [ha, hb]))
            continue
        first, detail = explain(pa, pb, rel)
        report.artifacts.append(ArtifactComparison(rel, "different", [ha, hb], first, detail))
    differing = sorted((a for a in report.artifacts if a.status != "same"),
                       key=lambda a: (_ORDER.get(Path(a.path).suffix, 2), a.path))
    all_roots = [r for r in roots[0] + roots[1] if r]
    report.leaks = [a.path for a in differing if all_roots and _mentions(a.detail, all_roots)]
    if differing:
        art = differing[0]
        report.first = art.first
        if art.path in report.leaks and art.first is not None:
            report.first = (f"the build path leaks into {art.path}: "
                            + art.first.removeprefix(f"{art.path}: "))
    return report


def explain(pa: Path, pb: Path, rel: str) -> tuple[str, dict[str, Any]]:
    """The first difference in words, and the layer's report."""
    suffix = pa.suffix
    try:
        if suffix == ".dmg":
            d = diff_images(pa, pb).to_json()
            # The images' own paths are this machine's, not the artifact's.
            del d["a"], d["b"]
            return f"{rel}: {_dmg_first(d)}", {"dmg": d}
        if suffix == ".tar":
            t = compare_tarballs(pa, pb)
            return f"{rel}: {t['first']}", {"tar": t}
        if suffix == ".json":
            j = compare_json_files(pa, pb)
            head = j[0] if j else None
            words = f"{head['field']}: {head['a']} != {head['b']}" if head else "formatting only"
            return f"{rel}: {words}", {"json": j}
    except ReprodmgError as exc:
        return f"{rel}: differs; unreadable: {exc}", {"problems": [str(exc)]}
    d = file_first_difference(pa, pb)
    return f"{rel}: differs from byte {d}", {"first_difference": d}


def _dmg_first(d: dict[str, Any]) -> str:
    """A differing executable's first difference, else the report's first finding."""
    for p in (d.get("content") or {}).get("partitions", []):
        for f in (p.get("tree") or {}).get("data", []):
            if "macho" in f:
                return f["macho"]["first"]
    return "; ".join(d["summary"][:2])


def _mentions(obj: Any, roots: list[str]) -> bool:
    """Whether a string of the report (problems aside) holds one of ``roots``."""
    if isinstance(obj, str):
        return any(r in obj for r in roots)
    if isinstance(obj, dict):
        return any(_mentions(v, roots) for k, v in obj.items() if k != "problems")
    if isinstance(obj, list):
        return any(_mentions(v, roots) for v in obj)
    return False


# --------------------------------------------------------------------------
# Tarballs.

def _open(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:", encoding="utf-8", errors="surrogateescape")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CorruptError(str(path), "tar header", f"not an uncompressed tar archive ({exc})") \
            from None


def _tar_value(info: tarfile.TarInfo, name: str) -> Any:
    v = getattr(info, name)
    if name == "mode":
        return f"{v:04o}"
    if name == "type":
        return v.decode("latin-1")
    if name == "pax_headers":
        return dict(sorted(v.items()))
    return v


def compare_tarballs(pa: Path, pb: Path) -> dict[str, Any]:
    """Members added, removed, reordered; header fields; data (with the
    Mach-O level for executables)."""
    with _open(pa) as ta, _open(pb) as tb:
        try:
            ma, mb = ta.getmembers(), tb.getmembers()
        except (tarfile.TarError, EOFError) as exc:
            raise CorruptError(f"{pa} / {pb}", "tar members", str(exc)) from None
        ia, ib = {m.name: m for m in ma}, {m.name: m for m in mb}
        out: dict[str, Any] = {"members": [len(ma), len(mb)],
                               "added": capped(sorted(ib.keys() - ia.keys()))[0],
                               "removed": capped(sorted(ia.keys() - ib.keys()))[0],
                               "order_differs": [m.name for m in ma if m.name in ib]
                               != [m.name for m in mb if m.name in ia],
                               "headers": [], "data": []}
        for m in ma:
            n = ib.get(m.name)
            if n is None:
                continue
            for name in TAR_FIELDS:
                if _tar_value(m, name) != _tar_value(n, name):
                    out["headers"].append({"member": m.name,
                                           **field_diff(name, _tar_value(m, name),
                                                        _tar_value(n, name))})
            if m.isreg() and n.isreg():
                d = streams_first_difference(ta.extractfile(m).read, tb.extractfile(n).read)
                if d is not None:
                    entry: dict[str, Any] = {"member": m.name, "first_difference": d,
                                             "size": [m.size, n.size]}
                    pair = read_if_macho(lambda: ta.extractfile(m), lambda: tb.extractfile(n),
                                         (m.size, n.size))
                    if pair is not None:
                        entry["macho"] = compare_macho(pair[0], pair[1], m.name)
                    elif max(m.size, n.size) <= MAX_MACHO_DIFF:
                        entry["text"] = _text_around(ta.extractfile(m).read(), tb.extractfile(n).read(), d)
                    out["data"].append(entry)
        out["headers"], out["more_headers"] = capped(out["headers"])
        out["data"], out["more_data"] = capped(out["data"], MAX_ITEMS)
    out["first"] = _tar_first(out)
    return out


def _text_around(a: bytes, b: bytes, d: int) -> list[str] | None:
    x, y = string_at(a, d), string_at(b, d)
    return [x, y] if x is not None or y is not None else None


def _tar_first(t: dict[str, Any]) -> str:
    for d in t["data"]:
        if "macho" in d:
            return d["macho"]["first"]
    for d in t["data"]:
        text = f"member {d['member']}: data differs from byte {d['first_difference']}"
        if d.get("text"):
            text += f": A has {d['text'][0]!r}, B has {d['text'][1]!r}"
        return text
    if t["added"] or t["removed"]:
        return f"members only in B: {t['added'][:3]}; only in A: {t['removed'][:3]}"
    if t["headers"]:
        h = t["headers"][0]
        return f"member {h['member']}: header field {h['field']}: {h['a']} != {h['b']}"
    if t["order_differs"]:
        return "the same members in another order"
    return "the same members and data; the archive's padding or headers' encoding differ"


# --------------------------------------------------------------------------
# JSON.

def _load(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_JSON:
            raise InputError(f"{path}: larger than {MAX_JSON} bytes")
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc})") from None


def compare_json_files(pa: Path, pb: Path) -> list[dict]:
    out: list[dict] = []
    _json_diff(_load(pa), _load(pb), "", out)
    return out[:MAX_ITEMS]


def _json_diff(a: Any, b: Any, where: str, out: list[dict]) -> None:
    if len(out) >= MAX_ITEMS:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            _json_diff(a.get(k), b.get(k), f"{where}.{k}" if where else str(k), out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _json_diff(x, y, f"{where}[{i}]", out)
    elif a != b:
        out.append(field_diff(where or "(document)", a, b))
