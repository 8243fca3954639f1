"""Local artifacts against a release's published SHA256SUMS.

For each published artifact: the same bytes, missing, or different; for a
different disk image, whether only its encoding differs: the expanded disk
hashes to the published build manifest's ``expanded_sha256`` (the
compressor's implementation or version moved, not the content), in which
case both sides' codec implementations are named from the manifests.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReprodmgError
from ..jsonfile import read_sha256sums, sha256_file

SAME, MISSING, DIFFERENT, ENCODING_ONLY = "same", "missing", "different", "encoding only"
# Exit codes of `reprodmg verify --against`.
EXIT_SAME, EXIT_DIFFERENT, EXIT_ENCODING_ONLY = 0, 1, 3


@dataclass
class ArtifactCheck:
    name: str
    status: str
    published: str
    local: str | None = None
    detail: str = ""


@dataclass
class PublishedReport:
    sums: str
    folder: str
    artifacts: list[ArtifactCheck] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        states = {a.status for a in self.artifacts}
        if states <= {SAME}:
            return EXIT_SAME
        if states <= {SAME, ENCODING_ONLY}:
            return EXIT_ENCODING_ONLY
        return EXIT_DIFFERENT

    def to_json(self) -> dict:
        return {"sums": self.sums, "folder": self.folder, "exit_code": self.exit_code,
                "artifacts": [a.__dict__ for a in self.artifacts]}


def _manifest_image(path: Path, name: str) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data["images"][name]["udif"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _expanded_sha256(dmg: Path) -> str:
    from ..udif import open_udif
    h = hashlib.sha256()
    with open_udif(dmg) as image:
        source = image.disk_source()
        offset = 0
        while offset < source.size:
            piece = source.read(offset, min(8 << 20, source.size - offset))
            if not piece:
                break
            h.update(piece)
            offset += len(piece)
    return h.hexdigest()


def _codecs(udif: dict | None) -> str:
    if not udif:
        return "unknown (no build manifest)"
    return ", ".join(f"{name}: {c.get('implementation')} {c.get('version')}"
                     for name, c in sorted((udif.get("codecs") or {}).items())) or "none"


def check_against(sums: str | os.PathLike, folder: str | os.PathLike = ".") -> PublishedReport:
    sums_path, local_dir = Path(sums), Path(folder)
    published = read_sha256sums(sums_path)
    published_manifest = sums_path.parent / "build-manifest.json"
    local_manifest = local_dir / "build-manifest.json"
    report = PublishedReport(os.fspath(sums_path), os.fspath(local_dir))
    for name, digest in sorted(published.items()):
        path = local_dir / name
        if not path.is_file():
            report.artifacts.append(ArtifactCheck(name, MISSING, digest,
                                                  detail=f"no {name} in {local_dir}"))
            continue
        local = sha256_file(path)
        if local == digest:
            report.artifacts.append(ArtifactCheck(name, SAME, digest, local))
            continue
        check = ArtifactCheck(name, DIFFERENT, digest, local)
        theirs = _manifest_image(published_manifest, name) if name.endswith(".dmg") else None
        if theirs and theirs.get("expanded_sha256"):
            try:
                expanded = _expanded_sha256(path)
            except ReprodmgError as exc:
                check.detail = f"cannot read the local image: {exc}"
            else:
                ours = _manifest_image(local_manifest, name)
                if expanded == theirs["expanded_sha256"]:
                    check.status = ENCODING_ONLY
                    check.detail = ("only the compressed bytes differ: the expanded volume is "
                                    f"identical (sha256 {expanded}); codecs: published "
                                    f"{_codecs(theirs)}; local {_codecs(ours)}")
                else:
                    check.detail = ("the expanded volume differs too (run `reprodmg dmg diff` "
                                    "against the published image to see where)")
        report.artifacts.append(check)
    return report


def format_report(report: PublishedReport) -> str:
    lines = []
    for a in report.artifacts:
        line = f"{a.name}: {a.status}"
        if a.detail:
            line += f": {a.detail}"
        lines.append(line)
    return "\n".join(lines) + "\n"
